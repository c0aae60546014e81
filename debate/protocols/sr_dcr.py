"""``sr-dcr``: Self-Reflective Debate for Context Reliability.

"When to Trust Context: Self-Reflective Debates for Context Reliability"
(Zhou, Wu, Talaei et al., 2025), for questions that come with a passage
that may be wrong. The model answers closed-book (no passage) and
open-book (with it), each asked for the answer alone with a short
``answer_max_tokens`` (10, as the reference); its confidence in the
closed-book answer is the sequence probability of the answer's tokens (exp
of their summed logprobs; labels and trailing text excluded). At or above
``threshold`` (0.9) it keeps its own answer. Otherwise a defender argues
from the passage for the open-book answer and a critic, who does not see
the passage, argues from its own knowledge, for ``rounds`` rounds; a judge
reads the debate transcript alone (no passage, no question) and says
REASONABLE (answer from the context) or UNREASONABLE (keep the model's own
answer). The paper's repository has no selection code; this is the rule its
description implies.

A backend that returns no logprobs gives no confidence: the gate stays shut
and the debate decides, recorded as ``confidence_source: none``. For such
backends (Anthropic) ``confidence: stated`` asks for a stated confidence
line instead. An unreadable verdict falls back to the context answer,
recorded as such. Calls: 2, or 2 + 2 x rounds + 1 when the gate opens
(``always_debate`` forces the debate for analysis).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from debate.agents.base import View
from debate.agents.sr_dcr import ClosedBookConfidence, SrDcrBrief
from debate.judges.reliability import ReliabilityJudge
from debate.protocols.base import (
    DebateContext,
    DebateState,
    FixedRolesProtocol,
    ProtocolConfig,
    gather_round,
    protocol,
)
from debate.trace import FinalAnswer, Turn

if TYPE_CHECKING:
    from langgraph.graph import StateGraph
    from langgraph.runtime import Runtime

__all__ = ["SrDcrConfig", "SrDcrProtocol", "combine"]

class SrDcrConfig(ProtocolConfig):
    """Options of ``sr-dcr`` (defaults: the paper's; the reference runs at temperature 0)."""

    threshold: float = Field(0.9, ge=0.0, le=1.0)
    """Closed-book confidence at or above which the model keeps its own answer."""
    rounds: int = Field(5, ge=1)
    """Debate rounds (a defender and a critic argument each)."""
    critic_sees_context: bool = False
    """The notebook's variant: show the critic the passage (the paper does not)."""
    always_debate: bool = False
    """Debate even when the model is confident (for analysis; the answer rule is unchanged)."""
    confidence: Literal["logprobs", "stated"] = "logprobs"
    """``logprobs``: the answer tokens' sequence probability (the paper); ``stated``: a
    confidence the model states on a second line (for backends without logprobs)."""
    answer_max_tokens: int = Field(10, ge=1)
    """Token budget of the closed- and open-book answers (answer only, as the reference)."""


def combine(confidence: float | None, threshold: float, verdict: str | None,
            own: str | None, context: str | None) -> tuple[str | None, str]:
    """SR-DCR's final answer and the rule that chose it."""
    if confidence is not None and confidence >= threshold:
        return own, "confident: own answer"
    if verdict == "reasonable":
        return context, "judge: context reasonable"
    if verdict == "unreasonable":
        return own, "judge: context unreasonable"
    return context, "no readable verdict: context answer"


def _answer(turns: list[Turn], step: str) -> Turn:
    """The answerer's ``closed``-book or ``open``-book answer."""
    return next(t for t in turns if t.agent == "answerer" and t.step == step)


def _confidence_source(closed: Turn) -> str | None:
    """How the closed-book answer's confidence was measured (``None``: not recorded)."""
    measured = ClosedBookConfidence.read(closed)
    return measured.confidence_source if measured is not None else None


@protocol("sr-dcr")
class SrDcrProtocol(FixedRolesProtocol[SrDcrConfig]):
    """Self-confidence gate; defender (with context) vs critic (without); reliability judge."""

    paper = ("Zhou, Wu, Talaei et al. 2025, When to Trust Context: Self-Reflective Debates "
             "for Context Reliability")
    requires = ("context",)
    agent_roles = {"answerer": "context-answerer", "defender": "defender",
                   "critic": "context-critic", "judge": "reliability-judge"}
    rounds_meaning = ("debate rounds after the closed- and open-book answers: round 0 is "
                      "those answers, rounds 1 to R a defender's and a critic's argument each; "
                      "no debate when the confidence gate holds")

    def __init__(self, config: Any = None, **options: Any) -> None:
        super().__init__(config, **options)
        self.reliability = ReliabilityJudge()

    def max_calls(self) -> int:
        """2 answers, 2 arguments per round, 1 verdict."""
        return 2 + 2 * self.config.rounds + 1

    def recursion_limit(self) -> int:
        """One superstep per round, plus the answers, the judge and the decision."""
        return self.config.rounds + 6

    async def answers(self, state: DebateState,
                      runtime: Runtime[DebateContext]) -> dict[str, Any]:
        """Closed-book and open-book answers; the confidence gate."""
        answerer = runtime.context.agent("answerer")
        q = state["question"]
        brief = SrDcrBrief(confidence_from=self.config.confidence,
                           answer_max_tokens=self.config.answer_max_tokens)
        views = [View(q, 0, tag=step, step=step, brief=brief) for step in ("closed", "open")]
        closed, opened = await gather_round([answerer, answerer], views)
        confidence = closed.confidence
        update: dict[str, Any] = {"turns": [closed, opened], "round": 0}
        if confidence is not None and confidence >= self.config.threshold \
                and not self.config.always_debate:
            update["stop_reason"] = "confident"
        return update

    async def debate_round(self, state: DebateState,
                           runtime: Runtime[DebateContext]) -> dict[str, Any]:
        """The defender, then the critic, each reading the debate so far."""
        q, turns, r = state["question"], state["turns"], state["round"] + 1
        defender, critic = runtime.context.group(["defender", "critic"])
        opened = _answer(turns, "open")
        claimed = opened.answer or opened.raw.strip()
        sees = self.config.critic_sees_context
        transcript = [t for t in turns if t.kind == "argument"]
        brief = SrDcrBrief(context_answer=claimed, critic_sees_context=sees)
        d = await defender.act(View(q, r, peers=transcript, brief=brief))
        c = await critic.act(View(q, r, peers=[*transcript, d], brief=brief))
        stop = "debated" if r >= self.config.rounds else None
        return {"turns": [d, c], "round": r, "stop_reason": stop}

    async def decide(self, state: DebateState, runtime: Runtime[DebateContext]) -> dict[str, Any]:
        """Judge the debate (if there was one) and apply the answer rule."""
        q, turns = state["question"], state["turns"]
        closed, opened = _answer(turns, "closed"), _answer(turns, "open")
        transcript = [t for t in turns if t.kind == "argument"]
        new: list[Turn] = []
        verdict = None
        if transcript:
            decision = await self.reliability.decide(q, transcript, runtime.context.agent("judge"),
                                                     state["round"])
            new, verdict = decision.turns, decision.final.answer
        confidence = closed.confidence
        answer, rule = combine(confidence, self.config.threshold, verdict, closed.answer,
                               opened.answer)
        final = FinalAnswer(answer=answer, method="sr-dcr", details={
            "rule": rule, "confidence": confidence,
            "confidence_source": _confidence_source(closed),
            "threshold": self.config.threshold, "verdict": verdict,
            "own_answer": closed.answer, "context_answer": opened.answer,
            "critic_saw_context": self.config.critic_sees_context})
        return {"turns": new, "final": final}

    def graph(self) -> StateGraph[Any, Any, Any, Any]:
        """Answers -> (confident: decide | debate_round* -> decide)."""
        return self.loop_graph("answers", "debate_round", "decide")
