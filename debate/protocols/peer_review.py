"""``peer-review``: multi-agent peer review of Xu et al. (2023).

"Towards Reasoning in Large Language Models via Multi-Agent Peer Review
Collaboration". Each of N agents solves the problem; each reviews every
other agent's solution (feedback plus a 1-10 confidence); each revises its
own solution with the reviews it received. Final answer: majority vote over
the revised answers (unparseable ones dropped). One cycle, as in the
reference. Calls: N + N(N-1) + N (12 for 3 agents).

Memory follows the reference's recorded transcripts (``review_memory:
chat``): each agent keeps one chat, writes its reviews of the others one
after another in it (in agent order), and revises at its end, so the
reviser sees its own solution, the others' solutions, its own reviews and
the reviews it received. ``review_memory: branch`` (compat) is the older
shape: every review and the revision branch off the solving chat.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from debate.agents.base import Agent, View
from debate.agents.peer import PeerReview
from debate.protocols.base import (
    DebateContext,
    DebateState,
    GroupProtocol,
    JudgedConfig,
    gather_all,
    gather_round,
    protocol,
)
from debate.trace import Turn

if TYPE_CHECKING:
    from langgraph.graph import StateGraph
    from langgraph.runtime import Runtime

__all__ = ["PeerReviewConfig", "PeerReviewProtocol"]


class PeerReviewConfig(JudgedConfig):
    """Options of ``peer-review`` (defaults: the paper's)."""

    agents: int = Field(3, ge=2)
    """Number of agents; each solves, reviews the others and revises."""
    review_memory: Literal["chat", "branch"] = "chat"
    """``chat``: one chat per agent, reviews written in turn, revision at its end (the
    reference's transcripts); ``branch`` (compat): each review and the revision branch
    off the solving chat, and the reviser sees only its solution and its reviews."""


def _reviewed(review: Turn) -> str | None:
    """The agent whose solution a review is of (``None``: a failed call names none)."""
    said = PeerReview.read(review)
    return said.reviewed if said is not None else None


@protocol("peer-review")
class PeerReviewProtocol(GroupProtocol[PeerReviewConfig]):
    """Solve, review every other solution with a confidence, revise; majority vote."""

    member_role = "peer"
    paper = ("Xu et al. 2023, Towards Reasoning in Large Language Models via Multi-Agent "
             "Peer Review Collaboration")

    def max_calls(self) -> int:
        """N solutions + N(N-1) reviews + N revisions, plus the judge's calls."""
        n = self.config.agents
        return n * n + n + self.judge_calls()

    async def solve(self, state: DebateState, runtime: Runtime[DebateContext]) -> dict[str, Any]:
        """Step 1: every agent solves alone."""
        agents = runtime.context.group(self.member_names())
        view = View(state["question"], 0, step="solve")
        return {"turns": await gather_round(agents, [view] * len(agents)), "round": 0}

    async def review(self, state: DebateState, runtime: Runtime[DebateContext]) -> dict[str, Any]:
        """Step 2: every agent reviews every other agent's solution.

        Agents review in parallel; one agent's reviews follow one another in its chat
        (all at once, each off the solving chat, with ``review_memory: branch``).
        """
        agents = runtime.context.group(self.member_names())
        q, solutions = state["question"], state["turns"]
        memory = self.config.review_memory
        if self.config.review_memory == "branch":
            reviewers, views = [], []
            for agent in agents:
                own = [t for t in solutions if t.agent == agent.name]
                for target in solutions:
                    if target.agent != agent.name:
                        reviewers.append(agent)
                        views.append(View(q, 0, history=own, peers=[target], tag=target.agent,
                                          step="review", memory=memory))
            return {"turns": await gather_round(reviewers, views)}

        async def reviews_by(agent: Agent) -> list[Turn]:
            chat = [t for t in solutions if t.agent == agent.name]
            targets = [t for t in solutions if t.agent != agent.name]
            for k, target in enumerate(targets):
                chat.append(await agent.act(View(q, 0, history=chat, peers=targets[:k + 1],
                                                 tag=target.agent, step="review", memory=memory)))
            return chat[1:]

        written = await gather_all([reviews_by(agent) for agent in agents])
        return {"turns": [turn for turns in written for turn in turns]}

    async def revise(self, state: DebateState, runtime: Runtime[DebateContext]) -> dict[str, Any]:
        """Step 3: every agent revises with the reviews of its own solution.

        Its view holds its own chat (solution, then its reviews) and, as peers, the
        other agents' solutions (already in that chat) and the reviews it received.
        """
        agents = runtime.context.group(self.member_names())
        q, turns = state["question"], state["turns"]
        chat = self.config.review_memory == "chat"
        views = []
        for a in agents:
            own = [t for t in turns if t.agent == a.name and (chat or t.kind == "answer")]
            others = [t for t in turns if t.agent != a.name and t.kind == "answer"] if chat else []
            received = [t for t in turns if t.kind == "review" and _reviewed(t) == a.name]
            views.append(View(q, 1, history=own, peers=others + received, step="revise",
                              memory=self.config.review_memory))
        return {"turns": await gather_round(agents, views), "round": 1, "stop_reason": "done"}

    async def vote(self, state: DebateState, runtime: Runtime[DebateContext]) -> dict[str, Any]:
        """The configured judge (majority by default) over the revised answers."""
        revised = [t for t in state["turns"] if t.kind == "revision"]
        return await self.conclude(state, runtime, revised)

    def graph(self) -> StateGraph[Any, Any, Any, Any]:
        """Solve -> review -> revise -> vote."""
        from langgraph.graph import END, START, StateGraph

        g = StateGraph(DebateState, context_schema=DebateContext)
        for name in ("solve", "review", "revise", "vote"):
            g.add_node(name, getattr(self, name))
        g.add_edge(START, "solve")
        g.add_edge("solve", "review")
        g.add_edge("review", "revise")
        g.add_edge("revise", "vote")
        g.add_edge("vote", END)
        return g
