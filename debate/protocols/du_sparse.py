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

from pydantic import Field

from debate.protocols.base import protocol
from debate.protocols.du import DuConfig, DuProtocol
from debate.protocols.topology import TopologySpec, density

__all__ = ["DuSparseConfig", "DuSparseProtocol"]


class DuSparseConfig(DuConfig):
    """Options of ``du-sparse``: ``du``'s, with the paper's 6 agents on a 2-neighbour ring."""

    agents: int = Field(6, ge=1)
    """Number of debaters (the paper's sparse runs: 6)."""
    topology: TopologySpec = "ring"
    """Who reads whom (:mod:`debate.protocols.topology`); the paper's sparse graph: ``ring``."""


@protocol("du-sparse")
class DuSparseProtocol(DuProtocol):
    """Du et al.'s debate in which each agent reads only its neighbours (Li et al., 2024)."""

    config_class = DuSparseConfig
    config: DuSparseConfig
    paper = ("Li et al. 2024, Improving Multi-Agent Debate with Sparse Communication "
             "Topology (Findings of EMNLP 2024)")

    def density(self) -> float:
        """The topology's density ``|E| / (N (N - 1))`` (1 for ``full``)."""
        return density(self.reads())
