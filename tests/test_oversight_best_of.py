"""Best-of-N speeches in debate-qa and consultancy (issue 28, section 2).

The references: Khan et al. (ucl-dark/llm_debate ``DebaterQuality.judge_preference``
and ``JudgeQuality.get_argument_rating``) sample k arguments, rate each with the
preference judge on the transcript whose last round holds the candidate and, for a
debater, the dummy "My answer is the best choice and my opponent is wrong." in the
opponent's place, and continue with the highest rating. Arnesen et al.
(nyu-debate-modeling ``BestOfNDebater``) judge each candidate beside a speech
sampled from the opponent at the same point (``opponent_n: 1``) or alone (0).

Scripts: a speaker's candidate i (its sampler ``#s{i}``) says ``A2 c{i}`` (debater A,
round 2); the judge rates candidate i of either seat at RATING[i] for that seat
(0.3 / 0.8 / 0.55), so candidate 1 is always best. Before (HEAD 6804bf9) there was
no ``best_of``: ``speech_samples: k`` sampled k speeches, had each judged, and let
sample 0 continue whatever the judge said; the judge saw a sample against the
debate so far, never against a dummy or a sampled opponent.
"""

from __future__ import annotations

import math
import re

import pytest

from debate.cards import ProtocolPreset, load_card
from debate.experiment.runner import run_debate
from debate.export import export
from debate.models.types import Completion, Message, SamplingParams, TokenLogprob
from debate.protocols import create_protocol, get_protocol
from debate.protocols.oversight_best_of import DUMMY_SPEECH
from debate.testing import ScriptedModel
from debate.trace import DebateTrace, Question, Turn

PASSAGE = "Mira baked the bread at dawn. Tomas carried the loaves to the market."
QUESTION = Question(id="q1", text="Who baked the bread?", task="exact", gold="mira",
                    gold_text="Mira", context=PASSAGE, metadata={"distractor": "Tomas"})
RATING = {0: 0.3, 1: 0.8, 2: 0.55}
ENTRY = re.compile(r"(Debater [AB]|Consultant|Judge) \(round (\d+)\):\n(.*?)(?=\n\n|\Z)",
                   re.DOTALL)


def speaker(messages: list[Message], params: SamplingParams) -> str:
    """``A2 c1``: debater A's candidate 1 of round 2 (``C`` for the consultant)."""
    seat = re.search(r"You are debater ([AB])", messages[0].content)
    round_ = re.search(r"round (\d+) of", messages[-1].content)
    sample = params.sampler.rsplit("#s", 1)[1] if "#s" in params.sampler else "0"
    return f"{seat.group(1) if seat else 'C'}{round_.group(1) if round_ else 1} c{sample}"


def entries(text: str) -> list[tuple[str, int, str]]:
    """(speaker, round, text) of each transcript entry a prompt shows."""
    return [(who, int(n), body) for who, n, body in ENTRY.findall(text)]


def rated(text: str) -> tuple[str, float]:
    """The seat and rating of the candidate in the last round of a probe's transcript."""
    shown = entries(text)
    last = max(n for _, n, _ in shown)
    for who, n, body in shown:
        found = re.fullmatch(r"[ABC]\d+ c(\d)", body)
        if n == last and found and int(found.group(1)) in RATING:
            seat = who[-1] if who.startswith("Debater") else "A"
            return seat, RATING[int(found.group(1))]
    raise AssertionError(f"no candidate in {shown}")


def judge(messages: list[Message], params: SamplingParams) -> str:
    """Rates the last round's candidate (RATING) for its seat; a verdict says A."""
    text = messages[-1].content
    if "ask the speakers" in text:
        return "Why?"
    try:
        seat, p = rated(text)
    except (AssertionError, ValueError):
        return 'Answer: A\n{"A": 0.6, "B": 0.4}'
    p_a = p if seat == "A" else 1 - p
    return f'{{"A": {p_a:.2f}, "B": {1 - p_a:.2f}}}\nAnswer: A'


def models(protocol: str = "debate-qa") -> dict[str, ScriptedModel]:
    names = ["consultant"] if protocol == "consultancy" else ["debater-a", "debater-b"]
    return {"judge": ScriptedModel(judge, name="judge"),
            **{n: ScriptedModel(speaker, name=n) for n in names}}


async def debate(protocol: str = "debate-qa", **options: object) -> DebateTrace:
    options = {"best_of_judge": "probabilities", "both_orders": False, **options}
    return await run_debate(QUESTION, protocol=protocol, models=models(protocol), **options)


def line(trace: DebateTrace) -> list[Turn]:
    return [t for t in trace.turns if t.kind == "argument" and "sample" not in t.fields]


def probes_of(trace: DebateTrace, seat: str, round_: int) -> list[Turn]:
    return [t for t in trace.turns if t.step == "probe" and t.fields["seat"] == seat
            and t.round == round_]


@pytest.mark.parametrize("moves", ["simultaneous", "sequential"])
async def test_the_highest_rated_candidate_continues_and_the_others_stay_as_samples(moves):
    """Three candidates rated 0.3 / 0.8 / 0.55: candidate 1 continues at every point.

    Before: sample 0 (rated 0.3) continued; after: candidate 1 (0.8) continues, the
    others are recorded with ``sample`` and read by no later call.
    """
    trace = await debate(best_of=3, rounds=2, moves=moves)
    main = line(trace)
    assert [t.raw for t in main] == ["A1 c1", "B1 c1", "A2 c1", "B2 c1"]
    for speech in main:
        assert speech.fields["candidate"] == 1
        assert speech.fields["ratings"] == pytest.approx([0.3, 0.8, 0.55])
        assert speech.fields["judge_p_own"] == pytest.approx(0.8)
    left = [t for t in trace.turns if "sample" in t.fields]
    assert sorted((t.raw, t.fields["sample"]) for t in left) == sorted(
        (f"{s}{r} c{i}", i) for s in "AB" for r in (1, 2) for i in (0, 2))
    # the next round continues the kept speech: its own chat and the opponent read it
    a2 = next(t for t in main if t.raw == "A2 c1")
    assert [m.content for m in a2.messages if m.role == "assistant"] == ["A1 c1"]
    assert "Debater B (round 1):\nB1 c1" in a2.messages[-1].content
    verdict = next(t for t in trace.turns if t.step == "decide")
    assert [body for _, _, body in entries(verdict.messages[-1].content)] == [
        "A1 c1", "B1 c1", "A2 c1", "B2 c1"]


async def test_each_candidate_is_rated_beside_the_dummy_opponent_after_the_earlier_rounds():
    """The probe of a candidate shows the debate's earlier rounds, then this round: the
    candidate and the reference's dummy in the opponent's seat, A first.

    Before: a sample was judged after the debate so far with no opponent speech of its
    round (and sequential B's probe read A's *discarded* samples too).
    """
    trace = await debate(best_of=3, rounds=2)
    for seat, other in (("A", "B"), ("B", "A")):
        for i, probe in enumerate(probes_of(trace, seat, 1)):
            candidate = (f"Debater {seat}", 2, f"{seat}2 c{i}")
            dummy = (f"Debater {other}", 2, DUMMY_SPEECH)
            assert entries(probe.messages[-1].content) == [
                ("Debater A", 1, "A1 c1"), ("Debater B", 1, "B1 c1"),
                *((candidate, dummy) if seat == "A" else (dummy, candidate))]
            assert probe.fields["probe_of"].endswith(f"s{i}" if i else "o0")
            assert probe.fields["candidate"] == i


@pytest.mark.parametrize(("mode", "b_round_2_opponent"), [
    ("dummy", DUMMY_SPEECH),  # the reference: the dummy even where B read A's speech
    ("spoken", "A2 c1"),  # the speech B read
    ("sampled", "A2 c1"),
])
async def test_sequential_b_is_rated_beside_the_dummy_or_the_speech_it_read(mode,
                                                                          b_round_2_opponent):
    """Sequential round 2: B read A's kept speech; ``dummy`` (the reference's
    ``get_argument_rating``, which overwrites the opponent's slot) still shows the dummy,
    ``spoken`` and ``sampled`` show the speech B read.

    Before: no such option; B's probes showed A's kept speech and A's discarded samples.
    """
    trace = await debate(best_of=3, rounds=2, moves="sequential", best_of_opponent=mode)
    for probe in probes_of(trace, "B", 1):
        shown = entries(probe.messages[-1].content)
        assert shown[2] == ("Debater A", 2, b_round_2_opponent)
        assert [body for _, _, body in shown].count("A2 c0") == 0


async def test_a_sampled_opponent_is_one_more_call_seen_by_that_points_ratings_alone():
    """Arnesen et al.'s ``opponent_n: 1``: per seat and round one speech is sampled from
    the opponent at the same point (its own sampler, index k); every candidate of the
    point is rated beside it; no other call reads it.

    Before: no such option (``best_of_opponent`` was unknown).
    """
    trace = await debate(best_of=2, rounds=1, best_of_opponent="sampled", both_orders=True)
    opponents = [t for t in trace.turns if "opponent_for" in t.fields]
    assert sorted((t.fields["order"], t.fields["seat"], t.fields["opponent_for"], t.raw)
                  for t in opponents) == [(o, s, f, f"{s}1 c2") for o in (0, 1)
                                          for s, f in (("A", "B"), ("B", "A"))]
    for opponent in opponents:
        assert opponent.fields["sample"] == 2 and opponent.sampling is not None
        readers = [t for t in trace.turns if t.fields.get("order") == opponent.fields["order"]
                   and any(opponent.raw in m.content for m in t.messages)]
        assert readers and all(t.step == "probe" and t.fields["seat"] ==
                               opponent.fields["opponent_for"] for t in readers)
    assert len(trace.turns) == create_protocol(
        "debate-qa", best_of=2, rounds=1, best_of_opponent="sampled").max_calls()


async def test_without_an_opponent_the_candidate_is_rated_alone():
    """``none`` (Arnesen et al.'s ``opponent_n: 0``) and consultancy: only the candidate.

    Before: no best-of rating at all (``speech_samples`` kept sample 0).
    """
    trace = await debate(best_of=2, rounds=1, best_of_opponent="none")
    for probe in (t for t in trace.turns if t.step == "probe"):
        assert len(entries(probe.messages[-1].content)) == 1
    consult = await debate("consultancy", best_of=3, rounds=2)
    for probe in (t for t in consult.turns if t.step == "probe"):
        shown = entries(probe.messages[-1].content)
        assert [who for who, n, _ in shown if n == probe.round + 1] == ["Consultant"]
    assert [t.raw for t in line(consult)] == ["C1 c1", "C2 c1"]


class LetterJudge:
    """The reference's preference judge: answers a letter; P(A) from its log-probabilities.

    P(A) is RATING[i] for a candidate i of seat A, 1 - RATING[i] for one of seat B; a
    verdict step gets the same treatment with P(A) = 0.6.
    """

    name = "letter-judge"

    def __init__(self) -> None:
        self.calls: list[tuple[list[Message], SamplingParams]] = []

    async def generate(self, messages: list[Message], params: SamplingParams) -> Completion:
        self.calls.append((list(messages), params))
        try:
            seat, p = rated(messages[-1].content)
            p_a = p if seat == "A" else 1 - p
        except (AssertionError, ValueError):
            p_a = 0.6
        top = {"A": math.log(p_a), "B": math.log(1 - p_a), "The": math.log(0.01)}
        return Completion(text="A", logprobs=[TokenLogprob(token="A", logprob=top["A"],
                                                           top=top)])


async def test_the_reference_rater_reads_the_letters_log_probabilities():
    """``best_of_judge: logprobs`` (default): the probe asks "only A or B" with the top 5
    log-probabilities, and a candidate's rating is its letter's probability.

    Before: a sample's score was the judge's stated probability, asked in the verdict's
    prompt.
    """
    letter = LetterJudge()
    trace = await run_debate(QUESTION, protocol="debate-qa", both_orders=False, rounds=1,
                             best_of=3, models={**models(), "judge": letter})
    ratings = [t for t in trace.turns if t.step == "probe"]
    assert len(ratings) == 6 and len(letter.calls) == 7  # the last call is the verdict
    for messages, params in letter.calls[:-1]:
        assert params.logprobs and params.top_logprobs == 5
        assert "Respond with only A or B" in messages[-1].content
    assert [t.raw for t in line(trace)] == ["A1 c1", "B1 c1"]
    assert [t.fields["judge_p_own"] for t in line(trace)] == pytest.approx([0.8, 0.8])


async def test_unreadable_ratings_rank_last_and_with_none_read_the_first_candidate_continues():
    """A rating the judge did not give ranks below every read one.

    Before: sample 0 continued whatever the ratings.
    """
    mute = ScriptedModel(lambda m, p: "Why?" if "ask the speakers" in m[-1].content
                         else "I cannot say.", name="judge")
    trace = await run_debate(QUESTION, protocol="debate-qa",
                             models={**models("debate-qa"), "judge": mute}, best_of=3, rounds=1,
                             best_of_judge="probabilities", both_orders=False,
                             judge_format="probabilities")
    assert [t.fields["candidate"] for t in line(trace)] == [0, 0]
    assert all(t.fields["ratings"] == [None, None, None] for t in line(trace))


async def test_a_logprobs_rater_without_logprobs_is_an_error_not_a_silent_first_pick():
    """Found in review: a backend without log-probabilities left every rating unread, and
    candidate 0 continued at k times the cost without a word."""
    from debate.errors import ConfigError

    with pytest.raises(ConfigError, match="best_of_judge: logprobs rates candidates by the "
                                          "judge's log-probabilities, and its model"):
        await debate(best_of=3, rounds=1, best_of_judge="logprobs")


async def test_a_discarded_sample_is_seen_by_no_other_call_and_no_export_prompt():
    """Sequential moves, both orders, questions, private estimates: a candidate left
    behind appears in the messages of its own rating alone, and in no exported prompt.

    Before (``speech_samples: 2``, ``moves: sequential``, the selfplay preset): B's
    prompt and B's probes held A's discarded sample, and so did B's DPO prompts.
    """
    trace = await debate(best_of=3, rounds=3, moves="sequential", both_orders=True,
                         interactive_judge=True, private_confidence=True)
    left = [t for t in trace.turns if "sample" in t.fields]
    assert len(left) == 2 * 3 * 2 * 2  # orders x rounds x seats x (3 - 1)
    for sample in left:
        readers = [t for t in trace.turns if t.fields.get("order") == sample.fields["order"]
                   and any(sample.raw in m.content for m in t.messages)]
        assert [t.fields["probe_of"] for t in readers] == [sample.id], sample.id
    rows = export([trace], "judge-preference", "dpo", options={"pairs": "all"})
    assert len(rows) == 2 * 3 * 2 * 3  # every point: 3 pairs of 3 candidates
    for row in rows:
        prompt = "\n".join(m["content"] for m in row["prompt"])
        assert not [s.raw for s in left if s.raw in prompt]


@pytest.mark.parametrize("options", [
    {"best_of": 3, "rounds": 2},
    {"best_of": 2, "rounds": 3, "moves": "sequential", "best_of_opponent": "sampled"},
    {"best_of": 2, "rounds": 2, "best_of_opponent": "sampled", "interactive_judge": True,
     "private_confidence": True},
])
async def test_the_stated_call_count_is_the_calls_made(options):
    """``max_calls`` counts candidates, ratings and sampled opponents.

    Before: no ``best_of`` (an unknown option).
    """
    trace = await debate(**{"both_orders": True, **options})
    assert len(trace.turns) == create_protocol(
        "debate-qa", **{"both_orders": True, **options}).max_calls()


def test_the_papers_best_of_n_setups_are_presets():
    """Khan et al.'s persuasiveness optimisation (BoN 16 at 0.8, dummy opponent, letter
    log-probabilities) and Arnesen et al.'s data generation (one round, n 2, opponent_n 1).

    Before: only ``debate-qa-selfplay`` with ``speech_samples: 2``, sample 0 continuing.
    """
    khan = load_card("protocols/debate-qa-bon.yaml", ProtocolPreset)
    config = get_protocol(khan.protocol)(**khan.options).config
    assert (config.best_of, config.best_of_opponent, config.best_of_judge, config.moves) == (
        16, "dummy", "logprobs", "simultaneous")
    arnesen = load_card("protocols/debate-qa-selfplay.yaml", ProtocolPreset)
    config = get_protocol(arnesen.protocol)(**arnesen.options).config
    assert (config.best_of, config.best_of_opponent, config.rounds) == (2, "sampled", 1)


@pytest.mark.parametrize(("old", "new"), [("speech_samples", "best_of"),
                                          ("judge_confidence", "judge_format")])
def test_a_former_option_names_what_replaced_it(old, new):
    """Before: ``speech_samples``/``judge_confidence`` were options; after, naming one is
    an error that points at its replacement (the nearest-key suggestion alone would say
    'private_confidence')."""
    from debate.errors import ConfigError

    with pytest.raises(ConfigError, match=f"{old}: unknown key; .*'{new}'"):
        create_protocol("debate-qa", **{old: 2 if old == "speech_samples" else "stated"})
