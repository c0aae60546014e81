"""``du``: multiagent debate of Du et al. (2023).

"Improving Factuality and Reasoning in Language Models through Multiagent Debate".
Round 0: N agents answer alone. Round r = 1..R: every agent continues its own
chat with one new message holding the *other* agents' round r-1 answers (a
frozen snapshot: the round is a barrier), and answers again. Final answer:
majority vote over round R (or another registered judge). Calls: N x (R + 1).

``rounds`` counts debate rounds after the initial answers (the reference
code's ``rounds = 2`` is ``rounds = 1`` here). ``stop_on_consensus`` is our
addition, off by default; when it ends a debate the trace says so.

Variants, all off by default:

- ``summarize_peers``: before each debate round every agent summarises the
  others' answers (one extra call each) and reads the summary instead
  (the long-context variant of the reference repository).
- ``prompting: rcr``: Reflect-Critique-Refine of "Debate, Train, Evolve"
  (2025): a fresh prompt each round (own previous answer, the first two
  peers in full and further peers by answer only; reflect / critique /
  refine), 3 rounds by default, as the reference; its preset also stops at
  consensus.
- ``uncertainty: entropy``: DebUnc (Yoffe et al., 2024): each answer's mean
  token entropy (from the backend's top-``top_logprobs`` alternatives; see
  :mod:`debate.uncertainty`) becomes a 1-10 confidence shown next to it:
  ``c = 14 (1/u) / sum(1/u) + 1/N``, clipped to 1-10 and rounded, as the
  reference computes it. A backend with chosen-token logprobs only gives mean
  NLL instead (``uncertainty: mean-nll`` asks for it); ``uncertainty:
  token-sar`` weighs each token's NLL by its relevance, scored by a model
  (``relevance``; see :mod:`debate.uncertainty`). Each turn records the
  metric used. Without logprobs the peers are shown without confidences and
  the turn records why.
- ``topology``: who reads whom each debate round (Li et al., 2024, "Improving
  Multi-Agent Debate with Sparse Communication Topology"): ``full`` (the paper),
  ``ring`` (``neighbours`` nearest seats), ``star``, ``chain``, ``tree`` or an explicit
  list (:mod:`debate.protocols.topology`); every variant above reads only the agents
  its topology gives it, each turn's ``saw`` says which. ``du-sparse`` is ``du`` with
  Li et al.'s 6 agents on a 2-neighbour ring.
- Heterogeneous models: give one model per agent (``models``).
- ``decision``: a decision rule of Kaesberg et al. (2025) instead of the majority
  (:mod:`debate.judges.voting`): the agents vote on the last round's answers, or a
  consensus rule ends the debate as soon as enough agents agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from debate.agents.base import Agent, Memory, View
from debate.agents.debater import DebaterBrief, TokenUncertainty
from debate.judges.majority import is_consensus
from debate.protocols.base import (
    DebateContext,
    DebateState,
    GroupProtocol,
    JudgedConfig,
    gather_round,
    protocol,
)
from debate.protocols.topology import TopologySpec, density, readers
from debate.settings import check_options
from debate.trace import Turn
from debate.uncertainty import RELEVANCE, RelevanceScorer, UncertaintyMetric

if TYPE_CHECKING:
    from langgraph.graph import StateGraph
    from langgraph.runtime import Runtime

__all__ = ["DuConfig", "DuProtocol", "debunc_confidences"]


class DuConfig(JudgedConfig):
    """Options of the ``du`` protocol (defaults: the paper's 3 agents, 2 debate rounds)."""

    agents: int = Field(3, ge=1)
    """Number of debaters."""
    rounds: int = Field(2, ge=0)
    """Debate rounds after the initial answers; each agent answers ``rounds + 1`` times.
    Default 2 (the paper), or 3 with ``prompting: rcr`` (DTE's reference)."""
    stop_on_consensus: bool = False
    """End early when every agent gives the same parseable answer (not in the paper)."""
    prompting: Literal["du", "rcr"] = "du"
    """``du``: a growing chat; ``rcr``: Reflect-Critique-Refine, a fresh prompt each round."""
    summarize_peers: bool = False
    """Each agent reads a summary of its peers' answers (one extra call per agent and round)."""
    uncertainty: Literal["none", "entropy", "mean-nll", "token-sar"] = "none"
    """DebUnc: show each peer's token-level confidence (needs logprobs); ``entropy`` is
    the reference's mean token entropy, ``mean-nll`` the chosen tokens' mean NLL,
    ``token-sar`` the NLL weighed by each token's relevance (a ``relevance`` model)."""
    top_logprobs: int = Field(20, ge=1)
    """Alternatives per token asked for with ``uncertainty: entropy`` (20: OpenAI's maximum)."""
    relevance: str = "cross-encoder"
    """TokenSAR's relevance scorer (``debate.uncertainty.RELEVANCE``); ``cross-encoder``
    is the reference's ``cross-encoder/stsb-roberta-large`` (extra ``debatelab[sar]``)."""
    relevance_options: dict[str, Any] = Field(default_factory=dict)
    """Options of that scorer (e.g. ``model`` for ``cross-encoder``)."""
    topology: TopologySpec = "full"
    """Who reads whom each debate round (:mod:`debate.protocols.topology`): ``full`` (every
    other agent: the paper), ``ring``, ``star``, ``chain``, ``tree``, or entry i: the
    agents agent i reads (by seat number)."""
    neighbours: int = Field(2, ge=1, le=1000)
    """``topology: ring``: how many nearest seats each agent reads (Li et al. 2024: 2)."""

    @model_validator(mode="before")
    @classmethod
    def _rounds_for_prompting(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("rounds") is None:
            data = {**data, "rounds": 3 if data.get("prompting") == "rcr" else 2}
        return data

    @model_validator(mode="after")
    def _topology_fits(self) -> DuConfig:
        if "neighbours" in self.model_fields_set and self.topology != "ring":
            raise ValueError(f"neighbours is the ring's degree; topology {self.topology!r} "
                             "takes none (remove it, or use topology: ring)")
        readers(self.topology, self.agents, self.neighbours)  # a bad adjacency fails here
        return self


def last_round(turns: list[Turn], round_: int) -> list[Turn]:
    """The answer turns of ``round_``, in agent order."""
    return [t for t in turns if t.round == round_ and t.kind == "answer"]


def debunc_confidences(uncertainties: list[float]) -> list[int]:
    """DebUnc's 1-10 confidences from uncertainties: [1, 2, 4] -> [8, 4, 2]; equal -> 5 each."""
    inverse = [1.0 / max(u, 1e-9) for u in uncertainties]
    total = sum(inverse)
    n = len(uncertainties)
    return [int(round(min(10.0, max(1.0, 14.0 * x / total + 1.0 / n)))) for x in inverse]


@protocol("du")
class DuProtocol(GroupProtocol[DuConfig]):
    """N debaters, R rounds of reading each other's previous answers, majority vote."""

    answers_every_round = True

    member_role = "debater"
    paper = ("Du et al. 2023, Improving Factuality and Reasoning in Language Models "
             "through Multiagent Debate")

    def __init__(self, config: Any = None, **options: Any) -> None:
        super().__init__(config, **options)
        metric = self.config.uncertainty
        self._uncertainty: UncertaintyMetric | None = None if metric == "none" else metric
        """DebUnc: the uncertainty answer views ask the debaters to measure."""
        self._relevance: RelevanceScorer | None = None
        """TokenSAR's relevance scorer, built once: a missing extra fails here, at the start."""
        if metric == "token-sar":
            factory = RELEVANCE.lookup(self.config.relevance)
            check_options(factory, self.config.relevance_options, "protocol_options."
                          "relevance_options")
            self._relevance = factory(**self.config.relevance_options)

    def max_calls(self) -> int:
        """N x (R + 1), plus N x R summaries, plus the judge's calls."""
        n, r = self.config.agents, self.config.rounds
        summaries = n * r if self.config.summarize_peers and n > 1 else 0
        return n * (r + 1) + summaries + self.judge_calls()

    def recursion_limit(self) -> int:
        """One superstep per round, plus the vote."""
        return self.config.rounds + 5

    def _stop(self, round_: int, turns: list[Turn]) -> str | None:
        if self.config.stop_on_consensus and is_consensus(turns) or self.settled(turns, round_):
            return "consensus"
        if round_ >= self.config.rounds:
            return "max_rounds"
        return None

    def prepare(self, agents: Sequence[Agent]) -> None:
        """DebUnc needs logprobs (and, for entropy, the top alternatives) from the debaters."""
        if self.config.uncertainty == "none":
            return
        top = self.config.top_logprobs if self.config.uncertainty == "entropy" else None
        for agent in agents:
            params = agent.params
            if agent.name != "judge" and (not params.logprobs or params.top_logprobs != top):
                agent.params = params.model_copy(update={"logprobs": True, "top_logprobs": top})

    async def answer(self, state: DebateState, runtime: Runtime[DebateContext]) -> dict[str, Any]:
        """Round 0: every agent answers alone."""
        agents = runtime.context.group(self.member_names())
        view = View(state["question"], 0, brief=DebaterBrief(uncertainty=self._uncertainty,
                                                             relevance=self._relevance))
        turns = await gather_round(agents, [view] * len(agents))
        return {"turns": turns, "round": 0, "stop_reason": self._stop(0, turns)}

    def _confidences(self, previous: list[Turn]) -> tuple[dict[str, int], str] | None:
        """Peers' 1-10 confidences and the metric they come from, or ``None``.

        One metric for the whole round: when the turns' metrics differ (a backend
        without top-k logprobs, a TokenSAR with no relevant token), every turn's mean
        NLL from its logprobs, so confidences are never normalised across scales.
        """
        if self.config.uncertainty == "none":
            return None
        measured = [TokenUncertainty.read(t) for t in previous]
        values: list[float | None] = [m.uncertainty if m else None for m in measured]
        if any(v is None for v in values):
            return None
        metrics = {m.uncertainty_metric if m else None for m in measured}
        if len(metrics) == 1:
            metric = str(next(iter(metrics)))
        else:  # mixed: every turn's mean NLL, on one scale
            metric = "mean-nll"
            values = [-sum(t.logprobs) / len(t.logprobs) if t.logprobs else None
                      for t in previous]
            if any(v is None for v in values):
                return None
        scores = debunc_confidences([float(v) for v in values if v is not None])
        return {t.agent: c for t, c in zip(previous, scores, strict=True)}, metric

    def reads(self) -> list[list[int]]:
        """For each agent, the seats whose answers it reads (``topology``)."""
        return readers(self.config.topology, self.config.agents, self.config.neighbours)

    def peers_of(self, agents: Sequence[Agent], previous: list[Turn]) -> list[list[Turn]]:
        """For each agent, the previous round's turns it reads, in seat order.

        Every other agent's (Du et al.), or its neighbours' in a sparse ``topology``.
        """
        if self.config.topology == "full":
            return [[t for t in previous if t.agent != a.name] for a in agents]
        by_name = {t.agent: t for t in previous}
        return [[by_name[agents[j].name] for j in read if agents[j].name in by_name]
                for read in self.reads()]

    def identity_options(self) -> dict[str, Any]:
        """The options, without a ``full`` topology's (runs before topologies keep theirs)."""
        options = super().identity_options()
        if self.config.topology == "full" and "neighbours" not in self.config.model_fields_set:
            options.pop("topology", None)
            options.pop("neighbours", None)
        return options

    def mermaid(self) -> str:
        """The protocol's graph, then, for a sparse topology, who reads whom."""
        graph = super().mermaid()
        if self.config.topology == "full":
            return graph
        reads = self.reads()
        lines = [f"\tsubgraph reads [who reads whom: {self.config.topology!s}, "
                 f"density {density(reads):.2f}]"]
        lines += [f"\t\tagent-{j} --> agent-{i}" for i, read in enumerate(reads) for j in read]
        lines.append("\tend")
        return graph.rstrip("\n") + "\n" + "\n".join(lines) + "\n"

    async def debate(self, state: DebateState, runtime: Runtime[DebateContext]) -> dict[str, Any]:
        """Round r: each agent reads the others' round r-1 answers and answers again."""
        agents = runtime.context.group(self.member_names())
        q, turns, r = state["question"], state["turns"], state["round"] + 1
        previous = last_round(turns, r - 1)
        memory: Memory = "rebuild" if self.config.prompting == "rcr" else "chat"
        shown = self._confidences(previous)
        peers = self.peers_of(agents, previous)
        new: list[Turn] = []
        summaries: list[str | None] = [None] * len(agents)
        if self.config.summarize_peers and len(agents) > 1:
            views = [View(q, r, peers=p, step="summarize") for p in peers]
            summary_turns = await gather_round(agents, views)
            new += summary_turns
            summaries = [s.raw for s in summary_turns]
            if memory == "chat":  # each answer reads its summary: its `saw` is that turn
                peers = [[s] if p else [] for s, p in zip(summary_turns, peers, strict=True)]
        views = [View(q, r, peers=p, memory=memory,
                      brief=DebaterBrief(summary=summary, confidences=shown[0] if shown else None,
                                         uncertainty=self._uncertainty, relevance=self._relevance),
                      history=[t for t in turns if t.agent == a.name and t.kind == "answer"])
                 for a, p, summary in zip(agents, peers, summaries, strict=True)]
        answers = await gather_round(agents, views)
        if shown:
            for turn in answers:  # the metric of the peers' confidences this turn was shown
                turn.fields["peer_uncertainty_metric"] = shown[1]
        return {"turns": new + answers, "round": r, "stop_reason": self._stop(r, answers)}

    async def vote(self, state: DebateState, runtime: Runtime[DebateContext]) -> dict[str, Any]:
        """The configured judge (majority by default) over the last round's answers."""
        return await self.conclude(state, runtime, last_round(state["turns"], state["round"]))

    def graph(self) -> StateGraph[Any, Any, Any, Any]:
        """Answer -> debate* -> vote."""
        return self.loop_graph("answer", "debate", "vote")
