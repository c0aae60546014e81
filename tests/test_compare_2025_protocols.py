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
    "collective-improvement": ["experiments/collective-improvement-arithmetic.yaml",
                               "--option", "turns=3"],
    "all-agents-drafting": ["experiments/all-agents-drafting-arithmetic.yaml",
                            "--option", "turns=3"],
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
    protocols = [run["summary"]["protocol"] for run in compared["runs"]]
    assert protocols == ["du", "self-consistency", "du-sparse", "du", "du", "du",
                         "collective-improvement", "all-agents-drafting"]
    # each run is tested against the first (du) on the same 4 questions, Holm-corrected
    assert [p["run"] for p in compared["paired"]] == list(RUNS)[1:]
    assert all(p["first"] == "du" and p["questions"] == 4 and 0 <= p["p_holm"] <= 1
               for p in compared["paired"])
    assert (tmp_path / "compare.svg").exists()
