"""The 2025-26 protocols side by side: each runs on the bundled data and `debate compare`
tests every one against du and self-consistency in one table."""

import json

from typer.testing import CliRunner

from debate.cli import app

runner = CliRunner()
DATA = "experiments/data/arithmetic.jsonl"

RUNS = {  # run name -> debate run arguments (besides the data set and the model)
    "du": ["--protocol", "du"],
    "self-consistency": ["--protocol", "self-consistency"],
    "du-sparse": ["experiments/du-sparse-arithmetic.yaml"],
    "ranked-voting": ["--protocol", "du", "--option", "decision=ranked-voting"],
    "supermajority": ["--protocol", "du", "--option", "decision=supermajority-consensus"],
    "judge": ["--protocol", "du", "--option", "decision=judge"],
}


def test_debate_compare_tests_every_2025_protocol_against_du_and_self_consistency(tmp_path):
    folders = []
    for name, args in RUNS.items():
        spec, rest = (args[:1], args[1:]) if args[0].endswith(".yaml") else ([], args)
        result = runner.invoke(app, [
            "run", *spec, "--dataset", DATA, "--task", "numeric", *rest,
            "--model", "scripted:first-number", "--limit", "4", "--out", str(tmp_path),
            "--name", name, "--no-progress"])
        assert result.exit_code == 0, (name, result.output)
        folders.append(str(tmp_path / name))
    result = runner.invoke(app, ["compare", *folders, "--json", "--plot",
                                 str(tmp_path / "compare.svg")])
    assert result.exit_code == 0, result.output
    compared = json.loads(result.output)
    assert [run["name"] for run in compared["runs"]] == list(RUNS)
    assert all(run["summary"]["debates"] == 4 for run in compared["runs"])
    assert (tmp_path / "compare.svg").exists()
