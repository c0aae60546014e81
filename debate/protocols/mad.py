"""``mad``: Multi-Agent Debate of Liang et al. (2023).

"Encouraging Divergent Thinking in Large Language Models through Multi-Agent Debate".

Round r: the affirmative answers (from round 2 on, replying to the negative's
last argument), the negative disagrees with the affirmative's answer of
*this* round (tit for tat, in sequence), and the moderator reads both and
either declares the answer (adaptive break) or lets the debate go on. After
the last round without a verdict, a judge lists the candidate answers, then
decides (two calls). Calls: 3 per round, +2 when the judge is needed.

The debate ends when the moderator states a preference ("yes") *and* gives a
non-empty answer, as in the authors' published debate records (the committed
code checks the answer alone: ``stop_rule: answer``). A stated answer ends the
debate whether or not it parses as the task's answer type; the final answer is
then ``None`` and the details say why. The reference code ``eval``s the
moderator's reply; we parse it, and an unusable reply is "no verdict",
recorded in the turn's ``fields``. The reference shows the judge the round-1
arguments; we show the last round's (``judge_sees_first_round: true`` brings
the reference back).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, JsonValue

from debate.agents.base import View
from debate.agents.mad import MadJudgeDecision, ModeratorVerdict
from debate.protocols.base import (
    DebateContext,
    DebateState,
    FixedRolesProtocol,
    ProtocolConfig,
    protocol,
)
from debate.trace import FinalAnswer, Turn

if TYPE_CHECKING:
    from langgraph.graph import StateGraph
    from langgraph.runtime import Runtime

__all__ = ["MadConfig", "MadProtocol"]

class MadConfig(ProtocolConfig):
    """Options of ``mad`` (defaults: the paper's)."""

    rounds: int = Field(3, ge=1)
    """Most debate rounds; the moderator may end the debate earlier."""
    judge_sees_first_round: bool = False
    """Compat: show the judge round 1's arguments, as the reference code does."""
    stop_rule: Literal["preference", "answer"] = "preference"
    """``preference``: the moderator ends the debate by stating a preference *and* a
    non-empty answer (the authors' recorded debates); ``answer`` (compat): any
    non-empty answer ends it, as the committed reference code checks."""


def _of(turns: list[Turn], agent: str, kind: str = "answer") -> list[Turn]:
    return [t for t in turns if t.agent == agent and t.kind == kind]


def _reason(decision: Turn) -> JsonValue:
    """The judge's reason for its decision (``None``: it gave none)."""
    said = MadJudgeDecision.read(decision)
    return said.reason if said is not None else None


@protocol("mad")
class MadProtocol(FixedRolesProtocol[MadConfig]):
    """Affirmative vs negative, tit for tat; a moderator may stop early; else a judge."""

    paper = ("Liang et al. 2023, Encouraging Divergent Thinking in Large Language Models "
             "through Multi-Agent Debate")
    agent_roles = {"affirmative": "affirmative", "negative": "negative",
                   "moderator": "moderator", "judge": "mad-judge"}
    rounds_meaning = ("debate rounds in all, the first included: round 0 is the first "
                      "round of arguments, so rounds: R gives rounds 0 to R-1; the moderator "
                      "may end the debate earlier")

    def max_calls(self) -> int:
        """3 per round, plus the judge's 2."""
        return 3 * self.config.rounds + 2

    def recursion_limit(self) -> int:
        """One superstep per round, plus the judge."""
        return self.config.rounds + 5

    async def debate_round(self, state: DebateState,
                           runtime: Runtime[DebateContext]) -> dict[str, Any]:
        """Affirmative, then negative, then the moderator's verdict."""
        q, turns, r = state["question"], state["turns"], state["round"] + 1
        aff, neg, mod = runtime.context.group(["affirmative", "negative", "moderator"])
        a = await aff.act(View(q, r, history=_of(turns, "affirmative"),
                               peers=_of(turns, "negative")[-1:]))
        n = await neg.act(View(q, r, history=_of(turns, "negative"), peers=[a]))
        m = await mod.act(View(q, r, history=_of(turns, "moderator", "verdict"), peers=[a, n]))
        update: dict[str, Any] = {"turns": [a, n, m], "round": r}
        if self._decided(m):
            details = {"verdict": m.fields, "round": r, "stop_rule": self.config.stop_rule}
            if m.answer is None:
                details["reason"] = "the moderator's answer does not parse as the task's type"
            update["final"] = FinalAnswer(answer=m.answer, method="moderator", details=details)
            update["stop_reason"] = "moderator"
        elif r + 1 >= self.config.rounds:
            update["stop_reason"] = "max_rounds"
        return update

    def _decided(self, verdict: Turn) -> bool:
        """Whether the moderator's verdict ends the debate (see ``stop_rule``)."""
        said = ModeratorVerdict.read(verdict)
        stated = said is not None and bool(said.debate_answer)
        if self.config.stop_rule == "answer":
            return stated
        return stated and said is not None and said.preference is True

    async def final_judge(self, state: DebateState,
                          runtime: Runtime[DebateContext]) -> dict[str, Any]:
        """No verdict: the judge lists the candidates, then decides."""
        q, turns = state["question"], state["turns"]
        shown = 0 if self.config.judge_sees_first_round else state["round"]
        sides = [t for t in turns if t.round == shown and t.kind == "answer"]
        judge = runtime.context.agent("judge")
        listed = await judge.act(View(q, shown, peers=sides, tag="candidates", step="candidates"))
        decided = await judge.act(View(q, shown, history=[listed], peers=sides, tag="decide",
                                       step="decide"))
        final = FinalAnswer(answer=decided.answer, method="judge",
                            details={"candidates": listed.raw, "reason": _reason(decided),
                                     "shown_round": shown})
        return {"turns": [listed, decided], "final": final}

    def graph(self) -> StateGraph[Any, Any, Any, Any]:
        """debate_round* -> (moderator verdict: END | judge -> END)."""
        from langgraph.graph import END, START, StateGraph

        g = StateGraph(DebateState, context_schema=DebateContext)
        g.add_node("debate_round", self.debate_round)
        g.add_node("judge", self.final_judge)

        def route(state: DebateState) -> str:
            if state["final"] is not None:
                return END
            return "judge" if state["stop_reason"] else "debate_round"

        g.add_edge(START, "debate_round")
        g.add_conditional_edges("debate_round", route, ["debate_round", "judge", END])
        g.add_edge("judge", END)
        return g
