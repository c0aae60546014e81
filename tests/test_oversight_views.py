"""Who reads what in debate-qa and consultancy, by exact message content (issue 28, section 1).

The reference (ucl-dark/llm_debate): ``rollouts/quality_sim.py`` runs both debaters of
a round concurrently on the transcript of the earlier rounds, so within a round
neither sees the other's speech and every speech of every earlier round is shown to
both; ``rollouts/quality_seq.py`` runs round 1 the same way ("sim") and from round 2
("seq") shows debater B the transcript holding A's speech of the same round.

Each speaker keeps one chat per order: its first prompt, then per round a prompt with
what it reads now and had not read at its previous speech. Every test below states
the prompts each seat receives, every round, in full.

Before (HEAD 6804bf9): what a debater was shown was "the others' turns after my last
speech" of the debate so far; A's speech of a round always precedes B's, so debater B
never read a single speech of A in either mode, while A read B's (``sequential`` only
showed B A's speech of the *same* round, round 1 included).
"""

from __future__ import annotations

import re

import pytest

from debate.agents.oversight import first_correct_seat
from debate.experiment.runner import run_debate
from debate.models.types import Message, SamplingParams
from debate.testing import ScriptedModel
from debate.trace import DebateTrace, Question

PASSAGE = "Mira baked the bread at dawn. Tomas carried the loaves to the market."
QUESTION = Question(id="q1", text="Who baked the bread?", task="exact", gold="mira",
                    gold_text="Mira", context=PASSAGE, metadata={"distractor": "Tomas"})
CORRECT_SEAT = first_correct_seat(QUESTION, 0)
ANSWERS = {CORRECT_SEAT: "Mira", "B" if CORRECT_SEAT == "A" else "A": "Tomas"}
ROUNDS = 3
ROUND = re.compile(r"\(round (\d+)\)")


def speaker(messages: list[Message], params: SamplingParams) -> str:
    """``A2: my speech`` for debater A's speech of round 2 (``C`` for the consultant)."""
    seat = re.search(r"You are debater ([AB])", messages[0].content)
    last = messages[-1].content
    round_ = re.search(r"round (\d+) of", last)
    return f"{seat.group(1) if seat else 'C'}{round_.group(1) if round_ else 1}: my speech"


def judge(messages: list[Message], params: SamplingParams) -> str:
    """A question names the last round it read (``Q1?`` after round 1); a verdict says A."""
    text = messages[-1].content
    if "ask the speakers" in text:
        return f"Q{max(int(n) for n in ROUND.findall(text))}?"
    return 'Answer: A\n{"A": 0.6, "B": 0.4}'


async def debate(protocol: str = "debate-qa", **options: object) -> DebateTrace:
    models = {"judge": ScriptedModel(judge, name="judge")}
    for name in ("debater-a", "debater-b", "consultant"):
        models[name] = ScriptedModel(speaker, name=name)
    if protocol == "consultancy":
        models = {k: v for k, v in models.items() if not k.startswith("debater")}
    else:
        del models["consultant"]
    return await run_debate(QUESTION, protocol=protocol, models=models, rounds=ROUNDS,
                            both_orders=False, **options)


def first_prompt(seat: str) -> str:
    return (f"Passage:\n{PASSAGE}\n\nQuestion: Who baked the bread?\n\n"
            f"Answer A: {ANSWERS['A']}\nAnswer B: {ANSWERS['B']}\n\n"
            f"Give your first speech for answer {seat} ({ANSWERS[seat]}), at most "
            f"{100 if seat in 'AB' and len(seat) == 1 else 200} words.")


def entry(name: str) -> str:
    """``A1`` -> debater A's speech of round 1 as shown; ``Q1`` -> the judge's question."""
    who, n = name[0], name[1:]
    if who == "Q":
        return f"Judge (round {n}):\nQ{n}?"
    speaker_name = "Consultant" if who == "C" else f"Debater {who}"
    return f"{speaker_name} (round {n}):\n{who}{n}: my speech"


def next_prompt(seat: str, round_: int, read: list[str], words: int = 100) -> str:
    shown = "\n\n".join(entry(name) for name in read)
    return (f"Since your last speech:\n\n{shown}\n\nGive your speech for round {round_} of "
            f"{ROUNDS}, still for answer {seat} ({ANSWERS[seat]}), at most {words} words.")


def prompts(trace: DebateTrace, agent: str) -> list[list[Message]]:
    """The messages of ``agent``'s speeches, by round."""
    speeches = sorted((t for t in trace.turns if t.agent == agent and t.kind == "argument"),
                      key=lambda t: t.round)
    assert [t.round for t in speeches] == list(range(ROUNDS))
    return [t.messages for t in speeches]


def assert_reads(trace: DebateTrace, agent: str, seat: str, reads: dict[int, list[str]],
                 words: int = 100) -> None:
    """Each speech's chat: the first prompt, then per round its own speech and what it read."""
    letter = "C" if agent == "consultant" else seat
    for r, messages in enumerate(prompts(trace, agent), start=1):
        expected = [first_prompt(seat).replace("100 words", f"{words} words")]
        for n in range(2, r + 1):
            expected += [f"{letter}{n - 1}: my speech", next_prompt(seat, n, reads[n], words)]
        assert [m.content for m in messages[1:]] == expected, (agent, r)
        assert [m.role for m in messages] == ["system"] + ["user", "assistant"] * (r - 1) + [
            "user"]


READS = {
    # (moves, interactive judge) -> seat -> round -> what it reads since its last speech
    ("simultaneous", False): {"A": {2: ["B1"], 3: ["B2"]}, "B": {2: ["A1"], 3: ["A2"]}},
    ("sequential", False): {"A": {2: ["B1"], 3: ["B2"]}, "B": {2: ["A1", "A2"], 3: ["A3"]}},
    ("simultaneous", True): {"A": {2: ["B1", "Q1"], 3: ["B2", "Q2"]},
                             "B": {2: ["A1", "Q1"], 3: ["A2", "Q2"]}},
    ("sequential", True): {"A": {2: ["B1", "Q1"], 3: ["B2", "Q2"]},
                           "B": {2: ["A1", "Q1", "A2"], 3: ["Q2", "A3"]}},
}


@pytest.mark.parametrize(("moves", "asks"), list(READS))
async def test_each_seat_reads_every_earlier_speech_and_in_sequential_b_reads_a_first(moves, asks):
    """Both seats, both modes, every round, the whole chat: round 1 is blind for both
    (sequential included); from round 2 each reads the other's speech of the round
    before (and the judge's question), and sequential B also A's speech of this round.

    Before: B's chat never held a speech of A (B read "" each round, A read B's), and in
    sequential mode B read A's round-1 speech in its first prompt. After: as stated.
    """
    trace = await debate(moves=moves, interactive_judge=asks)
    for agent, seat in (("debater-a", "A"), ("debater-b", "B")):
        assert_reads(trace, agent, seat, READS[(moves, asks)][seat])


@pytest.mark.parametrize("moves", ["simultaneous", "sequential"])
async def test_the_judge_reads_every_speech_and_question_in_the_order_given(moves):
    """The verdict's transcript: each round's speeches, A first, then the judge's question.

    Before and after alike (the judge always read the whole main line).
    """
    trace = await debate(moves=moves, interactive_judge=True)
    verdict = next(t for t in trace.turns if t.step == "decide")
    order = ["A1", "B1", "Q1", "A2", "B2", "Q2", "A3", "B3"]
    assert "\n\n".join(entry(name) for name in order) in verdict.messages[-1].content
    speeches = [t.id for t in trace.turns if t.kind in ("argument", "question")]
    assert verdict.saw == speeches


async def test_the_consultant_reads_the_judges_questions():
    """The consultant reads each question of the judge in its next prompt, nothing else.

    Before and after alike.
    """
    trace = await debate("consultancy")
    seat = next(t for t in trace.turns if t.agent == "consultant").fields["seat"]
    assert_reads(trace, "consultant", seat, {2: ["Q1"], 3: ["Q2"]}, words=200)


@pytest.mark.parametrize("moves", ["simultaneous", "sequential"])
async def test_a_turns_saw_lists_exactly_what_its_prompt_shows(moves):
    """``saw`` names the turns a speech's last prompt showed (the trace's own record).

    Before: B's ``saw`` was empty from round 2 on (it read nothing). After: A2 saw B1, B2
    saw A1 (and, sequential, A2).
    """
    trace = await debate(moves=moves)
    ids = {(t.agent, t.round): t.id for t in trace.turns if t.kind == "argument"}
    saw = {(t.agent, t.round): t.saw for t in trace.turns if t.kind == "argument"}
    assert saw[("debater-a", 1)] == [ids[("debater-b", 0)]]
    assert saw[("debater-b", 0)] == saw[("debater-a", 0)] == []
    expected_b = [ids[("debater-a", 0)]] + ([ids[("debater-a", 1)]] if moves == "sequential"
                                           else [])
    assert saw[("debater-b", 1)] == expected_b
