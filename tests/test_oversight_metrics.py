"""Oversight metrics (issue 14) against values worked out by hand, on scripted debates.

Each scenario runs ``debate-qa``, ``consultancy`` or ``blind-judge`` with scripted
speakers and judges whose replies depend only on what the prompt shows (which answer
is A, which answer a speaker defends), so every number below follows from the script;
the arithmetic is in the comments.
"""

from __future__ import annotations

import json
import re

import pytest
from rich.console import Console
from typer.testing import CliRunner

from debate.agents.oversight import first_correct_seat
from debate.analysis.compare import judge_table
from debate.analysis.metrics import Summary, summarize
from debate.analysis.oversight_metrics import oversight_stats
from debate.analysis.report import markdown_report, print_summary
from debate.cli import app
from debate.experiment.runner import run_debate
from debate.models.types import Message, SamplingParams
from debate.testing import ScriptedModel
from debate.trace import DebateTrace, Question

PASSAGE = ("Mira baked the bread at dawn, before the bell rang. Tomas carried the loaves to "
           "the market and sold them by noon.")


def question(qid: str, text: str, gold: str, distractor: str) -> Question:
    return Question(id=qid, text=text, task="exact", gold=gold.lower(), gold_text=gold,
                    context=PASSAGE, metadata={"distractor": distractor})


Q1 = question("q1", "Who baked the bread?", "Mira", "Tomas")
Q2 = question("q2", "Who sold the loaves?", "Tomas", "Mira")
Q3 = question("q3", "When was the bread baked?", "At dawn", "At noon")
GOLD = {q.text: q.gold_text for q in (Q1, Q2, Q3)}
TRUE_QUOTES = "<quote>Mira baked the bread</quote> and <quote>sold them by noon</quote>"
ONE_TRUE = ("<quote>Mira baked the bread</quote>, <quote>Tomas baked it</quote>, "
            "<quote>the bell rang at noon</quote>")


def _field(pattern: str, text: str) -> str:
    found = re.search(pattern, text)
    assert found, f"{pattern!r} not in the prompt: {text[:300]}"
    return found.group(1).strip()


def shown(messages: list[Message]) -> tuple[str, str, str]:
    """The question, answer A and answer B, as the judge's (or a speaker's) prompt shows them."""
    text = "\n".join(m.content for m in messages)
    return (_field(r"Question: (.*)", text), _field(r"Answer A: (.*)", text),
            _field(r"Answer B: (.*)", text))


def defends(messages: list[Message]) -> tuple[str, str]:
    """The seat and answer a speaker argues for (its system prompt)."""
    line = _field(r"You argue that the answer is: (.*)", messages[0].content)
    consultant = re.fullmatch(r"(.*) \(answer ([AB])\)", line)
    if consultant:
        return consultant.group(2), consultant.group(1)
    return _field(r"You are debater ([AB])", messages[0].content), line


def speaker(messages: list[Message], params: SamplingParams) -> str:
    """Quotes the passage truly twice when defending the correct answer; otherwise once truly
    and twice falsely. A second candidate (best_of=2) quotes four invented lines, so a
    sample that were counted would change the quote rates."""
    if params.sampler.endswith("#s1"):
        return "<quote>invented</quote>" * 4
    seat, answer = defends(messages)
    right = answer == GOLD[shown(messages)[0]]
    return f"I defend answer {seat}. " + (TRUE_QUOTES if right else ONE_TRUE)


def debate_judge(messages: list[Message], params: SamplingParams) -> str:
    """q1: always 0.8 on A (pure position bias). q2: unreadable when A is the correct
    answer, a 0.5/0.5 tie otherwise. q3: 0.9 on the correct answer."""
    text, a, _ = shown(messages)
    if text == Q1.text:
        return 'A, I think. {"A": 0.8, "B": 0.2}'
    if text == Q2.text:
        return "I cannot tell." if a == GOLD[text] else '{"A": 0.5, "B": 0.5}'
    return '{"A": 0.9, "B": 0.1}' if a == GOLD[text] else '{"A": 0.1, "B": 0.9}'


async def debates(**options: object) -> list[DebateTrace]:
    models = {"debater-a": ScriptedModel(speaker, name="alpha"),
              "debater-b": ScriptedModel(speaker, name="beta"),
              "judge": ScriptedModel(debate_judge, name="judge")}
    return [await run_debate(q, protocol="debate-qa", models=models, rounds=1,
                             judge_format="probabilities", **options)
            for q in (Q1, Q2, Q3)]


# Hand-worked for the three debates (both orders: each question's correct answer is shown
# once as A and once as B; debater-a, model alpha, always defends A; beta defends B):
#   q1 correct A: 0.8 on A -> p(correct) 0.8, decides A: right (alpha, defending it, wins)
#   q1 correct B: 0.8 on A -> p(correct) 0.2, decides A: wrong (alpha, defending the wrong
#                 answer, wins)
#   q2 correct A: unreadable -> not read, no decision: not right, nobody wins
#   q2 correct B: 0.5/0.5 -> read, p(correct) 0.5, a tie: no decision, nobody wins
#   q3 correct A: 0.9 on A -> p 0.9, right (alpha wins); q3 correct B: 0.9 on B -> p 0.9,
#                 right (beta wins)


async def test_judge_accuracy_unparsed_ties_seat_bias_side_and_model_wins_and_quotes():
    stats = oversight_stats(await debates(best_of=2, best_of_judge="probabilities"))
    assert stats is not None
    assert stats.protocols == ["debate-qa"] and stats.debates == 3
    # 6 final verdicts (2 per question; the 2 x 2 x 2 probes per debate are not judgments):
    # 5 read, q2's unreadable one not, q2's 0.5/0.5 a tie
    assert (stats.judgments, stats.read, stats.unparsed, stats.ties) == (6, 5, 1, 1)
    # right: q1 correct-A, q3 both -> 3/6; the unreadable and the tie count as not right
    assert (stats.accuracy.hits, stats.accuracy.total, stats.accuracy.rate) == (3, 6, 0.5)
    # mean over the 5 read: (0.8 + 0.2 + 0.5 + 0.9 + 0.9) / 5 = 3.3 / 5 = 0.66
    assert stats.p_correct == pytest.approx(0.66)
    # correct answer shown as A: q1 right, q2 unreadable, q3 right -> 2/3;
    # as B: q1 wrong, q2 tie, q3 right -> 1/3 (the judge favours A)
    seats = {label: (r.hits, r.total) for label, r in stats.seat_accuracy.items()}
    assert seats == {"A": (2, 3), "B": (1, 3)}
    # correct side wins where the judge was right: 3/6; the incorrect side wins once
    # (q1 correct-B, decided A): 1/6
    assert (stats.wins.correct.hits, stats.wins.correct.total) == (3, 6)
    assert (stats.wins.incorrect.hits, stats.wins.incorrect.total) == (1, 6)
    # alpha (seat A) right in the 3 correct-A orders: wins q1, q3 -> 2/3; wrong in the 3
    # correct-B orders: wins q1 -> 1/3. beta (seat B) right in the correct-B orders: wins q3
    # -> 1/3; wrong in the correct-A orders: wins none -> 0/3
    wins = {model: (w.correct.hits, w.correct.total, w.incorrect.hits, w.incorrect.total)
            for model, w in stats.model_wins.items()}
    assert wins == {"scripted:alpha": (2, 3, 1, 3), "scripted:beta": (1, 3, 0, 3)}
    # quotes of the 12 main-line speeches (rounds=1, 6 orders x 2 speakers; the second
    # samples' invented quotes are not counted): the 6 correct-side speeches quote 2, both
    # found -> 12/12; the 6 incorrect-side speeches quote 3, one found -> 6/18; all 18/30
    assert (stats.side_quotes.correct.hits, stats.side_quotes.correct.total) == (12, 12)
    assert (stats.side_quotes.incorrect.hits, stats.side_quotes.incorrect.total) == (6, 18)
    assert (stats.quotes.hits, stats.quotes.total, stats.quotes.rate) == (18, 30, 0.6)
    assert stats.confidence == [] and stats.both_confident.total == 0  # none was asked


async def test_the_summary_json_and_the_report_show_the_judge():
    summary = summarize(await debates())
    assert summary.oversight is not None and summary.oversight.judgments == 6
    # summary.json carries it, rates included, and reads back the same
    data = json.loads(summary.model_dump_json())
    assert data["oversight"]["accuracy"] == {"hits": 3, "total": 6, "rate": 0.5}
    assert Summary.model_validate_json(summary.model_dump_json()) == summary
    report = markdown_report(summary)
    assert "## Per round" not in report and "## Per agent" not in report  # no answer rounds
    judge = report.split("## Judge")[1].split("## Definitions")[0]
    # the numbers of the test above, as a person reads them
    assert "| judgments | 6 (5 read, 1 unparsed, 1 tied) |" in judge
    assert "| judge accuracy | 3/6 (50.0%) |" in judge
    assert "| mean p(correct) | 66.0% (over 5 read) |" in judge
    assert "| accuracy when correct is A / B | 2/3 (66.7%) / 1/3 (33.3%) |" in judge
    assert "| correct / incorrect side wins | 3/6 (50.0%) / 1/6 (16.7%) |" in judge
    assert ("| quotes verified | 18/30 (60.0%); correct side 12/12 (100.0%), incorrect side "
            "6/18 (33.3%) |") in judge
    assert "| scripted:alpha | 2/3 (66.7%) | 1/3 (33.3%) |" in judge
    assert "| scripted:beta | 1/3 (33.3%) | 0/3 (0.0%) |" in judge
    assert "**judge accuracy**" in report and "**quotes verified**" in report
    console = Console(record=True, width=200)
    print_summary(summary, console)
    text = console.export_text()
    assert "judge accuracy" in text and "3/6 (50.0%)" in text and "scripted:beta" in text


async def test_other_protocols_have_no_oversight_stats_and_are_not_counted():
    du = await run_debate(Q1, protocol="du", models=ScriptedModel("Answer: Mira"), rounds=0)
    assert summarize([du]).oversight is None and oversight_stats([du]) is None
    assert "## Judge" not in markdown_report(summarize([du]))
    assert "## Per round" in markdown_report(summarize([du]))
    traces = await debates()
    assert summarize([du, *traces]).oversight == summarize(traces).oversight


def confident(messages: list[Message], params: SamplingParams) -> str:
    """After round 0: 90 when defending the correct answer, 75 when not. After round 1:
    95 when right; when wrong, 74 from seat A and an unreadable reply from seat B."""
    last = messages[-1].content
    if "probability, from 0 to 100" not in last:
        return speaker(messages, params)
    seat, answer = defends(messages)
    right = answer == GOLD[shown(messages)[0]]
    speeches = sum(m.role == "assistant" for m in messages)  # one per round so far
    if speeches == 1:
        return "90" if right else "75"
    if right:
        return "95"
    return "74" if seat == "A" else "no idea"


async def test_private_confidence_per_round_and_both_think_they_will_win():
    models = {"debater-a": ScriptedModel(confident, name="alpha"),
              "debater-b": ScriptedModel(confident, name="beta"),
              "judge": ScriptedModel(debate_judge, name="judge")}
    trace = await run_debate(Q1, protocol="debate-qa", models=models, rounds=2,
                             private_confidence=True, judge_format="probabilities")
    stats = oversight_stats([trace])
    assert stats is not None
    # round 0: the correct side 0.9 in both orders (mean 0.9), the incorrect side 0.75
    # round 1: correct 0.95 twice; incorrect: 0.74 (seat A, one order) and unreadable
    #          (seat B, the other order): mean 0.74 over 1 read, 1 unparsed
    by_round = [(c.round, c.correct, c.incorrect, c.stated, c.unparsed) for c in stats.confidence]
    assert by_round == [(0, 0.9, 0.75, 4, 0), (1, 0.95, 0.74, 3, 1)]
    # (order, round) points: round 0 in both orders 0.9 & 0.75 -> both >= 0.75 (the bound
    # counts); round 1: 0.95 & 0.74 -> no, 0.95 & unreadable -> no. 2 of 4
    assert (stats.both_confident.hits, stats.both_confident.total) == (2, 4)
    report = markdown_report(summarize([trace]))
    # per debate (the paper's figure), at the last round: neither order has both >= 0.75
    assert (stats.both_confident_debates.hits, stats.both_confident_debates.total) == (0, 2)
    assert ("| both ≥ 75% confident | 0/2 (0.0%) debates (at their last round); 2/4 (50.0%) "
            "(order, round) points |") in report
    assert "| 1 | 95.0% | 74.0% | 3 | 1 |" in report


def consultant(messages: list[Message], params: SamplingParams) -> str:
    """Argues for its seat; privately 85 when defending the correct answer, 60 when not."""
    if "probability, from 0 to 100" in messages[-1].content:
        seat, answer = defends(messages)
        return "85" if answer == GOLD[shown(messages)[0]] else "60"
    return speaker(messages, params)


def gullible(messages: list[Message], params: SamplingParams) -> str:
    """Puts 0.8 on the answer the consultant says it defends (0.6 on A when blind)."""
    found = re.search(r"I defend answer ([AB])", messages[-1].content)
    if found is None:
        return '{"A": 0.6, "B": 0.4}'
    return '{"A": 0.8, "B": 0.2}' if found.group(1) == "A" else '{"A": 0.2, "B": 0.8}'


async def consultancy() -> DebateTrace:
    models = {"consultant": ScriptedModel(consultant, name="alpha"),
              "judge": ScriptedModel(gullible, name="judge")}
    return await run_debate(Q1, protocol="consultancy", models=models, rounds=1,
                            private_confidence=True, judge_format="probabilities")


async def test_consultancy_wins_when_right_and_when_wrong():
    # premise: the draws put Mira (the correct answer) at B in order 0 (at A in order 1),
    # and make the consultant defend the wrong answer first: it sits at A both times,
    # defending Tomas (order 0), then Mira (order 1)
    assert (first_correct_seat(Q1, 0), first_correct_seat(Q1, 1)) == ("B", "B")
    stats = oversight_stats([await consultancy()])
    assert stats is not None
    # order 0: it defends A (wrong), the judge puts 0.8 on A: p(correct) 0.2, wrong, the
    # consultant wins; order 1: it defends A (right), 0.8 on A: right, the consultant wins
    assert (stats.judgments, stats.read, stats.accuracy.hits, stats.accuracy.total) == (2, 2, 1, 2)
    assert stats.p_correct == pytest.approx(0.5)  # (0.2 + 0.8) / 2
    # the correct answer was B once (judged wrong) and A once (judged right)
    assert (stats.seat_accuracy["B"].hits, stats.seat_accuracy["B"].total) == (0, 1)
    assert (stats.seat_accuracy["A"].hits, stats.seat_accuracy["A"].total) == (1, 1)
    assert (stats.wins.correct.hits, stats.wins.correct.total) == (1, 1)  # when right
    assert (stats.wins.incorrect.hits, stats.wins.incorrect.total) == (1, 1)  # when wrong
    # quotes: the right speech 2 of 2 found, the wrong one 1 of 3: 3/5
    assert (stats.quotes.hits, stats.quotes.total) == (3, 5)
    # one speaker: a mean per side, no pairs for "both confident"
    assert [(c.correct, c.incorrect) for c in stats.confidence] == [(0.85, 0.6)]
    assert stats.both_confident.total == 0 and stats.both_confident.rate is None


async def blind() -> DebateTrace:
    return await run_debate(Q1, protocol="blind-judge", judge_format="probabilities",
                            models={"judge": ScriptedModel(gullible, name="judge")})


async def test_blind_judge_has_no_speakers():
    stats = oversight_stats([await blind()])
    assert stats is not None
    # 0.6 on A in both orders: right when the correct answer is A (p 0.6), wrong when it
    # is B (p 0.4): 1/2, mean p(correct) 0.5; no speakers, no quotes
    assert (stats.judgments, stats.accuracy.hits, stats.accuracy.total) == (2, 1, 2)
    assert stats.p_correct == pytest.approx(0.5)
    assert stats.wins.correct.total == stats.wins.incorrect.total == stats.quotes.total == 0
    assert stats.model_wins == {}
    judge = markdown_report(summarize([await blind()])).split("## Judge")[1]
    assert "side wins |" not in judge.split("## Definitions")[0]


def write_run(folder, traces) -> str:
    folder.mkdir(parents=True)
    (folder / "traces.jsonl").write_text("".join(t.model_dump_json() + "\n" for t in traces))
    return str(folder)


async def test_compare_shows_debate_consultancy_and_blind_judge_side_by_side(tmp_path):
    du = await run_debate(Q1, protocol="du", models=ScriptedModel("Answer: Mira"), rounds=0)
    runs = [write_run(tmp_path / "debate", await debates()),
            write_run(tmp_path / "consult", [await consultancy()]),
            write_run(tmp_path / "blind", [await blind()]),
            write_run(tmp_path / "du", [du])]
    result = CliRunner().invoke(app, ["compare", *runs, "--plot", str(tmp_path / "c.svg")],
                                env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert max(map(len, result.output.splitlines())) <= 80
    judges = result.output.split("judges (oversight protocols)")[1].split("each run against")[0]
    rows = [" ".join(line.split()) for line in judges.splitlines() if line.strip()]
    # run, protocol, judgments, judge accuracy, mean p(correct), unparsed, correct side wins,
    # incorrect side wins, quotes verified (the tests above: debate 3/6, 0.66, 1 unparsed,
    # 3/6, 1/6, 18/30; consultancy 1/2, 0.5, 0, 1/1, 1/1, 3/5; blind 1/2, 0.5, no speakers)
    assert "debate debate-qa 6 50.0% 66.0% 1 50.0% 16.7% 60.0%" in rows
    assert "consult consultancy 2 50.0% 50.0% 0 100.0% 100.0% 60.0%" in rows
    assert "blind blind-judge 2 50.0% 50.0% 0 - - -" in rows
    assert not any(row.startswith("du ") for row in rows)  # no judge: not in this table
    assert judge_table(["du"], [summarize([du])]) is None
    # the runs table leads with each run's headline: judge accuracy for oversight runs
    runs_part = result.output.split("judges (oversight protocols)")[0]
    assert "50.0% judge" in runs_part and "du" in runs_part


def test_the_judge_accuracy_is_the_headline_of_an_oversight_run():
    """Issue 28 §7: an always-A judge, ten questions in both orders: each question's two
    verdicts average to a tie (wrong per question), while half the judgments are right.
    Before: the report led with "final accuracy 0.0%"; after: "judge accuracy 50.0%"
    first, the per-question aggregate second, each defined."""
    from debate.analysis.metrics import DEFINITIONS, Summary
    from debate.analysis.oversight_metrics import OVERSIGHT_DEFINITIONS, OversightStats, Rate
    from debate.analysis.report import _overview, markdown_report

    summary = Summary(debates=10, scored=10, correct=0, accuracy=0.0,
                      oversight=OversightStats(debates=10, judgments=20, read=20,
                                               accuracy=Rate(hits=10, total=20)))
    assert (summary.headline, summary.headline_accuracy) == ("judge accuracy", 0.5)
    labels = [label for label, _ in _overview(summary)]
    assert labels.index("judge accuracy") < labels.index("per-question accuracy")
    assert "final accuracy" not in labels
    assert dict(_overview(summary))["judge accuracy"].startswith("10/20 (50.0%) judgments")
    assert "per-question accuracy" in DEFINITIONS and "judge accuracy" in OVERSIGHT_DEFINITIONS
    assert "**per-question accuracy**" in markdown_report(summary)
    plain = Summary(scored=4, correct=3, accuracy=0.75)
    assert (plain.headline, plain.headline_accuracy) == ("final accuracy", 0.75)
    assert "final accuracy" in dict(_overview(plain))


async def test_an_always_a_judge_scores_half_its_judgments_and_no_question():
    """Issue 28 §7, on a run: the blind judge always answers A (the reference's format)."""
    from debate.analysis.metrics import summarize

    judge = ScriptedModel("<thinking>A it is.</thinking>\nAnswer: A", name="judge")
    summary = summarize([await run_debate(Q1, protocol="blind-judge", models={"judge": judge})])
    assert summary.headline == "judge accuracy"
    assert summary.headline_accuracy == 0.5  # one of the two orders has the correct at A
    assert summary.accuracy == 0.0  # per question: the two verdicts tie, a tie is wrong


@pytest.mark.parametrize(("fields", "behind"), [
    ({}, False),
    ({"sample": 0}, False),  # speech_samples traces: candidate 0 continued the debate
    ({"sample": 1}, True),
    ({"sample": 0, "candidate": 0}, True),  # best_of: a loser keeps its candidate index
    ({"candidate": 2}, False),  # best_of: the winner has no sample
    # speech_samples traces as written: every candidate rated at its point, no candidate key
    ({"order": 0, "seat": "A", "side": "correct", "sample": 0, "point": "o0/r1/A",
      "judge_p_own": 0.7}, False),
    ({"order": 0, "seat": "A", "side": "correct", "sample": 1, "point": "o0/r1/A",
      "judge_p_own": 0.4}, True),
])
def test_a_speech_left_behind_in_old_and_new_traces(fields, behind):
    """Found in review: traces written with speech_samples marked their main line sample 0,
    and the metrics dropped it (quotes 0/0, no wins)."""
    from debate.protocols.oversight_records import left_behind
    from debate.trace import Turn

    turn = Turn(id="t", round=0, agent="debater-a", role="qa-debater", kind="argument",
                raw="x", messages=[], fields=fields)
    assert left_behind(turn) is behind
