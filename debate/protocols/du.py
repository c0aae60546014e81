"""``du``: multiagent debate of Du et al. (2023).

"Improving Factuality and Reasoning in Language Models through Multiagent Debate".

Round 0: N agents answer alone. Round r = 1..R: every agent continues its own
chat with one new message holding the *other* agents' round r-1 answers (a
frozen snapshot: the round is a barrier), and answers again. Final answer:
majority vote over round R. Calls: N x (R + 1).

``rounds`` counts debate rounds after the initial answers (the reference
code's ``rounds = 2`` is ``rounds = 1`` here). ``stop_on_consensus`` is our
addition, off by default; when it ends a debate the trace says so.
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from pydantic import Field

from debate.agents.base import View
from debate.judges.majority import is_consensus, majority_vote
from debate.protocols.base import (
    DebateContext,
    DebateProtocol,
    DebateState,
    ProtocolConfig,
    gather_round,
    protocol,
)
from debate.trace import Turn

__all__ = ["DuConfig", "DuProtocol"]


class DuConfig(ProtocolConfig):
    """Options of the ``du`` protocol (defaults: the paper's 3 agents, 2 debate rounds)."""

    agents: int = Field(3, ge=1)
    """Number of debaters."""
    rounds: int = Field(2, ge=0)
    """Debate rounds after the initial answers; each agent answers ``rounds + 1`` times."""
    stop_on_consensus: bool = False
    """End early when every agent gives the same parseable answer (not in the paper)."""


def last_round(turns: list[Turn], round_: int) -> list[Turn]:
    """The answer turns of ``round_``, in agent order."""
    return [t for t in turns if t.round == round_ and t.kind == "answer"]


@protocol("du")
class DuProtocol(DebateProtocol):
    """N debaters, R rounds of reading each other's previous answers, majority vote."""

    config_class = DuConfig
    config: DuConfig
    paper = ("Du et al. 2023, Improving Factuality and Reasoning in Language Models "
             "through Multiagent Debate")

    def agent_names(self) -> list[str]:
        """``agent-0`` ... ``agent-{N-1}``."""
        return [f"agent-{i}" for i in range(self.config.agents)]

    def recursion_limit(self) -> int:
        """One superstep per round, plus the vote."""
        return self.config.rounds + 5

    def _stop(self, round_: int, turns: list[Turn]) -> str | None:
        if self.config.stop_on_consensus and is_consensus(turns):
            return "consensus"
        if round_ >= self.config.rounds:
            return "max_rounds"
        return None

    async def answer(self, state: DebateState, runtime: Runtime[DebateContext]) -> dict[str, Any]:
        """Round 0: every agent answers alone."""
        agents = runtime.context.agents
        turns = await gather_round(agents, [View(state["question"], 0)] * len(agents))
        return {"turns": turns, "round": 0, "stop_reason": self._stop(0, turns)}

    async def debate(self, state: DebateState, runtime: Runtime[DebateContext]) -> dict[str, Any]:
        """Round r: each agent reads the others' round r-1 answers and answers again."""
        agents = runtime.context.agents
        r = state["round"] + 1
        previous = last_round(state["turns"], r - 1)
        views = [
            View(state["question"], r,
                 history=[t for t in state["turns"] if t.agent == agent.name],
                 peers=[t for t in previous if t.agent != agent.name])
            for agent in agents
        ]
        turns = await gather_round(agents, views)
        return {"turns": turns, "round": r, "stop_reason": self._stop(r, turns)}

    async def vote(self, state: DebateState) -> dict[str, Any]:
        """Majority vote over the last round's answers."""
        return {"final": majority_vote(last_round(state["turns"], state["round"]))}

    def graph(self) -> StateGraph[Any, Any, Any, Any]:
        """Answer -> debate* -> vote."""
        g = StateGraph(DebateState, context_schema=DebateContext)
        g.add_node("answer", self.answer)
        g.add_node("debate", self.debate)
        g.add_node("vote", self.vote)

        def route(state: DebateState) -> str:
            return "vote" if state["stop_reason"] else "debate"

        g.add_edge(START, "answer")
        g.add_conditional_edges("answer", route, ["debate", "vote"])
        g.add_conditional_edges("debate", route, ["debate", "vote"])
        g.add_edge("vote", END)
        return g
