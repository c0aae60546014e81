"""Single-model baselines.

``single`` (one chain-of-thought answer) and ``self-consistency`` (k
independent samples, majority vote).

For a compute-matched comparison with a debate: ``match_calls_of`` gives
as many samples as the debate makes calls at most (``du`` with N agents and
R rounds: N x (R + 1)); ``match_run`` as many as a finished debate run's
debates actually made on average (early stops included), rounded to the
nearest integer. The resolved ``samples`` (and the mean matched) are in the
config that traces record.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import Field

from debate.agents.base import View
from debate.errors import ConfigError
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
from debate.trace import read_traces

if TYPE_CHECKING:
    from langgraph.graph import StateGraph
    from langgraph.runtime import Runtime

__all__ = ["SelfConsistencyConfig", "SelfConsistencyProtocol", "SingleConfig", "SingleProtocol"]


class SingleConfig(ProtocolConfig):
    """``single`` has no options."""


class SelfConsistencyConfig(ProtocolConfig):
    """Options of ``self-consistency``."""

    samples: int = Field(5, ge=1)
    """Independent samples (each its own sampler, so each is a distinct call)."""
    match_calls_of: str | None = None
    """Compute-matched baseline: as many samples as this protocol (name or preset card)
    makes calls at most, e.g. ``du`` (9) or ``protocols/du-gsm.yaml``."""
    match_options: dict[str, Any] = Field(default_factory=dict)
    """Options of that protocol (over its defaults or preset)."""
    match_run: str | None = None
    """Compute-matched to a finished run folder (e.g. ``runs/du-arithmetic``): as many
    samples as its debates made calls on average, rounded to the nearest integer."""
    matched_mean_calls: float | None = Field(default=None, gt=0)
    """Set by ``match_run``: the mean calls per debate of that run (do not set by hand)."""


def mean_calls(run_dir: str | Path) -> float:
    """The mean number of model calls per finished debate of a run folder."""
    path = Path(run_dir) / "traces.jsonl"
    calls = [trace.totals.calls for trace in read_traces(path)]
    if not calls:
        raise ConfigError(f"match_run: {run_dir} holds no finished debates ({path})")
    return sum(calls) / len(calls)


def matched_calls(reference: str, options: dict[str, Any]) -> int:
    """The most calls of protocol ``reference`` (a name or a preset card) with ``options``."""
    name, base = reference, {}
    if reference.endswith((".yaml", ".yml")):
        from debate.cards import ProtocolPreset, load_card

        preset = load_card(reference, ProtocolPreset)
        name, base = preset.protocol, dict(preset.options)
    return get_protocol(name)(**{**base, **options}).max_calls()


ConfigT = TypeVar("ConfigT", bound=ProtocolConfig)


class OneRound(DebateProtocol[ConfigT]):
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
        return self.one_node_graph("answer")


@protocol("single")
class SingleProtocol(OneRound[SingleConfig]):
    """One agent answers once."""

    paper = "baseline: one chain-of-thought answer"

    def agent_names(self) -> list[str]:
        """``solver``."""
        return ["solver"]

    def max_calls(self) -> int:
        """One."""
        return 1


@protocol("self-consistency")
class SelfConsistencyProtocol(OneRound[SelfConsistencyConfig]):
    """k samples of the same prompt, majority vote (Wang et al., 2022)."""

    identity_exclude = frozenset({"match_calls_of", "match_options", "match_run"})
    paper = ("Wang et al. 2022, Self-Consistency Improves Chain of Thought Reasoning in "
             "Language Models")

    def __init__(self, config: Any = None, **options: Any) -> None:
        super().__init__(config, **options)
        if self.config.match_calls_of and self.config.match_run:
            raise ConfigError("self-consistency: give match_calls_of or match_run, not both")
        if self.config.match_calls_of:
            samples = matched_calls(self.config.match_calls_of, self.config.match_options)
            self.config = self.config.model_copy(update={"samples": samples})
        elif self.config.match_run:
            mean = mean_calls(self.config.match_run)
            self.config = self.config.model_copy(update={
                "samples": max(1, int(mean + 0.5)), "matched_mean_calls": round(mean, 6)})
        self.samples = self.config.samples

    def agent_names(self) -> list[str]:
        """``sample-0`` ... ``sample-{k-1}``."""
        return [f"sample-{i}" for i in range(self.samples)]

    def max_calls(self) -> int:
        """One per sample."""
        return self.samples
