"""Debate for scalable oversight: ``debate-qa``, ``consultancy`` and ``blind-judge``.

Khan et al. 2024 ("Debating with More Persuasive LLMs Leads to More Truthful
Answers"), after Irving et al. 2018; the self-play preference data of Arnesen
et al. 2024; the private confidence of "When Two LLMs Debate, Both Think
They'll Win". A reading question has a passage, a correct answer and a wrong
one (the row's ``distractor``, else another option). Speakers see the passage;
the judge never does.

- ``debate-qa``: debater A defends answer A, debater B answer B, for ``rounds``
  rounds. Who reads what (the reference's ``quality_sim`` and ``quality_seq``):
  ``simultaneous``, within a round neither debater sees the other's speech of that
  round, and every speech of every earlier round is shown to both; ``sequential``,
  round 1 as simultaneous, and from round 2 debater B also reads A's speech of the
  same round. Each speaker keeps one chat per order; each prompt after its first
  adds what it reads now and had not read at its previous speech. The judge then
  gives its verdict.
- ``consultancy``: one consultant defends one answer (the correct one in one order,
  the wrong one in the other); the judge questions it between rounds.
- ``blind-judge``: the judge decides from the question and the two answers alone.

Which seat defends the correct answer is drawn per question (a stable hash of
its id and ``assignment_seed``); with ``both_orders`` (default) the debate is
run a second time with the seats swapped, so each answer is defended from each
seat and answer order bias cancels. One trace holds both orders: turns carry
their ``order`` (:class:`OversightSpeech`, :class:`OversightJudgment`), the judge's
verdicts their ``probabilities`` (:class:`~debate.agents.oversight_judge.JudgeVerdict`)
and ``p_correct``; ``final.details["judgments"]`` lists one judgment per
order, and the final answer is the answer with the higher mean probability
(``None`` when no verdict could be read or the mean is a tie).

What the others see of a speech (:meth:`_Oversight.shown_text`): verification tags
the speaker wrote become plain ``<quote>`` tags, a speech longer than
``cut_at_words`` is cut there with a quote the cut splits closed (the reference's
``truncate``), then every quote is checked against the passage and marked
``<v_quote>`` or ``<u_quote>``. A speech's ``quotes`` and ``verified_quotes`` count
the quotes of that text, the one the judge saw.

Where this departs from the reference code (ucl-dark/llm_debate): a swapped order
is a second debate with the seats swapped (the reference re-labels the same
transcript for simultaneous debates); speeches are not resampled (the reference
resamples speeches outside 70-150 words or without a quote; each speech's word and
quote counts are recorded instead) and are shown whole unless ``cut_at_words`` is
set (the reference cuts at 150 words; it also closes an unclosed quote of an uncut
speech and marks it truncated, here such a quote is left as written); a speaker
keeps its own chat and reads its own speeches whole (the reference rebuilds each
prompt from the cut transcript); the judge's question comes after a round (the
reference's cross-examiner opens the next: the same place in the transcript).
Private confidence is a separate call (Prasad & Nguyen ask for a bet in the
speech's own reply). Best-of-N rates a candidate by the probability of its letter
normalised over A and B (the reference: the letter's log-probability), see
:mod:`debate.protocols.oversight_best_of`.

Options beyond the paper's defaults: ``private_confidence`` (after each round
each speaker states, in a call nobody else sees, its probability of winning),
``interactive_judge`` (the judge asks one question between rounds), ``best_of``
(k > 1 speeches are sampled at every point, the preference judge rates each and
the highest-rated continues; the ``judge-preference`` export pairs them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from typing_extensions import TypeVar

from debate.agents.base import Agent, View
from debate.agents.oversight import (
    JudgeFormat,
    OversightBrief,
    Speech,
    Step,
    answer_key,
    answer_pair,
    check_quotes,
    close_split_quote,
    first_correct_seat,
)
from debate.agents.oversight_judge import JudgeVerdict
from debate.errors import ConfigError
from debate.protocols.base import (
    DebateContext,
    DebateState,
    FixedRolesProtocol,
    gather_all,
    protocol,
)
from debate.protocols.oversight_best_of import best_of, best_of_opponent_calls
from debate.protocols.oversight_config import (
    BlindJudgeConfig,
    ConsultancyConfig,
    DebateQaConfig,
    OversightConfig,
    SpeechConfig,
)
from debate.protocols.oversight_records import (
    OversightJudgment,
    OversightSpeech,
    left_behind,
    speech_seat,
)
from debate.scoring.verdicts import LABELS
from debate.trace import FinalAnswer, Question, Turn

if TYPE_CHECKING:
    from langgraph.graph import StateGraph
    from langgraph.runtime import Runtime

__all__ = ["BlindJudgeConfig", "BlindJudgeProtocol", "ConsultancyConfig", "ConsultancyProtocol",
           "DebateQaConfig", "DebateQaProtocol", "OversightConfig", "Order", "SpeechConfig"]




def _verdict(turn: Turn) -> JudgeVerdict:
    """A judge's verdict as read (empty when its call failed: no probabilities, no reason)."""
    return JudgeVerdict.read(turn) or JudgeVerdict()


def _p_correct(turn: Turn) -> float | None:
    """A scored verdict's probability on the gold answer (``None``: not read)."""
    judgment = OversightJudgment.read(turn)
    return judgment.p_correct if judgment is not None else None


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
    def on_line(turn: Turn) -> bool:
        """Whether a turn continued the debate: not a sample left behind, not a probe."""
        return not left_behind(turn) and turn.step != "probe"

    @classmethod
    def in_order(cls, turns: Sequence[Turn], order: Order) -> list[Turn]:
        """The main-line turns of ``order`` (no samples left behind, no probes)."""
        return [t for t in turns if t.fields.get("order") == order.index and cls.on_line(t)]

    def shown_text(self, raw: str, passage: str) -> tuple[str, int, int]:
        """A speech as the others see it, with its quote counts (those the judge is shown).

        A speech longer than ``cut_at_words`` is cut there, a quote the cut splits
        closed, then ``... <TRUNCATED>`` (the reference's ``truncate``); then each quote
        is checked (:func:`check_quotes`, ``quote_match``). Returns the text, the number
        of quotes and the number verified.
        """
        text = raw
        cut = getattr(self.config, "cut_at_words", None)
        words = text.split(" ")
        if cut is not None and len(words) > cut:
            text = close_split_quote(" ".join(words[:cut])) + "... <TRUNCATED>"
        return check_quotes(text, passage, strict=self.config.quote_match == "strict")

    def shown(self, turn: Turn, passage: str) -> Speech:
        """A turn as the transcript shows it (a speech as :meth:`shown_text` gives it)."""
        text = turn.raw
        if turn.kind == "argument":
            text = self.shown_text(text, passage)[0]
        return Speech(_SPEAKER_NAMES.get(turn.agent, turn.agent), turn.round, text, turn.id)

    def judge_view(self, question: Question, order: Order, transcript: Sequence[Turn | Speech],
                   step: Step, round_: int, tag: str,
                   judge_format: JudgeFormat | None = None) -> View:
        """What the judge sees: the question, both answers, the transcript (never the passage).

        ``transcript`` holds turns (shown as :meth:`shown` gives them) or speeches already
        shown; ``judge_format`` overrides the configured one (the preference judge's).
        """
        passage = question.context or ""
        brief = OversightBrief(answers=order.answers, step=step,
                               judge_format=judge_format or self.config.judge_format,
                               transcript=tuple(s if isinstance(s, Speech) else
                                                self.shown(s, passage) for s in transcript))
        return View(question, round_, tag=tag, step=step, brief=brief)

    @staticmethod
    def scored(turn: Turn, order: Order, candidate: int | None = None,
               probe_of: str | None = None, seat: str | None = None) -> Turn:
        """A verdict with its order and, when it was read, the probability on the correct answer.

        A probe also names the ``candidate`` it rated, its turn id (``probe_of``) and ``seat``.
        """
        probs = _verdict(turn).probabilities
        decision = turn.answer
        OversightJudgment(order=order.index, correct_label=order.correct, candidate=candidate,
                          probe_of=probe_of, seat=seat,
                          p_correct=None if probs is None else probs[order.correct],
                          decision=decision,
                          decided_correct=None if decision is None
                          else decision == order.correct).write(turn.fields)
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
        p_correct = [_p_correct(v) for v in verdicts]
        read = [p for p in p_correct if p is not None]
        said = [_verdict(v) for v in verdicts]
        judgments = [{"order": o.index, "answers": dict(zip(LABELS, o.answers, strict=True)),
                      "correct_label": o.correct, "speakers": o.speakers,
                      "probabilities": s.probabilities, "p_correct": p, "decision": v.answer,
                      "error": s.parse_error or v.error}
                     for o, v, p, s in zip(orders, verdicts, p_correct, said, strict=True)]
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

    rounds_meaning = ("speeches per speaker, the first included: round 0 is the first "
                      "speeches, so rounds: R gives rounds 0 to R-1")

    def max_calls(self) -> int:
        """Per order: speeches (x k, k ratings, opponents sampled), estimates, asks, verdict."""
        c = self.config
        speakers = len(self.speaker_seats)
        per_order = (c.rounds * speakers * (c.best_of + (c.best_of if c.best_of > 1 else 0))
                     + best_of_opponent_calls(c, speakers, self.sequential())
                     + (c.rounds * speakers if c.private_confidence else 0)
                     + ((c.rounds - 1) if c.interactive_judge else 0) + 1)
        return per_order * (2 if c.both_orders else 1)

    def sequential(self) -> bool:
        """Whether a later seat reads an earlier seat's speech of the round (from round 2)."""
        return False

    def reads(self, round_: int, label: str, turn: Turn) -> bool:
        """Whether seat ``label``, speaking in ``round_``, has read ``turn`` of the main line.

        Every speech and question of an earlier round; with sequential moves, from the
        second round on, also the speech of an earlier seat of the same round (the
        reference's ``quality_seq``: round 1 is simultaneous).
        """
        if turn.round < round_:
            return True
        return (self.sequential() and round_ > 0 and turn.round == round_
                and turn.kind == "argument"
                and LABELS.index(str(speech_seat(turn))) < LABELS.index(label))

    def since(self, line: Sequence[Turn], round_: int, order: Order, label: str) -> list[Turn]:
        """What seat ``label`` reads before its speech of ``round_`` and had not read before.

        The others' speeches and the judge's questions it reads now (:meth:`reads`) but did
        not read at its speech of the round before, in the order they were given.
        """
        me = order.speakers[label]
        return [t for t in line if t.agent != me and t.kind in ("argument", "question")
                and self.reads(round_, label, t)
                and not (round_ > 0 and self.reads(round_ - 1, label, t))]

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
        if self.sequential() and r > 0:
            for label, agent in seats:
                new += await self._speak(q, line + [t for t in new if self.on_line(t)], r,
                                         order, label, agent, runtime)
        else:
            spoken = await gather_all([self._speak(q, line, r, order, label, agent, runtime)
                                       for label, agent in seats])
            new += [t for group in spoken for t in group]
        main = line + [t for t in new if self.on_line(t)]
        if self.config.private_confidence:
            new += await gather_all([self._estimate(q, main, r, order, label, agent)
                                     for label, agent in seats])
        if self.config.interactive_judge and r + 1 < self.config.rounds:
            seen = [t for t in main if t.kind in ("argument", "question")]
            asked = await runtime.context.agent("judge").act(
                self.judge_view(q, order, seen, "ask", r, f"o{order.index}"))
            asked.fields.update(order=order.index)
            new.append(asked)
        return new

    def brief(self, q: Question, order: Order, label: str, step: Step,
              transcript: Sequence[Turn], sample: int = 0) -> OversightBrief:
        """A speaker's brief: its seat, the answers and what it reads now."""
        return OversightBrief(answers=order.answers, step=step, seat=label,
                              transcript=tuple(self.shown(t, q.context or "")
                                               for t in transcript),
                              rounds=self.config.rounds, word_limit=self.config.word_limit,
                              opponent=len(self.speaker_seats) > 1, sample=sample)

    def speech_view(self, q: Question, line: Sequence[Turn], r: int, order: Order, label: str,
                    agent: Agent, sample: int = 0, tag: str | None = None,
                    since: Sequence[Turn] | None = None) -> View:
        """Seat ``label``'s view for its speech of round ``r`` (sample ``i`` > 0: its own call)."""
        mine = [t for t in line if t.agent == agent.name and t.kind == "argument"]
        base = f"o{order.index}"
        return View(q, r, history=mine, step="speak",
                    tag=tag or (base if sample == 0 else f"{base}/s{sample}"),
                    brief=self.brief(q, order, label, "speak",
                                     self.since(line, r, order, label) if since is None
                                     else since, sample))

    def record(self, speech: Turn, q: Question, order: Order, label: str) -> Turn:
        """A speech's fields: order, seat, side, answer defended, words, quotes as shown."""
        _, total, verified = self.shown_text(speech.raw, q.context or "")
        OversightSpeech(order=order.index, seat=label, side=order.side(label),
                        defends=order.answers[LABELS.index(label)],
                        quotes=total, verified_quotes=verified,
                        words=len(speech.raw.split())).write(speech.fields)
        return speech

    async def _speak(self, q: Question, line: list[Turn], r: int, order: Order, label: str,
                     agent: Agent, runtime: Runtime[DebateContext]) -> list[Turn]:
        """A speech; with ``best_of`` k > 1, k sampled and the judge's favourite kept."""
        k = self.config.best_of
        speeches = await gather_all([agent.act(self.speech_view(q, line, r, order, label,
                                                                agent, i)) for i in range(k)])
        speeches = [self.record(s, q, order, label) for s in speeches]
        if k == 1:
            return speeches
        return await best_of(self, q, line, r, order, label, speeches, runtime)

    async def _estimate(self, q: Question, line: list[Turn], r: int, order: Order, label: str,
                        agent: Agent) -> Turn:
        """The speaker's private chance of winning, branching off its own chat."""
        mine = [t for t in line if t.agent == agent.name and t.kind == "argument"]
        view = View(q, r, history=mine, tag=f"o{order.index}", step="confidence",
                    brief=self.brief(q, order, label, "confidence", ()))
        turn = await agent.act(view)
        OversightSpeech(order=order.index, seat=label, side=order.side(label)).write(turn.fields)
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
        """``moves: sequential``: from round 2, B reads A's speech of the round first."""
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
