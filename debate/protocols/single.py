"""Single-model baselines.

``single`` (one chain-of-thought answer) and ``self-consistency`` (k
independent samples, majority vote).

For a compute-matched comparison with a debate, set ``samples`` to the
debate's number of calls (``du`` with N agents and R rounds: N x (R + 1)).
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from pydantic import Field

from debate.agents.base import View
from debate.judges.majority import majority_vote
from debate.protocols.base import (
    DebateContext,
    DebateProtocol,
    DebateState,
    ProtocolConfig,
    gather_round,
    get_protocol,
    protocol,
)

__all__ = ["SelfConsistencyConfig", "SelfConsistencyProtocol", "SingleConfig", "SingleProtocol"]


class SingleConfig(ProtocolConfig):
    """``single`` has no options."""


class SelfConsistencyConfig(ProtocolConfig):
    """Options of ``self-consistency``."""

    samples: int = Field(5, ge=1)
    """Independent samples (each its own sample slot, so each is a distinct call)."""
    match_calls_of: str | None = None
    """Compute-matched baseline: as many samples as this protocol (name or preset card)
    makes calls at most, e.g. ``du`` (9) or ``protocols/du-gsm.yaml``."""
    match_options: dict[str, Any] = Field(default_factory=dict)
    """Options of that protocol (over its defaults or preset)."""


def matched_calls(reference: str, options: dict[str, Any]) -> int:
    """The most calls of protocol ``reference`` (a name or a preset card) with ``options``."""
    name, base = reference, {}
    if reference.endswith((".yaml", ".yml")):
        from debate.cards import ProtocolPreset, load_card

        preset = load_card(reference, ProtocolPreset)
        name, base = preset.protocol, dict(preset.options)
    return get_protocol(name)(**{**base, **options}).max_calls()


class OneRound(DebateProtocol):
    """Every agent answers the question alone, once; majority vote (one agent: its answer)."""

    async def answer(self, state: DebateState, runtime: Runtime[DebateContext]) -> dict[str, Any]:
        """Every sample answers the question alone."""
        agents = runtime.context.agents
        turns = await gather_round(agents, [View(state["question"], 0)] * len(agents))
        method = "single" if len(turns) == 1 else "majority"
        return {"turns": turns, "round": 0, "stop_reason": "done",
                "final": majority_vote(turns, method=method)}

    def graph(self) -> StateGraph[Any, Any, Any, Any]:
        """The graph: answer, then END."""
        g = StateGraph(DebateState, context_schema=DebateContext)
        g.add_node("answer", self.answer)
        g.add_edge(START, "answer")
        g.add_edge("answer", END)
        return g


@protocol("single")
class SingleProtocol(OneRound):
    """One agent answers once."""

    config_class = SingleConfig
    paper = "baseline: one chain-of-thought answer"

    def agent_names(self) -> list[str]:
        """``solver``."""
        return ["solver"]

    def max_calls(self) -> int:
        """One."""
        return 1


@protocol("self-consistency")
class SelfConsistencyProtocol(OneRound):
    """k samples of the same prompt, majority vote (Wang et al., 2022)."""

    config_class = SelfConsistencyConfig
    config: SelfConsistencyConfig
    paper = ("Wang et al. 2022, Self-Consistency Improves Chain of Thought Reasoning in "
             "Language Models")

    def __init__(self, config: Any = None, **options: Any) -> None:
        super().__init__(config, **options)
        self.samples = self.config.samples
        if self.config.match_calls_of:
            self.samples = matched_calls(self.config.match_calls_of, self.config.match_options)

    def agent_names(self) -> list[str]:
        """``sample-0`` ... ``sample-{k-1}``."""
        return [f"sample-{i}" for i in range(self.samples)]

    def max_calls(self) -> int:
        """One per sample."""
        return self.samples
