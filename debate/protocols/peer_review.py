"""``peer-review``: multi-agent peer review of Xu et al. (2023).

"Towards Reasoning in Large Language Models via Multi-Agent Peer Review
Collaboration". Each of N agents solves the problem; each reviews every
other agent's solution (feedback plus a 1-10 confidence); each revises its
own solution with the reviews it received. Final answer: majority vote over
the revised answers (unparseable ones dropped). One cycle, as in the
reference. Calls: N + N(N-1) + N (12 for 3 agents).
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from pydantic import Field

from debate.agents.base import View
from debate.protocols.base import (
    DebateContext,
    DebateState,
    GroupProtocol,
    JudgedConfig,
    gather_round,
    protocol,
)

__all__ = ["PeerReviewConfig", "PeerReviewProtocol"]


class PeerReviewConfig(JudgedConfig):
    """Options of ``peer-review`` (defaults: the paper's)."""

    agents: int = Field(3, ge=2)
    """Number of agents; each solves, reviews the others and revises."""


@protocol("peer-review")
class PeerReviewProtocol(GroupProtocol):
    """Solve, review every other solution with a confidence, revise; majority vote."""

    member_role = "peer"
    config_class = PeerReviewConfig
    config: PeerReviewConfig
    paper = ("Xu et al. 2023, Towards Reasoning in Large Language Models via Multi-Agent "
             "Peer Review Collaboration")

    def max_calls(self) -> int:
        """N solutions + N(N-1) reviews + N revisions, plus the judge's calls."""
        n = self.config.agents
        return n * n + n + self.judge_calls()

    async def solve(self, state: DebateState, runtime: Runtime[DebateContext]) -> dict[str, Any]:
        """Step 1: every agent solves alone."""
        agents = runtime.context.group(self.member_names())
        view = View(state["question"], 0, extra={"step": "solve"})
        return {"turns": await gather_round(agents, [view] * len(agents)), "round": 0}

    async def review(self, state: DebateState, runtime: Runtime[DebateContext]) -> dict[str, Any]:
        """Step 2: every agent reviews every other agent's solution."""
        agents = runtime.context.group(self.member_names())
        q, solutions = state["question"], state["turns"]
        reviewers, views = [], []
        for agent in agents:
            own = [t for t in solutions if t.agent == agent.name]
            for target in solutions:
                if target.agent != agent.name:
                    reviewers.append(agent)
                    views.append(View(q, 0, history=own, peers=[target], tag=target.agent,
                                      extra={"step": "review"}))
        return {"turns": await gather_round(reviewers, views)}

    async def revise(self, state: DebateState, runtime: Runtime[DebateContext]) -> dict[str, Any]:
        """Step 3: every agent revises with the reviews of its own solution."""
        agents = runtime.context.group(self.member_names())
        q, turns = state["question"], state["turns"]
        views = [View(q, 1, history=[t for t in turns if t.agent == a.name and t.kind == "answer"],
                      peers=[t for t in turns if t.kind == "review"
                             and t.fields.get("reviewed") == a.name],
                      extra={"step": "revise"}) for a in agents]
        return {"turns": await gather_round(agents, views), "round": 1, "stop_reason": "done"}

    async def vote(self, state: DebateState, runtime: Runtime[DebateContext]) -> dict[str, Any]:
        """The configured judge (majority by default) over the revised answers."""
        revised = [t for t in state["turns"] if t.kind == "revision"]
        return await self.conclude(state, runtime, revised)

    def graph(self) -> StateGraph[Any, Any, Any, Any]:
        """Solve -> review -> revise -> vote."""
        g = StateGraph(DebateState, context_schema=DebateContext)
        for name in ("solve", "review", "revise", "vote"):
            g.add_node(name, getattr(self, name))
        g.add_edge(START, "solve")
        g.add_edge("solve", "review")
        g.add_edge("review", "revise")
        g.add_edge("revise", "vote")
        g.add_edge("vote", END)
        return g
