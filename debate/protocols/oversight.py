"""Debate for scalable oversight: ``debate-qa``, ``consultancy`` and ``blind-judge``.

Khan et al. 2024 ("Debating with More Persuasive LLMs Leads to More Truthful
Answers"), after Irving et al. 2018; the self-play preference data of Arnesen
et al. 2024; the private confidence of "When Two LLMs Debate, Both Think
They'll Win". A reading question has a passage, a correct answer and a wrong
one (the row's ``distractor``, else another option). Speakers see the passage;
the judge never does.

- ``debate-qa``: debater A defends answer A, debater B answer B, for ``rounds``
  rounds, ``simultaneous`` (both write blind each round) or ``sequential`` (B
  reads A's speech of the round first). The judge then states a probability
  for each answer.
- ``consultancy``: one consultant defends one answer (the correct one in one
  order, the wrong one in the other); the judge questions it between rounds.
- ``blind-judge``: the judge decides from the question and the two answers alone.

Which seat defends the correct answer is drawn per question (a stable hash of
its id and ``assignment_seed``); with ``both_orders`` (default) the debate is
run a second time with the seats swapped, so each answer is defended from each
seat and answer order bias cancels. One trace holds both orders: turns carry
``fields["order"]``, the judge's verdicts ``fields["probabilities"]`` and
``fields["p_correct"]``; ``final.details["judgments"]`` lists one judgment per
order, and the final answer is the answer with the higher mean probability
(``None`` when no verdict could be read or the mean is a tie).

Where this departs from the reference code (ucl-dark/llm_debate): the judge
*states* probabilities (the reference's judge answers A or B and its
probability comes from the answer token's logprobs: ``judge_confidence:
logprobs`` brings that back); a swapped order is a second debate with the seats
swapped (the reference re-labels the same transcript for simultaneous
debates); speeches are not resampled (the reference resamples speeches
outside 70-150 words or without a quote; each speech's word and quote counts
are recorded instead) and are shown whole unless ``cut_at_words`` is set (the
reference cuts at 150 words); quotes match with
punctuation made spaces (the reference deletes ASCII punctuation). Private
confidence is a separate call (Prasad & Nguyen ask for a bet in the speech's
own reply), and a sampled speech is scored by the judge right after it
(Arnesen et al. roll each out to the end).

Options beyond the paper's defaults: ``private_confidence`` (after each round
each speaker states, in a call nobody else sees, its probability of winning),
``interactive_judge`` (the judge asks one question between rounds),
``speech_samples`` (k > 1 speeches are sampled at every point of the debate,
the first continues it and each is scored by a judge call on the debate up to
that speech: the ``judge-preference`` export pairs them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field
from typing_extensions import TypeVar

from debate.agents.base import Agent, View
from debate.agents.oversight import (
    LABELS,
    OversightBrief,
    Speech,
    Step,
    answer_key,
    answer_pair,
    check_quotes,
    first_correct_seat,
)
from debate.errors import ConfigError
from debate.protocols.base import (
    DebateContext,
    DebateState,
    FixedRolesProtocol,
    ProtocolConfig,
    gather_all,
    protocol,
)
from debate.trace import FinalAnswer, Question, Turn

if TYPE_CHECKING:
    from langgraph.graph import StateGraph
    from langgraph.runtime import Runtime

__all__ = ["BlindJudgeConfig", "BlindJudgeProtocol", "ConsultancyConfig", "ConsultancyProtocol",
           "DebateQaConfig", "DebateQaProtocol", "OversightConfig", "Order"]


class OversightConfig(ProtocolConfig):
    """Options every oversight protocol shares."""

    both_orders: bool = True
    """Run each question twice with the sides swapped (each answer defended from each seat)."""
    distractor_field: str = "distractor"
    """The dataset column with the wrong answer (else one of the other options is drawn)."""
    assignment_seed: int = Field(default=0, ge=0, le=2**63 - 1)
    """Seed of the per-question draw of which seat defends the correct answer first."""
    judge_confidence: Literal["stated", "logprobs"] = "stated"
    """``stated``: the judge writes a probability for each answer; ``logprobs`` (compat,
    the reference's judge): it answers A or B, and the probabilities are the softmax of
    the two letters' log-probabilities at the answer token (top 5; the backend must
    return log-probabilities, else the verdict is unreadable)."""


class SpeechConfig(OversightConfig):
    """Options of the protocols in which speakers argue (debate, consultancy)."""

    rounds: int = Field(3, ge=1)
    """Speeches per speaker."""
    word_limit: int = Field(100, ge=1)
    """Words per speech, stated in the prompt (each speech's count is in its fields)."""
    cut_at_words: int | None = Field(None, ge=1)
    """Compat (the reference cuts at 150 words, 300 for consultants): what the opponent
    and the judge see of a longer speech ends after this many words with
    ``... <TRUNCATED>``; the trace keeps the whole reply. ``None``: shown whole."""
    interactive_judge: bool = False
    """The judge asks the speakers one question after every round but the last."""
    private_confidence: bool = False
    """After each round each speaker privately states its chance of winning (0-100)."""
    speech_samples: int = Field(1, ge=1)
    """Speeches sampled at every point (k > 1: preference data; see the module doc)."""


class DebateQaConfig(SpeechConfig):
    """Options of ``debate-qa`` (defaults: Khan et al. 2024)."""

    moves: Literal["simultaneous", "sequential"] = "simultaneous"
    """``simultaneous``: both debaters write each round blind; ``sequential``: B reads A's
    speech of the round first."""


class ConsultancyConfig(SpeechConfig):
    """Options of ``consultancy`` (defaults: Khan et al. 2024)."""

    word_limit: int = Field(200, ge=1)
    """Words per speech, stated in the prompt (the reference asks consultants for 200)."""

    interactive_judge: bool = True
    """The judge questions the consultant after every round but the last."""


class BlindJudgeConfig(OversightConfig):
    """Options of ``blind-judge`` (none beyond the shared ones)."""


@dataclass(frozen=True)
class Order:
    """One run of a question: which answer each label has and who defends which label."""

    index: int
    answers: tuple[str, str]
    """Answer A and answer B."""
    correct: str
    """The label of the correct answer."""
    speakers: dict[str, str]
    """Label -> the agent defending it (both for debate, one for consultancy, none blind)."""

    def side(self, label: str) -> str:
        """``correct`` or ``incorrect``."""
        return "correct" if label == self.correct else "incorrect"


OversightT = TypeVar("OversightT", bound=OversightConfig, default=OversightConfig)
SpeechT = TypeVar("SpeechT", bound=SpeechConfig, default=SpeechConfig)

_SPEAKER_NAMES = {"debater-a": "Debater A", "debater-b": "Debater B",
                  "consultant": "Consultant", "judge": "Judge"}


class _Oversight(FixedRolesProtocol[OversightT]):
    """What the three protocols share: orders, the judge's verdict, the final answer."""

    requires: ClassVar[tuple[str, ...]] = ("context",)
    speaker_seats: ClassVar[tuple[str, ...]] = ()
    """Agent names of the speakers, in label order (seat A first)."""

    def check_questions(self, questions: Sequence[Question]) -> None:
        """Every question needs a passage, a gold answer and a wrong answer to defend."""
        if self.requires:
            super().check_questions(questions)
        for question in questions:
            try:
                answer_pair(question, self.config.distractor_field)
            except ValueError as exc:
                raise ConfigError(f"protocol {self.name!r}: {exc}") from None

    def orders(self, question: Question) -> list[Order]:
        """The question's orders (two with ``both_orders``)."""
        correct, wrong = answer_pair(question, self.config.distractor_field)
        first = first_correct_seat(question, self.config.assignment_seed)
        orders = []
        for i in range(2 if self.config.both_orders else 1):
            label = first if i == 0 else LABELS[1 - LABELS.index(first)]
            answers = (correct, wrong) if label == "A" else (wrong, correct)
            orders.append(Order(i, answers, label,
                                dict(zip(LABELS, self.speaker_seats, strict=False))))
        return orders

    def recursion_limit(self) -> int:
        """One superstep per round, plus the verdict."""
        return getattr(self.config, "rounds", 0) + 5

    @staticmethod
    def in_order(turns: Sequence[Turn], order: Order) -> list[Turn]:
        """The main-line turns of ``order`` (no sampled alternatives, no probes)."""
        return [t for t in turns if t.fields.get("order") == order.index
                and not t.fields.get("sample") and t.step != "probe"]

    def shown(self, turn: Turn, passage: str) -> Speech:
        """A turn as the transcript shows it (a speech cut at ``cut_at_words``, quotes marked)."""
        text = turn.raw
        if turn.kind == "argument":
            cut = getattr(self.config, "cut_at_words", None)
            words = text.split(" ")
            if cut is not None and len(words) > cut:
                text = " ".join(words[:cut]) + " ... <TRUNCATED>"
            text = check_quotes(text, passage)[0]
        return Speech(_SPEAKER_NAMES.get(turn.agent, turn.agent), turn.round, text, turn.id)

    def judge_view(self, question: Question, order: Order, transcript: Sequence[Turn],
                   step: Step, round_: int, tag: str) -> View:
        """What the judge sees: the question, both answers, the transcript (never the passage)."""
        brief = OversightBrief(answers=order.answers, step=step,
                               judge_confidence=self.config.judge_confidence,
                               transcript=tuple(self.shown(t, question.context or "")
                                                for t in transcript))
        return View(question, round_, tag=tag, step=step, oversight=brief)

    @staticmethod
    def scored(turn: Turn, order: Order, **extra: Any) -> Turn:
        """A verdict with its order and, when it was read, the probability on the correct answer."""
        probs = turn.fields.get("probabilities")
        decision = turn.answer
        turn.fields.update(order=order.index, correct_label=order.correct, **extra,
                           p_correct=None if probs is None else probs[order.correct],
                           decision=decision,
                           decided_correct=None if decision is None
                           else decision == order.correct)
        return turn

    async def verdict(self, state: DebateState,
                      runtime: Runtime[DebateContext]) -> dict[str, Any]:
        """The judge's probabilities per order; the final answer from their mean."""
        q, turns = state["question"], state["turns"]
        judge = runtime.context.agent("judge")
        orders = self.orders(q)
        shown = [[t for t in self.in_order(turns, o) if t.kind in ("argument", "question")]
                 for o in orders]
        verdicts = await gather_all([
            judge.act(self.judge_view(q, o, seen, "decide", max(state["round"], 0), f"o{o.index}"))
            for o, seen in zip(orders, shown, strict=True)])
        verdicts = [self.scored(v, o) for v, o in zip(verdicts, orders, strict=True)]
        return {"turns": verdicts, "final": self.final(q, orders, verdicts)}

    def final(self, question: Question, orders: list[Order], verdicts: list[Turn]) -> FinalAnswer:
        """The answer with the higher mean probability over the orders whose verdict was read."""
        correct, wrong = answer_pair(question, self.config.distractor_field)
        read = [v.fields["p_correct"] for v in verdicts if v.fields.get("p_correct") is not None]
        judgments = [{"order": o.index, "answers": dict(zip(LABELS, o.answers, strict=True)),
                      "correct_label": o.correct, "speakers": o.speakers,
                      "probabilities": v.fields.get("probabilities"),
                      "p_correct": v.fields.get("p_correct"), "decision": v.answer,
                      "error": v.fields.get("parse_error") or v.error}
                     for o, v in zip(orders, verdicts, strict=True)]
        details: dict[str, Any] = {"judgments": judgments, "read": len(read),
                                   "orders": len(orders)}
        if not read:
            details["reason"] = "no verdict could be read"
            return FinalAnswer(answer=None, method="judge", details=details)
        p = sum(read) / len(read)
        votes = {answer_key(question, correct): p, answer_key(question, wrong): 1 - p}
        answer = None if p == 0.5 else answer_key(question, correct if p > 0.5 else wrong)
        if answer is None:
            details["reason"] = "the mean probability is a tie"
        return FinalAnswer(answer=answer, method="judge", votes=votes, details=details)


class _Speeches(_Oversight[SpeechT]):
    """Protocols with speakers: rounds of speeches, then the verdict."""

    def max_calls(self) -> int:
        """Per order: speeches (x k, and k probes when k > 1), estimates, questions, verdict."""
        c = self.config
        speakers = len(self.speaker_seats)
        k = c.speech_samples
        per_order = (c.rounds * speakers * (k + (k if k > 1 else 0))
                     + (c.rounds * speakers if c.private_confidence else 0)
                     + ((c.rounds - 1) if c.interactive_judge else 0) + 1)
        return per_order * (2 if c.both_orders else 1)

    def sequential(self) -> bool:
        """Whether speakers of one round speak one after the other."""
        return False

    async def speech_round(self, state: DebateState,
                           runtime: Runtime[DebateContext]) -> dict[str, Any]:
        """One round in every order (orders run concurrently)."""
        q, turns, r = state["question"], state["turns"], state["round"] + 1
        done = await gather_all([self._order_round(q, turns, r, o, runtime)
                                 for o in self.orders(q)])
        update: dict[str, Any] = {"turns": [t for group in done for t in group], "round": r}
        if r + 1 >= self.config.rounds:
            update["stop_reason"] = "max_rounds"
        return update

    async def _order_round(self, q: Question, turns: list[Turn], r: int, order: Order,
                           runtime: Runtime[DebateContext]) -> list[Turn]:
        line = self.in_order(turns, order)  # this order's debate so far, in order
        new: list[Turn] = []
        seats = [(label, runtime.context.agent(name)) for label, name in order.speakers.items()]
        if self.sequential():
            for label, agent in seats:
                new += await self._speak(q, line + new, r, order, label, agent, runtime)
        else:
            spoken = await gather_all([self._speak(q, line, r, order, label, agent, runtime)
                                       for label, agent in seats])
            new += [t for group in spoken for t in group]
        if self.config.private_confidence:
            new += await gather_all([self._estimate(q, line + new, r, order, label, agent)
                                     for label, agent in seats])
        if self.config.interactive_judge and r + 1 < self.config.rounds:
            seen = [t for t in line + new if t.kind in ("argument", "question")
                    and not t.fields.get("sample")]
            asked = await runtime.context.agent("judge").act(
                self.judge_view(q, order, seen, "ask", r, f"o{order.index}"))
            asked.fields.update(order=order.index)
            new.append(asked)
        return new

    def _brief(self, q: Question, order: Order, label: str, step: Step,
               transcript: Sequence[Turn], sample: int = 0) -> OversightBrief:
        return OversightBrief(answers=order.answers, step=step, seat=label,
                              transcript=tuple(self.shown(t, q.context or "")
                                               for t in transcript),
                              rounds=self.config.rounds, word_limit=self.config.word_limit,
                              opponent=len(self.speaker_seats) > 1, sample=sample)

    async def _speak(self, q: Question, line: list[Turn], r: int, order: Order, label: str,
                     agent: Agent, runtime: Runtime[DebateContext]) -> list[Turn]:
        """A speech (k samples when ``speech_samples`` > 1, each scored by a judge probe)."""
        mine = [t for t in line if t.agent == agent.name and t.kind == "argument"]
        last = line.index(mine[-1]) if mine else -1
        since = [t for t in line[last + 1:] if t.agent != agent.name
                 and t.kind in ("argument", "question")]
        k = self.config.speech_samples
        tag = f"o{order.index}"
        views = [View(q, r, history=mine, tag=tag if i == 0 else f"{tag}/s{i}", step="speak",
                      oversight=self._brief(q, order, label, "speak", since, i)) for i in range(k)]
        speeches = await gather_all([agent.act(v) for v in views])
        passage = q.context or ""
        for i, speech in enumerate(speeches):
            _, total, verified = check_quotes(speech.raw, passage)
            speech.fields.update(order=order.index, seat=label, side=order.side(label),
                                 defends=order.answers[LABELS.index(label)],
                                 quotes=total, verified_quotes=verified,
                                 words=len(speech.raw.split()))
            if k > 1:
                speech.fields.update(sample=i, point=f"o{order.index}/r{r}/{label}")
        if k == 1:
            return speeches
        shown = [t for t in line if t.kind in ("argument", "question")]
        judge = runtime.context.agent("judge")
        probes = await gather_all([
            judge.act(self.judge_view(q, order, [*shown, s], "probe", r,
                                      f"o{order.index}/r{r}/{label}/s{i}"))
            for i, s in enumerate(speeches)])
        for i, (speech, probe) in enumerate(zip(speeches, probes, strict=True)):
            self.scored(probe, order, sample=i, probe_of=speech.id, seat=label)
            probs = probe.fields.get("probabilities")
            speech.fields["judge_p_own"] = None if probs is None else probs[label]
        return [*speeches, *probes]

    async def _estimate(self, q: Question, line: list[Turn], r: int, order: Order, label: str,
                        agent: Agent) -> Turn:
        """The speaker's private chance of winning, branching off its own chat."""
        mine = [t for t in line if t.agent == agent.name and t.kind == "argument"
                and not t.fields.get("sample")]
        view = View(q, r, history=mine, tag=f"o{order.index}", step="confidence",
                    oversight=self._brief(q, order, label, "confidence", ()))
        turn = await agent.act(view)
        turn.fields.update(order=order.index, seat=label, side=order.side(label))
        return turn

    def graph(self) -> StateGraph[Any, Any, Any, Any]:
        """Rounds of speeches, then the verdict."""
        from langgraph.graph import END, START, StateGraph

        g = StateGraph(DebateState, context_schema=DebateContext)
        g.add_node("speech_round", self.speech_round)
        g.add_node("verdict", self.verdict)

        def route(state: DebateState) -> str:
            return "verdict" if state["stop_reason"] else "speech_round"

        g.add_edge(START, "speech_round")
        g.add_conditional_edges("speech_round", route, ["speech_round", "verdict"])
        g.add_edge("verdict", END)
        return g


@protocol("debate-qa")
class DebateQaProtocol(_Speeches[DebateQaConfig]):
    """Two debaters argue assigned answers from a passage; a judge without it decides."""

    paper = ("Khan et al. 2024, Debating with More Persuasive LLMs Leads to More Truthful "
             "Answers (after Irving et al. 2018, AI safety via debate)")
    agent_roles = {"debater-a": "qa-debater", "debater-b": "qa-debater", "judge": "qa-judge"}
    speaker_seats = ("debater-a", "debater-b")

    def sequential(self) -> bool:
        """``moves: sequential``: B reads A's speech of the round first."""
        return self.config.moves == "sequential"


@protocol("consultancy")
class ConsultancyProtocol(_Speeches[ConsultancyConfig]):
    """One consultant argues an assigned answer (right in one order, wrong in the other)."""

    paper = "Khan et al. 2024 (consultancy baseline)"
    agent_roles = {"consultant": "consultant", "judge": "qa-judge"}
    speaker_seats = ("consultant",)

    def orders(self, question: Question) -> list[Order]:
        """Debate's orders (the correct answer is A in one, B in the other), one speaker.

        The consultant defends the correct answer in one order and the wrong one in
        the other; which comes first is drawn per question, apart from the seats.
        """
        right_first = first_correct_seat(question, self.config.assignment_seed + 1) == "A"
        orders = []
        for order in super().orders(question):
            right = right_first if order.index == 0 else not right_first
            seat = order.correct if right else LABELS[1 - LABELS.index(order.correct)]
            orders.append(Order(order.index, order.answers, order.correct, {seat: "consultant"}))
        return orders


@protocol("blind-judge")
class BlindJudgeProtocol(_Oversight[BlindJudgeConfig]):
    """The judge decides from the question and the two answers alone (no speakers)."""

    paper = "Khan et al. 2024 (blind judge baseline)"
    agent_roles = {"judge": "qa-judge"}
    requires = ()

    def max_calls(self) -> int:
        """One verdict per order."""
        return 2 if self.config.both_orders else 1

    def graph(self) -> StateGraph[Any, Any, Any, Any]:
        """The verdict alone."""
        return self.one_node_graph("verdict")
