"""The oversight protocols follow their rules: debate-qa, consultancy, blind-judge (issue 14).

Khan et al. 2024: debaters argue assigned answers from a passage the judge never
sees; quotes are checked against the passage; the judge states probabilities.
"""

from __future__ import annotations

import re

import pytest

from debate.agents.oversight import (
    answer_pair,
    check_quotes,
    first_correct_seat,
)
from debate.errors import ConfigError
from debate.experiment.identity import fingerprint
from debate.experiment.runner import run_debate
from debate.models.types import Message, SamplingParams
from debate.protocols import create_protocol
from debate.scoring.fields import parse_confidence_percent
from debate.scoring.verdicts import parse_probabilities
from debate.testing import ScriptedModel
from debate.trace import DebateTrace, Question

PASSAGE = ("Mira baked the bread at dawn, before the bell rang. Tomas carried the loaves to "
           "the market and sold them by noon.")
QUESTION = Question(id="q1", text="Who baked the bread?", task="exact", gold="mira",
                    gold_text="Mira", context=PASSAGE, metadata={"distractor": "Tomas"})


def is_judge(messages: list[Message]) -> bool:
    return messages[0].content.startswith("You are the judge")


def scripted(judge_reply: str = '{"A": 0.7, "B": 0.3}', speech: str | None = None,
             confidence: str = "80 PRIVATE-ESTIMATE") -> ScriptedModel:
    """Debaters quote the passage (once truly, once not); the judge gives ``judge_reply``."""

    def reply(messages: list[Message], params: SamplingParams) -> str:
        last = messages[-1].content
        if is_judge(messages):
            return "What happened at dawn?" if "ask the speakers" in last else judge_reply
        if "probability, from 0 to 100" in last:
            return confidence
        return speech or ("My answer holds. <quote>Mira baked the bread</quote> and "
                          "<quote>Tomas baked every loaf</quote>")

    return ScriptedModel(reply)


async def run(protocol: str, model: ScriptedModel | None = None,
              question: Question = QUESTION, **options: object) -> tuple[DebateTrace,
                                                                         ScriptedModel]:
    model = model or scripted()
    trace = await run_debate(question, protocol=protocol, models=model, **options)
    return trace, model


def judge_calls(trace: DebateTrace) -> list[list[Message]]:
    return [t.messages for t in trace.turns if t.agent == "judge"]


async def test_debaters_see_the_passage_and_the_judge_never_does():
    trace, _ = await run("debate-qa", interactive_judge=True)
    for turn in trace.turns:
        if turn.kind == "argument" and turn.round == 0:
            assert PASSAGE in turn.messages[1].content
    judged = judge_calls(trace)
    assert len(judged) == 2 * 2 + 2  # a question after rounds 1 and 2, per order; 2 verdicts
    for messages in judged:
        for message in messages:
            assert PASSAGE not in message.content
            assert "before the bell rang" not in message.content  # no sentence of it either
            assert "Who baked the bread?" in messages[1].content


async def test_round_one_is_blind_in_both_modes_and_sequential_b_reads_a_from_round_two():
    """Who reads what, briefly (every prompt in full: tests/test_oversight_views.py).

    Before (HEAD 6804bf9): sequential B read A's round-1 speech, and from round 2 no
    debater B read any speech of A. After: as the reference (quality_sim, quality_seq).
    """
    speech = "Speech of {agent} in round {round}"

    def reply(messages: list[Message], params: SamplingParams) -> str:
        if is_judge(messages):
            return '{"A": 0.6, "B": 0.4}'
        return speech.format(agent=params.sampler, round=sum(m.role == "user" for m in messages))

    for moves in ("simultaneous", "sequential"):
        model = ScriptedModel(reply)
        trace, _ = await run("debate-qa", model, moves=moves, rounds=3, both_orders=False)
        calls_per_round = [len([t for t in trace.turns if t.round == r and t.kind == "argument"])
                           for r in range(3)]
        assert calls_per_round == [2, 2, 2]
        assert len(model.calls) == 3 * 2 + 1  # speeches, then one verdict
        b = [t.messages[-1].content for t in trace.turns if t.agent == "debater-b"
             and t.kind == "argument"]
        assert "Speech of debater-a" not in b[0]  # round 1 is blind in both modes
        assert "Speech of debater-a in round 1" in b[1]
        assert ("Speech of debater-a in round 2" in b[1]) is (moves == "sequential")
        a_second = next(t for t in trace.turns if t.agent == "debater-a" and t.round == 1)
        assert "Speech of debater-b in round 1" in a_second.messages[-1].content
        assert a_second.messages[:2] == next(
            t for t in trace.turns if t.agent == "debater-a" and t.round == 0).messages[:2]


async def test_both_orders_swap_the_seats_so_each_answer_is_defended_from_each():
    trace, _ = await run("debate-qa", rounds=1, judge_format="probabilities")
    speeches = [t for t in trace.turns if t.kind == "argument"]
    defended = {(t.fields["order"], t.agent): t.fields["defends"] for t in speeches}
    assert defended[(0, "debater-a")] == defended[(1, "debater-b")]
    assert defended[(0, "debater-b")] == defended[(1, "debater-a")]
    assert {defended[(0, "debater-a")], defended[(0, "debater-b")]} == {"Mira", "Tomas"}
    for t in speeches:  # the side each one defends is recorded, and is what it was told
        assert (t.fields["side"] == "correct") == (t.fields["defends"] == "Mira")
        assert f"argue that the answer is: {t.fields['defends']}" in t.messages[0].content
    judgments = trace.final.details["judgments"]
    assert [j["correct_label"] for j in judgments] in (["A", "B"], ["B", "A"])
    # the judge said A: 0.7 both times, so the mean probability on the correct answer is 0.5
    assert trace.final.answer is None and trace.final.details["reason"].endswith("tie")


def test_which_seat_defends_the_correct_answer_first_is_drawn_per_question():
    seats = {first_correct_seat(Question(id=f"q{i}", text="?"), 0) for i in range(20)}
    assert seats == {"A", "B"}
    assert first_correct_seat(QUESTION, 0) == first_correct_seat(QUESTION, 0)


def test_quotes_are_checked_against_the_passage():
    text = ("<quote>Mira baked the bread</quote>, <quote>mira   baked the\nbread at dawn</quote>, "
            "<quote>bread at dawn before the bell</quote>, <quote>Tomas baked the bread</quote>, "
            "<quote></quote> and <quote>the bell rang. Tomas</quote>")
    marked, total, verified = check_quotes(text, PASSAGE)
    assert (total, verified) == (6, 4)  # exact, whitespace, punctuation dropped, across a stop
    assert marked.count("<v_quote>") == 4 and marked.count("<u_quote>") == 2
    assert "<u_quote>Tomas baked the bread</u_quote>" in marked  # fabricated
    assert check_quotes("<quote>ira bake</quote>", PASSAGE)[2] == 1  # the reference: a substring
    assert check_quotes("<quote>ira bake</quote>", PASSAGE, strict=True)[2] == 0  # whole words


async def test_the_judge_sees_quotes_marked_verified_or_not():
    trace, _ = await run("debate-qa", rounds=1, both_orders=False)
    verdict = trace.turns[-1].messages[1].content
    assert "<v_quote>Mira baked the bread</v_quote>" in verdict
    assert "<u_quote>Tomas baked every loaf</u_quote>" in verdict
    speeches = [t.id for t in trace.turns if t.kind == "argument"]
    assert trace.turns[-1].saw == speeches  # what the judge was shown, though not verbatim
    speech = next(t for t in trace.turns if t.kind == "argument")
    assert (speech.fields["quotes"], speech.fields["verified_quotes"]) == (2, 1)


@pytest.mark.parametrize(("reply", "expected"), [
    ('{"A": 0.7, "B": 0.3}', {"A": 0.7, "B": 0.3}),
    ("I lean to B.\nA: 0.25\nB: 0.75", {"A": 0.25, "B": 0.75}),
    ("Answer A: 40%, Answer B: 60%", {"A": 0.4, "B": 0.6}),
    ("A: 70, B: 30", {"A": 0.7, "B": 0.3}),  # bare numbers summing to 100
    ("P(A) = 0.9", {"A": 0.9, "B": 0.1}),  # one stated, the other its complement
    ('{"A": 0.6, "B": 0.6}', {"A": 0.5, "B": 0.5}),  # scaled to sum to 1
    ("A: .7 B: .3", {"A": 0.7, "B": 0.3}),
    ('At first A: 0.7. Final: {"A": 0.2, "B": 0.8}', {"A": 0.2, "B": 0.8}),  # JSON first
    ("A: 0.7\nB: 0.3\nOn reflection A: 0.4, B: 0.6", {"A": 0.4, "B": 0.6}),  # the last word
])
def test_judge_probabilities_are_read(reply, expected):
    probs, error = parse_probabilities(reply)
    assert error is None and probs == pytest.approx(expected)


@pytest.mark.parametrize(("reply", "why"), [
    ("I think A is right.", "no probability"),
    ('{"A": 1.7, "B": 0.3}', "out of range"),
    ("A: 70, B: 50", "out of range"),  # bare numbers not summing to 100
    ('{"A": 0, "B": 0}', "both probabilities are 0"),
    ("A: 60-70%, B: 30-40%", "a range for A"),
    ("Answer B", "no probability"),
])
def test_an_unreadable_judgment_is_recorded_with_no_decision(reply, why):
    probs, error = parse_probabilities(reply)
    assert probs is None and why in str(error)


async def test_an_unreadable_verdict_makes_no_decision_and_says_why():
    trace, _ = await run("debate-qa", scripted("Both argued well."), rounds=1)
    assert trace.final.answer is None and trace.correct is False
    assert trace.final.details["read"] == 0
    assert all(j["error"] and j["p_correct"] is None for j in trace.final.details["judgments"])
    verdicts = [t for t in trace.turns if t.kind == "verdict"]
    assert all(v.answer is None and v.fields["probabilities"] is None for v in verdicts)


async def test_the_final_answer_is_the_one_with_the_higher_mean_probability():
    def reply(messages: list[Message], params: SamplingParams) -> str:
        if not is_judge(messages):
            return "speech"
        mira_is_a = "Answer A: Mira" in messages[1].content
        return '{"A": 0.8, "B": 0.2}' if mira_is_a else '{"A": 0.4, "B": 0.6}'

    trace, _ = await run("debate-qa", ScriptedModel(reply), rounds=1,
                         judge_format="probabilities")
    # p(correct) = 0.8 in the order where Mira is A, 0.6 in the other: mean 0.7
    assert trace.final.answer == "mira" and trace.correct is True
    assert trace.final.votes == pytest.approx({"mira": 0.7, "tomas": 0.3})
    assert sorted(j["p_correct"] for j in trace.final.details["judgments"]) == pytest.approx(
        [0.6, 0.8])


async def test_private_confidence_is_never_seen_by_the_opponent_or_the_judge():
    trace, _ = await run("debate-qa", private_confidence=True, interactive_judge=True)
    estimates = [t for t in trace.turns if t.kind == "confidence"]
    assert len(estimates) == 2 * 3 * 2  # orders x rounds x debaters
    assert all(t.confidence == pytest.approx(0.8) for t in estimates)
    for turn in trace.turns:
        if turn.kind == "confidence":
            continue
        assert all("PRIVATE-ESTIMATE" not in m.content for m in turn.messages)
        assert all("probability, from 0 to 100" not in m.content for m in turn.messages)
    first = next(t for t in estimates if t.agent == "debater-a" and t.round == 0)
    own = next(t for t in trace.turns if t.agent == "debater-a" and t.round == 0
               and t.kind == "argument" and t.fields["order"] == first.fields["order"])
    assert first.messages[:2] == own.messages and first.messages[2].content == own.raw


def test_a_stated_chance_of_winning_is_read_as_a_percentage():
    assert parse_confidence_percent("85") == pytest.approx(0.85)
    assert parse_confidence_percent('{"confidence": 60}') == pytest.approx(0.6)
    assert parse_confidence_percent("I'd say 72%.") == pytest.approx(0.72)
    assert parse_confidence_percent("80 out of 100") == pytest.approx(0.8)
    assert parse_confidence_percent("80/100") == pytest.approx(0.8)
    assert parse_confidence_percent("very likely") is None
    assert parse_confidence_percent("250") is None
    assert parse_confidence_percent("between 60 and 70") is None  # a range is no estimate
    assert parse_confidence_percent("1e2") is None


async def test_consultancy_defends_the_right_answer_in_one_order_and_the_wrong_in_the_other():
    trace, model = await run("consultancy")
    speeches = [t for t in trace.turns if t.kind == "argument"]
    assert {t.fields["side"] for t in speeches if t.fields["order"] == 0} != {
        t.fields["side"] for t in speeches if t.fields["order"] == 1}
    labels = [j["correct_label"] for j in trace.final.details["judgments"]]
    assert sorted(labels) == ["A", "B"]  # the correct answer shown as A once, as B once
    # the judge questions the consultant after rounds 1 and 2; it reads the question next
    questions = [t for t in trace.turns if t.kind == "question"]
    assert len(questions) == 2 * 2
    second = next(t for t in speeches if t.round == 1)
    assert "What happened at dawn?" in second.messages[-1].content
    assert len(model.calls) == create_protocol("consultancy").max_calls() == 2 * (3 + 2 + 1)


async def test_the_blind_judge_decides_from_the_question_and_the_answers_alone():
    trace, model = await run("blind-judge")
    assert len(model.calls) == 2
    for messages in judge_calls(trace):
        assert PASSAGE not in messages[1].content
        assert not any(w in m.content.lower() for m in messages for w in ("speaker", "quote"))
        assert "Answer A:" in messages[1].content and "Answer B:" in messages[1].content


@pytest.mark.parametrize("options", [
    {}, {"moves": "sequential", "rounds": 2}, {"private_confidence": True},
    {"interactive_judge": True, "both_orders": False},
    {"best_of": 3, "rounds": 2, "best_of_judge": "probabilities"},
])
async def test_the_stated_call_count_is_the_calls_made(options):
    trace, model = await run("debate-qa", **options)
    assert len(model.calls) == len(trace.turns) == create_protocol(
        "debate-qa", **options).max_calls()


async def test_best_of_candidates_are_distinct_calls_and_the_judges_favourite_continues():
    """Before (``speech_samples: 2``): sample 0 continued although the judge rated
    sample 1 higher. After (``best_of: 2``): the higher-rated candidate continues."""

    def reply(messages: list[Message], params: SamplingParams) -> str:
        if is_judge(messages):
            return '{"A": 0.9, "B": 0.1}' if "strong" in messages[1].content else '{"A": 0.5}'
        return "strong speech" if params.sampler.endswith("#s1") else "weak speech"

    trace, model = await run("debate-qa", ScriptedModel(reply), rounds=1, both_orders=False,
                             best_of=2, best_of_judge="probabilities")
    candidates = [t for t in trace.turns if t.kind == "argument"]
    assert [t.fields["candidate"] for t in candidates] == [1, 0, 0, 1]  # kept one first
    a1, a0 = (t for t in candidates if t.agent == "debater-a")
    assert a0.messages == a1.messages and a0.fields["point"] == a1.fields["point"]
    assert (a0.raw, a1.raw) == ("weak speech", "strong speech")
    assert (a0.fields["judge_p_own"], a1.fields["judge_p_own"]) == pytest.approx((0.5, 0.9))
    assert "sample" not in a1.fields and a0.fields["sample"] == 0
    b0, b1 = (t for t in candidates if t.agent == "debater-b")
    assert (b0.raw, b0.fields["judge_p_own"]) == ("weak speech", pytest.approx(0.5))
    assert (b1.raw, b1.fields["judge_p_own"]) == ("strong speech", pytest.approx(0.1))
    final = [t for t in trace.turns if t.step == "decide"][0]
    assert "Debater A (round 1):\nstrong speech" in final.messages[1].content
    assert "Debater B (round 1):\nweak speech" in final.messages[1].content


async def test_questions_without_a_passage_or_a_wrong_answer_are_refused_at_load():
    protocol = create_protocol("debate-qa")
    with pytest.raises(ConfigError, match="needs a 'context'"):
        protocol.check_questions([QUESTION.model_copy(update={"context": None})])
    with pytest.raises(ConfigError, match="no 'distractor' field"):
        protocol.check_questions([QUESTION.model_copy(update={"metadata": {}})])
    create_protocol("blind-judge").check_questions([QUESTION.model_copy(update={"context": None})])


def test_a_wrong_answer_is_drawn_from_the_other_options_when_there_is_no_distractor():
    q = Question(id="c1", text="Colour?", task="choice", gold="B",
                 choices=["red", "blue", "green"], context="The sky was blue.")
    correct, wrong = answer_pair(q)
    assert correct == "blue" and wrong in ("red", "green")
    assert answer_pair(q) == (correct, wrong)  # stable


def test_the_bundled_reading_set_has_a_passage_a_gold_and_a_wrong_answer_per_question():
    from debate.datasets import load_dataset
    from debate.scoring import is_correct, normalize_text

    questions = load_dataset("experiments/data/reading_qa.jsonl", task="exact")
    assert len(questions) == 20 and len({q.id for q in questions}) == 20
    for q in questions:
        assert q.context and 40 <= len(q.context.split()) <= 150
        correct, wrong = answer_pair(q)
        assert correct == q.gold_text
        assert is_correct(normalize_text(wrong), q.gold, "exact") is False
        assert normalize_text(wrong) not in q.gold and q.gold not in normalize_text(wrong)
    create_protocol("debate-qa").check_questions(questions)


@pytest.mark.parametrize("name", ["debate-qa", "consultancy", "blind-judge"])
async def test_the_reading_experiments_run_with_a_weaker_judge_bound_by_role(name, tmp_path):
    from debate.experiment.config import load_experiment
    from debate.experiment.runner import arun_experiment
    from debate.testing import register_script

    register_script("oversight-speaker", lambda m, p: "<quote>the</quote> I am right.")
    register_script("oversight-judge", lambda m, p: '{"A": 0.6, "B": 0.4}')
    config = load_experiment(f"experiments/{name}-reading.yaml")
    assert any(m.startswith("qa-judge=") for m in config.models)
    models = ["qa-judge=scripted:oversight-judge"] + (
        [] if name == "blind-judge" else
        [f"{'consultant' if name == 'consultancy' else 'qa-debater'}=scripted:oversight-speaker"])
    summary = await arun_experiment(config.model_copy(update={
        "models": models, "output_dir": str(tmp_path), "limit": 2}), progress=False)
    assert summary.debates == 2 and not summary.failed


SELFPLAY_RATING = {"strength 0": 0.3, "strength 1": 0.8, "strength 2": 0.55}


def selfplay_reply(messages: list[Message], params: SamplingParams) -> str:
    """Candidate i of a speech says 'strength i'; the judge rates strength 0/1/2 at
    0.3/0.8/0.55 for the answer of the seat whose candidate it is shown last (beside it in
    its round stands the dummy, which says no 'strength')."""
    if is_judge(messages):
        shown = re.findall(r"Debater ([AB]) \(round \d+\):\n(strength \d)", messages[1].content)
        seat, text = shown[-1] if shown else ("A", "")
        p = SELFPLAY_RATING.get(text, 0.5)
        p_a = p if seat == "A" else 1 - p
        return f'{{"A": {p_a:.2f}, "B": {1 - p_a:.2f}}}'
    sample = params.sampler.rsplit("#s", 1)[1] if "#s" in params.sampler else "0"
    return f"strength {sample}"


def selfplay_model() -> ScriptedModel:
    return ScriptedModel(selfplay_reply)


async def test_judge_preference_pairs_sampled_speeches_by_the_judges_probability():
    """Before (``speech_samples: 3``): every pair of a point. After (``best_of: 3``): per
    speech the best against the lowest-rated; ``pairs: all`` every pair."""
    from debate.export import examples, export

    trace, _ = await run("debate-qa", selfplay_model(), rounds=1, both_orders=False,
                         best_of=3, best_of_judge="probabilities", moves="sequential")
    pairs = examples([trace], "judge-preference")
    # per speech point (A, then B) the candidates rate 0.3, 0.8, 0.55: best vs worst
    assert sorted((round(p.margin or 0, 2), p.chosen, p.rejected) for p in pairs) == 2 * [
        (0.5, "strength 1", "strength 0")]
    every = examples([trace], "judge-preference", {"pairs": "all"})
    by_margin = sorted((round(p.margin or 0, 2), p.chosen, p.rejected) for p in every)
    assert by_margin == sorted(2 * [(0.5, "strength 1", "strength 0"),
                                    (0.25, "strength 2", "strength 0"),
                                    (0.25, "strength 1", "strength 2")])
    for pair in every:
        assert (pair.score_chosen or 0) > (pair.score_rejected or 0)
        assert pair.answer == "mira"  # the gold is the reward target
        assert "probes" in pair.metadata.extra and "judge_p_own" in pair.metadata.extra
    assert len(examples([trace], "judge-preference", {"min_margin": 0.3, "pairs": "all"})) == 2
    rows = export([trace], "judge-preference", "dpo")
    assert set(rows[0]) >= {"prompt", "chosen", "rejected"}
    assert rows[0]["prompt"][0]["role"] == "system"
    assert rows[0]["chosen"][0] == {"role": "assistant", "content": rows[0]["chosen"][0]["content"]}


async def test_no_preference_pair_without_samples_or_with_an_unreadable_probe():
    from debate.export import examples

    plain, _ = await run("debate-qa", selfplay_model(), rounds=1)
    assert examples([plain], "judge-preference") == []
    unreadable, _ = await run("debate-qa", scripted("no idea"), rounds=1, best_of=2,
                              best_of_judge="probabilities")
    assert examples([unreadable], "judge-preference") == []


async def test_sampled_speeches_and_probes_replay_from_the_cache(tmp_path):
    from debate.experiment.config import ExperimentConfig
    from debate.experiment.runner import arun_experiment
    from debate.testing import register_script
    from debate.trace import read_traces

    register_script("selfplay", selfplay_reply)
    config = ExperimentConfig(
        protocol="debate-qa", models=["scripted:selfplay"], output_dir=str(tmp_path),
        dataset={"path": "experiments/data/reading_qa.jsonl", "task": "exact"}, limit=2,
        protocol_options={"best_of": 2, "rounds": 1, "best_of_judge": "probabilities"})
    fresh = await arun_experiment(config, progress=False)
    run = tmp_path / config.run_name(fingerprint(config).identity)
    first = [t.model_dump(exclude={"started_at", "finished_at"})
             for t in read_traces(run / "traces.jsonl")]
    (run / "traces.jsonl").unlink()
    again = await arun_experiment(config, progress=False)
    assert fresh.calls == again.calls == again.cached_calls == 2 * 2 * (2 * (2 + 2) + 1)
    assert again.requests == 0
    replayed = [t.model_dump(exclude={"started_at", "finished_at"})
                for t in read_traces(run / "traces.jsonl")]
    for trace in (*first, *replayed):  # all the same but whether replies were replayed
        trace["totals"].pop("cached_calls"), trace["totals"].pop("latency")
        for turn in trace["turns"]:
            turn.pop("cached"), turn.pop("latency")
    assert sorted(replayed, key=lambda t: t["id"]) == sorted(first, key=lambda t: t["id"])


def test_the_reference_judges_probabilities_come_from_the_answer_tokens_logprobs():
    import math

    from debate.models.types import TokenLogprob
    from debate.scoring.verdicts import letter_probabilities

    token = TokenLogprob(token="A", logprob=math.log(0.6),
                         top={"A": math.log(0.6), " B": math.log(0.2), "The": math.log(0.1)})
    probs, error = letter_probabilities([token])
    assert error is None and probs == pytest.approx({"A": 0.75, "B": 0.25})  # 0.6 : 0.2
    only_a = TokenLogprob(token="A", logprob=-0.1, top={"A": -0.1, "C": -3.0})
    assert letter_probabilities([only_a])[0] == pytest.approx({"A": 1.0, "B": 0.0})  # B: -100
    neither = TokenLogprob(token="The", logprob=-0.1, top={"The": -0.1, "I": -2.0})
    assert letter_probabilities([neither])[0] is None
    assert "no log-probabilities" in str(letter_probabilities(None)[1])


async def test_a_logprobs_judge_asks_for_a_letter_and_reads_its_probabilities():
    import math

    from debate.models.types import Completion, TokenLogprob

    class LetterJudge:
        """Answers 'A' with P(A) 0.9 when Mira is answer A, else 0.3 (and asks for them)."""

        name = "letter-judge"

        def __init__(self) -> None:
            self.params: list[SamplingParams] = []

        async def generate(self, messages, params):
            self.params.append(params)
            p = 0.9 if "Answer A: Mira" in messages[1].content else 0.3
            top = {"A": math.log(p), "B": math.log(1 - p)}
            return Completion(text="A", logprobs=[TokenLogprob(token="A", logprob=top["A"],
                                                               top=top)])

    judge = LetterJudge()
    trace = await run_debate(QUESTION, protocol="blind-judge", judge_format="logprobs",
                             models={"judge": judge})
    assert all(p.logprobs and p.top_logprobs == 5 for p in judge.params)
    assert all("Respond with only A or B" in t.messages[1].content for t in trace.turns)
    # p(correct): 0.9 where Mira is A, 1 - 0.3 = 0.7 where she is B: mean 0.8
    assert sorted(j["p_correct"] for j in trace.final.details["judgments"]) == pytest.approx(
        [0.7, 0.9])
    assert trace.final.answer == "mira"
    stated, _ = await run("blind-judge", scripted("A"))  # no logprobs asked: "A" states none
    assert stated.final.answer is None


async def test_a_long_speech_is_shown_cut_at_the_word_cap_and_kept_whole_in_the_trace():
    """Before: ``w149 ... <TRUNCATED>``; after, the reference's ``truncate``: ``w149...``."""
    long_speech = " ".join(f"w{i}" for i in range(200)) + " <quote>Mira baked the bread</quote>"
    trace, _ = await run("debate-qa", scripted(speech=long_speech), rounds=1, both_orders=False,
                         cut_at_words=150)
    verdict = trace.turns[-1].messages[1].content
    assert "w149... <TRUNCATED>" in verdict and "w150" not in verdict
    assert "Mira baked" not in verdict  # the quote came after the cut
    assert all(t.raw == long_speech for t in trace.turns if t.kind == "argument")
    assert all(t.fields["quotes"] == 0 for t in trace.turns if t.kind == "argument")
    whole, _ = await run("debate-qa", scripted(speech=long_speech), rounds=1, both_orders=False)
    assert "w199 <v_quote>Mira baked the bread</v_quote>" in whole.turns[-1].messages[1].content


async def test_a_quote_the_cut_splits_is_closed_checked_and_counted_as_the_judge_saw_it():
    """The reference's ``truncate`` closes a quote its cut splits; the quote counts are
    those of the text shown.

    Before: the judge read ``<quote>Mira baked... <TRUNCATED>`` raw, with no verification
    tag, while the speech's fields counted 2 quotes, 1 verified, from the whole reply
    (the second quote after the cut included). After: ``<v_quote>Mira baked</v_quote>...
    <TRUNCATED>``, and 1 quote, 1 verified.
    """
    words = " ".join(f"w{i}" for i in range(148))
    speech = f"{words} <quote>Mira baked the bread</quote> and <quote>Tomas baked it</quote>"
    trace, _ = await run("debate-qa", scripted(speech=speech), rounds=2, both_orders=False,
                         cut_at_words=150)
    shown = "w147 <v_quote>Mira baked</v_quote>... <TRUNCATED>"
    verdict = trace.turns[-1].messages[1].content
    assert verdict.count(shown) == 4 and "Tomas baked it" not in verdict
    b_second = next(t for t in trace.turns if t.agent == "debater-b" and t.round == 1)
    assert shown in b_second.messages[-1].content  # the opponent reads it so too
    for turn in (t for t in trace.turns if t.kind == "argument"):
        assert (turn.fields["quotes"], turn.fields["verified_quotes"]) == (1, 1)
        assert turn.raw == speech  # the trace keeps the whole reply
    marked, _ = await run("debate-qa", scripted(speech="I wrote <v_quote>Tomas baked it</v_quote>"),
                          rounds=1, both_orders=False)
    speech_turn = next(t for t in marked.turns if t.kind == "argument")
    assert (speech_turn.fields["quotes"], speech_turn.fields["verified_quotes"]) == (1, 0)
    assert "<u_quote>Tomas baked it</u_quote>" in marked.turns[-1].messages[1].content


async def test_no_agent_sees_the_other_order_or_a_sampled_alternative():
    """Each speech is unique (agent, round, order, sample); a turn's messages may show only
    speeches of its own order's main line (a probe also the one sample it scores)."""

    def reply(messages: list[Message], params: SamplingParams) -> str:
        if is_judge(messages):
            return "Why?" if "ask the speakers" in messages[-1].content else '{"A": 0.6}'
        if "probability, from 0 to 100" in messages[-1].content:
            return "60"
        order = "o1" if "You argue that the answer is: Tomas" in messages[0].content else "o0"
        turn = sum(m.role == "assistant" for m in messages)
        return f"UNIQUE-{params.sampler}-{order}-{turn}"

    trace, _ = await run("debate-qa", ScriptedModel(reply), rounds=2, best_of=2,
                         best_of_judge="probabilities", interactive_judge=True,
                         private_confidence=True)
    speeches = {t.id: t for t in trace.turns if t.kind == "argument"}
    for turn in trace.turns:
        text = "\n".join(m.content for m in turn.messages)
        for speech in speeches.values():
            if speech.raw not in text:
                continue
            assert speech.fields["order"] == turn.fields["order"]
            if "sample" in speech.fields:  # an alternative: only its own probe sees it
                assert turn.step == "probe" and turn.fields["probe_of"] == speech.id
