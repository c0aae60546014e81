"""``du-sparse``: Du et al.'s debate over a sparse communication topology (Li et al., 2024).

"Improving Multi-Agent Debate with Sparse Communication Topology" (Findings of
EMNLP 2024). Du et al.'s debate (:mod:`debate.protocols.du`) with one change:
in each debate round an agent reads the previous round's answers of its
*neighbours* only, not of every other agent. The paper's sparse graph is
neighbour-connected (each agent reads the agent before and after it around a
ring; density ``D = 2 / (N - 1)``) over 6 agents; fewer answers in each prompt
cut input tokens, at equal or better accuracy in the paper's runs.

Round 0: N agents answer alone. Round r = 1..R: agent i continues its own chat
with one new message holding the round r-1 answers of the agents it reads
(:func:`debate.protocols.topology.readers`, in seat order), and answers again.
Final answer: majority vote over round R (or another registered judge). Calls:
N x (R + 1), as ``du`` (the saving is in input tokens, not calls); every other
option of ``du`` (summaries, RCR prompting, DebUnc confidences, stopping at
consensus) works as there, over the neighbours' answers. Each turn's ``saw``
lists exactly the turns the topology lets it read.

``topology``: ``ring`` (default; ``neighbours`` per agent, 2 as in the paper),
``full`` (exactly ``du``), ``star``, ``chain``, ``tree``, or an explicit list of
who each agent reads (see :mod:`debate.protocols.topology`).
``debate protocols du-sparse --graph`` draws the reading graph under the
protocol's graph.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field, model_validator

from debate.agents.base import Agent
from debate.protocols.base import protocol
from debate.protocols.du import DuConfig, DuProtocol
from debate.protocols.topology import TopologySpec, density, readers
from debate.trace import Turn

__all__ = ["DuSparseConfig", "DuSparseProtocol"]


class DuSparseConfig(DuConfig):
    """Options of ``du-sparse``: ``du``'s, the paper's 6 agents, and who reads whom."""

    agents: int = Field(6, ge=1)
    """Number of debaters (the paper's sparse runs: 6)."""
    topology: TopologySpec = "ring"
    """``ring``, ``full``, ``star``, ``chain``, ``tree``, or entry i: the agents agent i
    reads (by seat number, ``agent-0`` is 0)."""
    neighbours: int = Field(2, ge=1, le=1000)
    """``ring``: how many nearest seats each agent reads (2: the one before and after)."""

    @model_validator(mode="after")
    def _topology_fits(self) -> DuSparseConfig:
        if "neighbours" in self.model_fields_set and self.topology != "ring":
            raise ValueError(f"neighbours is the ring's degree; topology {self.topology!r} "
                             "takes none (remove it, or use topology: ring)")
        readers(self.topology, self.agents, self.neighbours)  # a bad adjacency fails here
        return self


@protocol("du-sparse")
class DuSparseProtocol(DuProtocol):
    """Du et al.'s debate in which each agent reads only its neighbours (Li et al., 2024)."""

    config_class = DuSparseConfig
    config: DuSparseConfig
    paper = ("Li et al. 2024, Improving Multi-Agent Debate with Sparse Communication "
             "Topology (Findings of EMNLP 2024)")

    def reads(self) -> list[list[int]]:
        """For each agent, the seats whose answers it reads."""
        return readers(self.config.topology, self.config.agents, self.config.neighbours)

    def density(self) -> float:
        """The topology's density ``|E| / (N (N - 1))`` (1 for ``full``)."""
        return density(self.reads())

    def peers_of(self, agents: Sequence[Agent], previous: list[Turn]) -> list[list[Turn]]:
        """For each agent, the previous round's turns of the agents it reads, in seat order."""
        by_name = {t.agent: t for t in previous}
        return [[by_name[agents[j].name] for j in read if agents[j].name in by_name]
                for read in self.reads()]

    def mermaid(self) -> str:
        """The protocol's graph, then who reads whom (an arrow from the agent read)."""
        lines = [f"\tsubgraph reads [who reads whom: {self.config.topology!s}, "
                 f"density {self.density():.2f}]"]
        lines += [f"\t\tagent-{j} --> agent-{i}"
                  for i, read in enumerate(self.reads()) for j in read]
        lines.append("\tend")
        return super().mermaid().rstrip("\n") + "\n" + "\n".join(lines) + "\n"
