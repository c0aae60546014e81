"""What `rounds` counts is the protocol's to say: in `debate protocols`, `--help` and the report."""

import re

import pytest
from typer.testing import CliRunner

from debate.analysis.metrics import Summary
from debate.analysis.report import markdown_report
from debate.cli import app
from debate.protocols import PROTOCOLS, DebateProtocol

runner = CliRunner()
DATA = "experiments/data/arithmetic.jsonl"
WITH_ROUNDS = [name for name in PROTOCOLS.names()
               if "rounds" in PROTOCOLS.lookup(name).config_class.model_fields]


def test_the_builtin_protocols_with_rounds_are_all_checked():
    """The list below is not empty by accident: every protocol that debates has rounds."""
    assert {"du", "du-sparse", "mad", "reconcile", "critique-refine", "self-refine", "sr-dcr",
            "debate-qa", "consultancy"} <= set(WITH_ROUNDS)


@pytest.mark.parametrize("name", WITH_ROUNDS)
def test_every_builtin_protocol_with_rounds_says_what_round_0_is(name):
    """Before, `rounds` meant "after the initial answers" in du and "in all" in MAD, said
    nowhere; now each protocol's rounds_meaning says what it counts and what round 0 is."""
    meaning = PROTOCOLS.lookup(name).rounds_meaning
    assert "round 0 is" in meaning and len(meaning) < 200


def test_protocols_whose_rounds_count_differently_say_so():
    """MAD and the speech protocols count every round (rounds: R gives 0 to R-1), du does not."""
    assert PROTOCOLS.lookup("du").rounds_meaning == DebateProtocol.rounds_meaning
    for name in ("mad", "debate-qa", "consultancy"):
        assert "rounds: R gives rounds 0 to R-1" in PROTOCOLS.lookup(name).rounds_meaning


def test_debate_protocols_name_shows_what_rounds_counts():
    """`debate protocols mad` ends with a line saying what its rounds count."""
    result = runner.invoke(app, ["protocols", "mad"], env={"COLUMNS": "400"})
    assert result.exit_code == 0
    assert f"rounds counts: {PROTOCOLS.lookup('mad').rounds_meaning}" in result.output
    single = runner.invoke(app, ["protocols", "single"], env={"COLUMNS": "400"})
    assert "rounds counts" not in single.output  # no rounds option, no line


def test_rounds_help_says_the_meaning_depends_on_the_protocol():
    """Before, --rounds said "debate rounds after the initial answers" for every protocol."""
    result = runner.invoke(app, ["run", "--help"], env={"COLUMNS": "400"})
    text = " ".join(re.sub(r"[│╭╮╰╯─]", " ", result.output).split())
    assert "What it counts depends on the protocol" in text
    assert "`debate protocols NAME` says" in text


def test_the_run_report_states_the_rounds_and_what_they_count(tmp_path):
    """The report's protocol line reads `du; rounds: 1 (debate rounds after ...)`."""
    result = runner.invoke(app, ["run", "--dataset", DATA, "--model", "scripted:first-number",
                                 "--limit", "1", "--rounds", "1", "--out", str(tmp_path),
                                 "--name", "r", "--no-progress"])
    assert result.exit_code == 0, result.output
    report = (tmp_path / "r" / "report.md").read_text()
    assert f"| protocol | du; rounds: 1 ({DebateProtocol.rounds_meaning}) |" in report


def test_a_summary_without_a_run_folder_shows_the_protocol_alone():
    """Traces summarized without a run folder have no recorded rounds: the name alone."""
    assert "| protocol | mad |" in markdown_report(Summary(protocol="mad"))
