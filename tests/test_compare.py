"""`debate compare` over several runs and `debate report`'s plot, against values by hand."""

import re
import xml.etree.ElementTree as ET

import pytest
from rich.console import Console
from typer.testing import CliRunner

from debate import ExperimentConfig, arun_experiment
from debate.analysis.compare import holm, run_names, runs_table
from debate.analysis.metrics import Summary
from debate.cli import app

NS = {"s": "http://www.w3.org/2000/svg"}
DATA = {"path": "experiments/data/arithmetic.jsonl", "task": "numeric"}
# the first 4 questions' gold answers: 55, 64, 74, 89


async def three_runs(root):
    """a: single, the first number of each question (15, 6, 8, 8): 0/4, 1 call a debate;
    b: single, always 55: right on arith-00 only, 1/4, 1 call a debate;
    c: du with 3 agents and 1 round, always 64: right on arith-01 only, 1/4, 6 calls."""
    for name, protocol, model, rounds in (("a", "single", "scripted:first-number", None),
                                          ("b", "single", "scripted:reply=\\boxed{55}", None),
                                          ("c", "du", "scripted:reply=\\boxed{64}", 1)):
        await arun_experiment(ExperimentConfig(protocol=protocol, models=[model], limit=4,
                                               rounds=rounds, dataset=DATA,
                                               output_dir=str(root), name=name), progress=False)
    return [str(root / name) for name in "abc"]


def flat(text):
    return re.sub(r"[│\s]+", " ", text)


async def test_compare_three_runs_table_paired_tests_and_plot(tmp_path, monkeypatch):
    runs = await three_runs(tmp_path / "runs")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["compare", *runs], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert max(map(len, result.output.splitlines())) <= 80
    text = flat(result.output)
    # run, protocol, models, accuracy, round-0 vote, calls, tokens, cost (scripted: $0), then
    # the 95% Wilson interval under the accuracy: 0 of 4 -> [0, 49.0%]; 1 of 4 -> centre
    # 0.3725, half-width 0.3269 -> [4.6, 69.9]
    assert re.search(r" a single scripted:first-number 0\.0% 0\.0% 4 \d+ \$0\.0000 "
                     r"\[0\.0–49\.0\] b single", text)
    assert re.search(r" b single scripted:reply=\\boxed\{55\} 25\.0% 25\.0% 4 \d+ \$0\.0000 "
                     r"\[4\.6–69\.9\] c du", text)
    assert re.search(r" c du scripted:reply=\\boxed\{64\} 25\.0% 25\.0% 24 ", text)  # 4 x 6
    # b and c against a: 4 common questions, 0% -> 25%, one discordant question each:
    # p = 2 * 1/2 = 1; Holm: 2 x 1 capped at 1
    assert "each run against a" in text
    assert re.search(r" b 4 0\.0% 25\.0% \+25\.0 0 / 1 1 1 ", text)
    assert re.search(r" c 4 0\.0% 25\.0% \+25\.0 0 / 1 1 1 ", text)
    assert "written to compare.svg" in text
    root = ET.parse(tmp_path / "compare.svg").getroot()  # the default: the current folder
    points = [c.find("s:title", NS).text for c in root.iterfind(".//s:circle", NS)]
    assert points == ["a: 1, 0%", "b: 1, 25%", "c: 6, 25%"]  # calls per debate, accuracy
    labels = [t.text for t in root.iterfind("s:text", NS)]
    assert {"a", "b", "c", "calls per debate (mean)"} <= set(labels)


async def test_compare_by_tokens_writes_where_asked(tmp_path):
    runs = await three_runs(tmp_path / "runs")
    plot = tmp_path / "plots" / "tokens.svg"
    result = CliRunner().invoke(app, ["compare", *runs[:2], "--x", "tokens", "--plot",
                                      str(plot)])
    assert result.exit_code == 0, result.output
    assert f"written to {plot}" in flat(result.output)
    # two runs: the paired comparison as before
    assert "paired comparison (exact McNemar test)" in result.output
    labels = [t.text for t in ET.parse(plot).getroot().iterfind("s:text", NS)]
    assert "tokens per debate (mean)" in labels


def test_compare_needs_two_runs_and_a_known_compute(tmp_path):
    one = CliRunner().invoke(app, ["compare", str(tmp_path)])
    assert one.exit_code == 2 and "two or more run folders" in one.output
    bad = CliRunner().invoke(app, ["compare", str(tmp_path), str(tmp_path), "--x", "dollars"])
    assert bad.exit_code == 2 and "use calls or tokens" in bad.output
    missing = CliRunner().invoke(app, ["compare", str(tmp_path / "x"), str(tmp_path / "y")])
    assert missing.exit_code == 2 and "no traces.jsonl" in missing.output


def test_the_runs_table_fits_80_columns_without_cutting_a_header():
    long = Summary(run="r", protocol="reconcile", models=["openai:gpt-4o-mini-2024-07-18",
                                                         "anthropic:claude-sonnet-4-5"],
                   debates=1000, scored=1000, correct=512, accuracy=0.512,
                   accuracy_interval=(0.481, 0.543), calls=123456, prompt_tokens=98765432,
                   completion_tokens=1234567, cost=123.4567)
    console = Console(width=80, record=True)
    console.print(runs_table(["a-rather-long-run-name-for-a-table", "b"], [long, Summary()]))
    text = console.export_text()
    assert max(map(len, text.splitlines())) <= 80 and "…" not in text
    header = " ".join(text.split("─")[0].split())
    for word in ("run", "protocol", "models", "accuracy", "[95% CI]", "round-0", "vote",
                 "calls", "tokens", "cost"):
        assert word in header
    assert "51.2%" in text and "[48.1–54.3]" in text and "$123.4567" in text
    assert "reconcile" in text and "99999999" in text  # short cells are never folded


def test_holm_by_hand():
    # p = 0.01, 0.04, 0.03 (m = 3): sorted 0.01 x 3 = 0.03; 0.03 x 2 = 0.06; 0.04 x 1 = 0.04,
    # raised to 0.06 (never below an earlier one)
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.6, 0.9]) == [1.0, 1.0] and holm([]) == []


def test_runs_are_named_by_their_folders_unless_two_share_a_name(tmp_path):
    assert run_names(["runs/du", "other/sc/traces.jsonl"]) == ["du", "sc"]
    assert run_names(["x/du", "y/du"]) == ["x/du", "y/du"]


async def test_report_rewrites_the_accuracy_plot(tmp_path):
    await arun_experiment(ExperimentConfig(protocol="single", models=["scripted:first-number"],
                                           limit=2, dataset=DATA, output_dir=str(tmp_path),
                                           name="r"), progress=False)
    plot = tmp_path / "r" / "accuracy.svg"
    plot.unlink()
    result = CliRunner().invoke(app, ["report", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    # single: one round, both answers wrong (15, 6): majority and mean agent 0% at round 0
    titles = [c.find("s:title", NS).text for c in ET.parse(plot).getroot().iterfind(
        ".//s:circle", NS)]
    assert titles == ["majority vote: 0, 0%", "mean agent: 0, 0%"]
