"""An export says what it left out and why; cut-off replies are no training targets.

Every drop (a fallback-parsed answer, a reply cut at the token limit, a debate
without gold, a prompt where every answer agrees, a filter...) has a named reason
and is counted: ``export`` returns the counts with the rows, ``debate export``
prints them, refuses (exit 2) to write an export with no row, and the dataset card
lists them with every option and each source run's identity.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from debate.agents import Debater
from debate.cli.main import app
from debate.export import DROP_REASONS, examples, export
from debate.protocols import DuProtocol
from debate.testing import ScriptedModel
from debate.trace import DebateTrace, Question, TraceWriter

runner = CliRunner()
R, W, GUESS = "right \\boxed{12}", "wrong \\boxed{13}", "I get 13"
CUT = "2 + 2 = 4. This is the definition of"


async def du_trace(replies: list[list[str]], qid: str = "q1", gold: str | None = "12",
                   cut: tuple[int, ...] = ()) -> DebateTrace:
    """A du debate whose agent i replies replies[i][r] in round r; turns ``cut`` hit the limit."""
    q = Question(id=qid, text=f"What is 3 * 4? ({qid})", task="numeric", gold=gold)
    agents = [Debater(f"agent-{i}", ScriptedModel(list(r), name=f"m{i}"))
              for i, r in enumerate(replies)]
    trace = await DuProtocol(agents=len(replies), rounds=len(replies[0]) - 1).run(q, agents)
    for index in cut:
        trace.turns[index].finish_reason = "length"
    return trace


async def make_run(folder: Path, traces: list[DebateTrace], failed: dict[str, str] | None = None
                   ) -> Path:
    """A run folder as `debate run` leaves it: traces, config.json with identity, summary."""
    with TraceWriter(folder / "traces.jsonl") as writer:
        for trace in traces:
            writer.write(trace)
    (folder / "config.json").write_text(json.dumps({"identity": "0123abcd", "config": {}}))
    (folder / "summary.json").write_text(json.dumps({"failed": failed or {}}))
    return folder


def cli_export(*args: str | Path):
    """`debate export ARGS` (JSONL only)."""
    return runner.invoke(app, ["export", *map(str, args), "--writer", "jsonl"])


async def test_export_returns_its_rows_with_the_drops_by_reason():
    """Before: rows only, no word on what was left out. Now: ``rows.drops`` counts each reason."""
    guessed = await du_trace([[R], [GUESS], [GUESS]], qid="a")
    no_gold = await du_trace([[R], [W]], qid="b", gold=None)
    agreeing = await du_trace([[R], [R]], qid="c")
    rows = export([guessed, no_gold, agreeing], "gold", "dpo")
    assert rows == []
    assert dict(rows.drops) == {"fallback-parsed": 2, "no-gold": 1, "no-disagreement": 2}
    assert rows.drops.describe() == ("2 fallback-parsed answers, 2 no-disagreement groups, "
                                     "1 no-gold debate")


async def test_replies_cut_at_the_token_limit_become_no_target_unless_allowed():
    """Before: a text cut at max_tokens was a chosen reply. Now: dropped as ``truncated``."""
    trace = await du_trace([[R], [CUT + " \\boxed{12}"], [W]], cut=(1,))
    rows = export([trace], "gold", "dpo-standard")
    assert [(r["chosen"], r["rejected"]) for r in rows] == [(R, W)]
    assert rows.drops["truncated"] == 1
    allowed = export([trace], "gold", "dpo-standard", options={"allow_truncated": True})
    assert len(allowed) == 2 and "truncated" not in allowed.drops


async def test_a_cut_off_reply_decides_no_label_in_any_strategy():
    """Before: sft kept cut-off final answers. Now: sft, revision, judge leave them out too."""
    trace = await du_trace([[R, R], [W, CUT + " \\boxed{12}"]], cut=(3,))
    sft = examples([trace], "sft")
    assert [e.completion for e in sft] == [R]
    revision = export([trace], "revision", "kto")
    assert revision == [] and revision.drops["truncated"] == 1
    assert len(examples([trace], "revision", options={"allow_truncated": True})) == 1


async def test_each_strategy_names_why_a_debate_gave_nothing():
    """Before: strategies skipped debates silently. Now: each skip has a named reason."""
    one_round = await du_trace([[R], [W]])
    tie = await du_trace([[R], [W]], gold=None)
    wrong = await du_trace([[W], [W]])
    assert export([one_round], "revision", "kto").drops == {"one-round": 1}
    assert export([tie], "consensus", "dpo").drops == {"no-consensus": 1}
    assert export([wrong], "sft", "sft").drops == {"wrong-final": 1}
    assert export([one_round], "judge", "dpo").drops == {"not-judged": 1}
    assert export([one_round], "judge-preference", "dpo").drops == {"not-self-play": 1}


async def test_filters_count_what_they_leave_out():
    """Before: filters shrank the rows silently. Now: each filter's drops are counted."""
    traces = [await du_trace([[R], [W], [W + " really"]], qid=f"q{i}") for i in range(3)]
    assert len(export(traces, "gold", "dpo")) == 6  # two wrong replies per question
    too_long = export(traces, "gold", "dpo", filters={"max_length": len(R)})
    assert len(too_long) == 3 and too_long.drops == {"too-long": 3}
    too_short = export(traces, "gold", "dpo", filters={"min_length": len(R) + 1})
    assert too_short == [] and too_short.drops == {"too-short": 6}
    capped = export(traces, "gold", "dpo", filters={"max_per_question": 1})
    assert len(capped) == 3 and capped.drops == {"over-cap": 3}
    assert export([traces[0], traces[0]], "gold", "dpo").drops == {"duplicate": 2}


def test_every_reason_a_drop_names_is_documented():
    """Before: no reasons. Now: every ``drop("...")`` in debate/export is in DROP_REASONS."""
    root = Path(__file__).parent.parent / "debate" / "export"
    named = {m for f in root.glob("*.py")
             for m in re.findall(r'drop\("([a-z-]+)"', f.read_text(encoding="utf-8"))}
    assert named and named <= set(DROP_REASONS), named - set(DROP_REASONS)


async def test_an_export_with_no_row_writes_nothing_and_exits_2_saying_why(tmp_path):
    """Before: "10 debates -> 0 rows", exit 0, no reason. Now: exit 2, the drops, no folder."""
    traces = [await du_trace([[R], [GUESS]], qid=f"q{i}") for i in range(10)]
    run = await make_run(tmp_path / "run", traces)
    out = tmp_path / "out"
    result = cli_export(run, "--out", out, "-s", "gold")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    line = result.output.strip()
    assert line.startswith("error: 10 debates -> 0 rows (dpo), nothing written")
    assert "10 fallback-parsed answers" in line and "--allow-fallback" in line
    assert len(line.splitlines()) == 1 and not out.exists()
    allowed = cli_export(run, "--out", out, "-s", "gold", "--allow-fallback")
    assert allowed.exit_code == 0, allowed.output
    assert "10 debates -> 10 rows (dpo)" in allowed.output


async def test_the_cli_prints_the_drops_and_counts_failed_debates(tmp_path):
    """Before: a failed debate and a cut reply vanished unsaid. Now: both are printed."""
    traces = [await du_trace([[R], [W], [CUT + " \\boxed{13}"]], qid="q1", cut=(2,)),
              await du_trace([[R], [W]], qid="q2")]
    run = await make_run(tmp_path / "run", traces, failed={"q3": "timeout"})
    result = cli_export(run, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "2 debates -> 2 rows (dpo)" in result.output
    assert "dropped: 1 failed-debate debate, 1 truncated reply" in result.output
    kept = cli_export(run, "--out", tmp_path / "all", "--allow-truncated")
    assert "2 debates -> 3 rows (dpo)" in kept.output, kept.output


async def test_the_dataset_card_says_what_rows_mean_the_options_sources_and_drops(tmp_path):
    """Before: format, strategy and sources only. Now: meaning, every option, identities, drops."""
    traces = [await du_trace([[R], [W], [GUESS]], qid=f"q{i}") for i in range(4)]
    run = await make_run(tmp_path / "run", traces)
    out = tmp_path / "out"
    result = cli_export(run, "--out", out, "--split", "0.5,0.5", "--seed", "7",
                        "--min-length", "3", "--allow-truncated")
    assert result.exit_code == 0, result.output
    card = (out / "README.md").read_text()
    assert "`gold`: chosen: a reply whose answer matches the gold answer" in card
    for option in ("| allow_fallback | `false` |", "| allow_truncated | `true` |",
                   "| min_length | `3` |", "| seed | `7` |", "| rounds | `[0]` |",
                   "| split | `0.5,0.5` (by question id) |", "| dedupe | `true` |"):
        assert option in card, option
    assert "`0123abcd`" in card and str(run / "traces.jsonl") in card
    assert "| fallback-parsed | 4 | answer |" in card
    manifest = json.loads((out / "debatelab-export.json").read_text())
    assert manifest["dropped"] == {"fallback-parsed": 4}
    assert manifest["identities"] == {str(run / "traces.jsonl"): "0123abcd"}


async def test_cut_off_votes_decide_no_label_in_sft_or_judge():
    """Found in review: sft's consensus without gold and the judge's own verdict still
    counted replies cut at the token limit; now neither decides a label unless allowed."""
    from debate.agents import JudgeAgent

    # no gold; round 1's majority (7) rests on two cut-off replies, the whole one says 5
    trace = await du_trace([["\\boxed{5}", "\\boxed{7}"], ["\\boxed{7}", "\\boxed{7}"],
                            ["\\boxed{7}", "\\boxed{5}"]], gold=None, cut=(3, 4))
    assert trace.final.answer == "7"
    rows = export([trace], "sft", "sft")
    assert rows == [] and rows.drops["unlabelled-consensus"] == 1
    assert export([trace], "sft", "sft", options={"allow_truncated": True})
    q = Question(id="j", text="What is 3 * 4?", task="numeric", gold="12")
    agents = [Debater(f"agent-{i}", ScriptedModel([reply])) for i, reply in enumerate((R, W))]
    judge = JudgeAgent("judge", ScriptedModel('{"choice": 1, "rationale": "it is'))
    judged = await DuProtocol(agents=2, rounds=0, judge="llm").run(q, [*agents, judge])
    vote = next(t for t in judged.turns if t.agent == "judge")
    assert export([judged], "judge", "dpo")  # a whole verdict labels the pair
    vote.finish_reason = "length"
    rows = export([judged], "judge", "dpo")
    assert rows == [] and rows.drops["truncated"] == 1
