"""``critique-refine`` and ``self-refine``: draft, critique, refine until accepted.

A solver drafts; a critic points out errors or accepts; a refiner revises
the solution given the critique; repeat until the critic accepts or after R
refinements (Table-Critic-style role split). ``self-refine`` is the
single-model baseline: one agent plays all three roles on itself and, as in
Madaan et al., keeps every earlier iteration (each attempt with its
feedback) in its prompts (``history: all``; ``critique-refine`` shows only
the current solution and critique, ``history: last``). The final
answer is the last solution (draft or refinement); with ``judge: llm`` a
judge chooses among all the solutions instead. Calls: 1 + 2 per refinement,
fewer when the critic accepts early (and +1 per judge call).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from debate.agents.base import Agent, View
from debate.agents.critique import CritiqueVerdict
from debate.protocols.base import (
    DebateContext,
    DebateState,
    FixedRolesProtocol,
    JudgedConfig,
    protocol,
)
from debate.trace import Turn

if TYPE_CHECKING:
    from langgraph.graph import StateGraph
    from langgraph.runtime import Runtime

__all__ = ["CritiqueRefineConfig", "CritiqueRefineProtocol", "SelfRefineConfig",
           "SelfRefineProtocol"]


class CritiqueRefineConfig(JudgedConfig):
    """Options of ``critique-refine`` / ``self-refine``."""

    rounds: int = Field(3, ge=0)
    """Most refinements; the critic may accept earlier."""
    judge: str = "last"
    """``last``: the last solution is the answer; or another judge over every solution."""
    history: Literal["last", "all"] = "last"
    """``last``: the critic and refiner see the current solution (and critique) only;
    ``all``: also every earlier attempt with its critique (Self-Refine)."""
    unparsed_verdict: Literal["revise", "accept"] = "revise"
    """What a critique without a readable accept/revise verdict counts as. Default
    ``revise``: the loop goes on (the turn records the verdict as unparsed)."""


class SelfRefineConfig(CritiqueRefineConfig):
    """Options of ``self-refine`` (Madaan et al.: every earlier iteration stays in the prompt)."""

    history: Literal["last", "all"] = "all"
    """``all``: every earlier attempt with its feedback (Madaan et al.); ``last``: only the
    current one."""


def _solutions(turns: list[Turn]) -> list[Turn]:
    return [t for t in turns if t.kind in ("answer", "revision")]


@protocol("critique-refine")
class CritiqueRefineProtocol(FixedRolesProtocol[CritiqueRefineConfig]):
    """Solver drafts, critic critiques (or accepts), refiner revises; repeat."""

    paper = "critique-refine (Table-Critic-style solver / critic / refiner)"
    agent_roles = {"solver": "solver", "critic": "critic", "refiner": "refiner"}
    rounds_meaning = ("most refinements after the draft: round 0 is the draft and its "
                      "critique, round r the r-th refinement and its critique; the critic "
                      "may accept earlier")

    def max_calls(self) -> int:
        """A draft, then a critique and a refinement per round, plus the judge's calls."""
        return 1 + 2 * self.config.rounds + self.judge_calls()

    def recursion_limit(self) -> int:
        """Two supersteps per refinement, plus draft and decision."""
        return 2 * self.config.rounds + 6

    def _agent(self, runtime: Runtime[DebateContext], name: str) -> Agent:
        """The agent called ``name``; with one agent (self-refine), that agent."""
        return runtime.context.agent(name if name in self.agent_roles
                                     else next(iter(self.agent_roles)))

    async def draft(self, state: DebateState, runtime: Runtime[DebateContext]) -> dict[str, Any]:
        """The first solution."""
        turn = await self._agent(runtime, "solver").act(
            View(state["question"], 0, step="draft"))
        return {"turns": [turn], "round": 0}

    def _earlier(self, turns: list[Turn]) -> list[Turn]:
        """The (solution, critique) pairs before the current solution, when ``history: all``."""
        if self.config.history == "last":
            return []
        solutions = _solutions(turns)
        critiques = [t for t in turns if t.kind == "critique"]
        return [t for i in range(len(solutions) - 1) for t in (solutions[i], critiques[i])]

    async def critique(self, state: DebateState,
                       runtime: Runtime[DebateContext]) -> dict[str, Any]:
        """The critic reads the current solution; accepting ends the loop."""
        current = _solutions(state["turns"])[-1]
        peers = [*self._earlier(state["turns"]), current]
        turn = await self._agent(runtime, "critic").act(
            View(state["question"], state["round"], peers=peers, step="critique"))
        said = CritiqueVerdict.read(turn)
        verdict = said.verdict if said is not None else None
        if verdict is None:
            turn.fields["verdict_policy"] = self.config.unparsed_verdict
        accepted = (verdict or self.config.unparsed_verdict) == "accept"
        turn.fields["accepted"] = accepted
        update: dict[str, Any] = {"turns": [turn]}
        if accepted:
            update["stop_reason"] = "accepted"
        elif state["round"] >= self.config.rounds:
            update["stop_reason"] = "max_rounds"
        return update

    async def refine(self, state: DebateState, runtime: Runtime[DebateContext]) -> dict[str, Any]:
        """The refiner revises the current solution given the critique."""
        current = _solutions(state["turns"])[-1]
        critique = [t for t in state["turns"] if t.kind == "critique"][-1]
        r = state["round"] + 1
        peers = [*self._earlier(state["turns"]), current, critique]
        turn = await self._agent(runtime, "refiner").act(
            View(state["question"], r, peers=peers, step="refine"))
        stop = "max_rounds" if r >= self.config.rounds else None
        return {"turns": [turn], "round": r, "stop_reason": stop}

    async def decide(self, state: DebateState, runtime: Runtime[DebateContext]) -> dict[str, Any]:
        """The configured judge over every solution (default ``last``: the last one)."""
        return await self.conclude(state, runtime, _solutions(state["turns"]))

    def graph(self) -> StateGraph[Any, Any, Any, Any]:
        """Draft -> (critique -> refine)* -> decide."""
        from langgraph.graph import END, START, StateGraph

        g = StateGraph(DebateState, context_schema=DebateContext)
        for name in ("draft", "critique", "refine", "decide"):
            g.add_node(name, getattr(self, name))
        g.add_edge(START, "draft")

        def after_draft(state: DebateState) -> str:
            return "critique" if self.config.rounds > 0 else "decide"

        def after_critique(state: DebateState) -> str:
            return "decide" if state["stop_reason"] else "refine"

        def after_refine(state: DebateState) -> str:
            return "decide" if state["stop_reason"] else "critique"

        g.add_conditional_edges("draft", after_draft, ["critique", "decide"])
        g.add_conditional_edges("critique", after_critique, ["refine", "decide"])
        g.add_conditional_edges("refine", after_refine, ["critique", "decide"])
        g.add_edge("decide", END)
        return g


@protocol("self-refine")
class SelfRefineProtocol(CritiqueRefineProtocol):
    """One model drafts, critiques and refines its own solution (Madaan et al., 2023)."""

    config_class = SelfRefineConfig
    paper = "Madaan et al. 2023, Self-Refine: Iterative Refinement with Self-Feedback"
    agent_roles = {"self": "self-refiner"}
