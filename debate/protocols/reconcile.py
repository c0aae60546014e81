"""``reconcile``: ReConcile of Chen et al. (2023).

"ReConcile: Round-Table Conference Improves Reasoning via Consensus among
Diverse LLMs". N agents (meant to be different models: bind one model per
agent) answer with an explanation and a stated confidence. While they
disagree, for at most R rounds, each agent reads the previous round's
answers grouped by answer, with explanations and confidences (and optional
convincing samples), and revises. Each debate stops as soon as its agents
agree. Final answer: confidence-weighted vote with ReConcile's
recalibration (judge ``confidence-weighted``). Calls: N per round.

The round table shows every agent of the previous round, as the reference
prompt does; an agent whose answer could not be parsed stays at the table,
shown as giving no answer (the reference substitutes a random option). The
reference keeps only the two largest answer groups (a third answer silently
disappears): ``top_two_groups: true`` reproduces that. Convincing samples
belong to the agent (model) they once convinced and, as in the reference,
each agent is shown the *other* agents' samples, in every prompt.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from pydantic import Field

from debate.agents.base import View
from debate.agents.reconcile import ConvincingSample, ReconcileBrief
from debate.judges.majority import is_consensus
from debate.protocols.base import (
    DebateContext,
    DebateState,
    GroupProtocol,
    JudgedConfig,
    gather_round,
    protocol,
)
from debate.trace import Turn

if TYPE_CHECKING:
    from langgraph.graph import StateGraph
    from langgraph.runtime import Runtime

__all__ = ["ConvincingSample", "ReconcileConfig", "ReconcileProtocol", "answer_groups"]


class ReconcileConfig(JudgedConfig):
    """Options of ``reconcile`` (defaults: the paper's)."""

    agents: int = Field(3, ge=2)
    """Number of agents (the paper: ChatGPT, Bard, Claude 2)."""
    rounds: int = Field(3, ge=0)
    """Most discussion rounds after the initial answers."""
    judge: str = "confidence-weighted"
    """Final answer rule (the paper's recalibrated confidence-weighted vote)."""
    convincing_samples: list[ConvincingSample] = Field(default_factory=list)
    """Each shown, in every prompt, to every agent but the one it convinced; none by
    default."""
    top_two_groups: bool = False
    """Compat: show only the two largest answer groups, as the reference code does."""


def answer_groups(turns: list[Turn], top_two: bool = False
                  ) -> list[tuple[str | None, list[Turn]]]:
    """Turns grouped by parsed answer, largest group first (ties: first seen).

    The agents without a parsed answer come last, as the group ``None`` (dropped
    with ``top_two``, as the reference keeps only two answer groups).
    """
    counts = Counter(t.answer for t in turns if t.answer is not None)
    order: list[str | None] = [a for a, _ in counts.most_common()]
    if top_two:
        order = order[:2]
    elif sum(counts.values()) < len(turns):
        order.append(None)
    return [(a, [t for t in turns if t.answer == a]) for a in order]


@protocol("reconcile")
class ReconcileProtocol(GroupProtocol[ReconcileConfig]):
    """A round table of diverse models with confidences; confidence-weighted vote."""

    answers_every_round = True

    member_role = "reconciler"
    paper = ("Chen et al. 2023, ReConcile: Round-Table Conference Improves Reasoning via "
             "Consensus among Diverse LLMs")
    rounds_meaning = ("most discussion rounds after the initial answers: round 0 is the "
                      "initial answers, rounds 1 to R the discussion; a debate stops earlier "
                      "when its agents agree")

    def max_calls(self) -> int:
        """N per round, plus the judge's calls."""
        return self.config.agents * (self.config.rounds + 1) + self.judge_calls()

    def recursion_limit(self) -> int:
        """One superstep per round, plus the vote."""
        return self.config.rounds + 5

    def _samples(self, agent: str) -> list[ConvincingSample]:
        """The convincing samples shown to ``agent``: those of the other agents."""
        return [s for s in self.config.convincing_samples if s.agent != agent]

    def _stop(self, round_: int, turns: list[Turn]) -> str | None:
        if is_consensus(turns) or self.settled(turns, round_):
            return "consensus"
        return "max_rounds" if round_ >= self.config.rounds else None

    async def answer(self, state: DebateState, runtime: Runtime[DebateContext]) -> dict[str, Any]:
        """Round 0: every agent answers alone."""
        agents = runtime.context.group(self.member_names())
        q = state["question"]
        turns = await gather_round(agents, [View(q, 0, brief=ReconcileBrief(self._samples(a.name)))
                                            for a in agents])
        return {"turns": turns, "round": 0, "stop_reason": self._stop(0, turns)}

    async def discuss(self, state: DebateState,
                      runtime: Runtime[DebateContext]) -> dict[str, Any]:
        """Round r: the round table of round r-1, then every agent revises."""
        agents = runtime.context.group(self.member_names())
        r = state["round"] + 1
        previous = self._members_turns(state["turns"], r - 1)
        groups = answer_groups(previous, self.config.top_two_groups)
        shown = [t for _, group in groups for t in group]
        views = [View(state["question"], r, peers=shown,
                      brief=ReconcileBrief(self._samples(a.name), groups)) for a in agents]
        turns = await gather_round(agents, views)
        return {"turns": turns, "round": r, "stop_reason": self._stop(r, turns)}

    async def vote(self, state: DebateState, runtime: Runtime[DebateContext]) -> dict[str, Any]:
        """The configured judge over the last round."""
        return await self.conclude(state, runtime,
                                   self._members_turns(state["turns"], state["round"]))

    def _members_turns(self, turns: list[Turn], round_: int) -> list[Turn]:
        """The round's turns of the N agents (not the judge's)."""
        members = set(self.member_names())
        return [t for t in turns if t.round == round_ and t.agent in members]

    def graph(self) -> StateGraph[Any, Any, Any, Any]:
        """Answer -> discuss* (until consensus or R) -> vote."""
        return self.loop_graph("answer", "discuss", "vote")
