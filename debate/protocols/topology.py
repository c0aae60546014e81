"""Who reads whom in a debate round: communication topologies over N agents.

Du et al.'s debate shows every agent every other agent's answer (``full``). Li et
al. (2024), "Improving Multi-Agent Debate with Sparse Communication Topology",
show each agent only its neighbours; with fewer answers in each prompt a round
costs fewer input tokens, at equal or better accuracy in their runs. Agents are
numbered in seat order (``agent-0`` is 0); a topology gives, for each agent, the
agents whose previous answers it reads, always in seat order:

===========  ==============================================================
``full``     every other agent (Du et al.)
``ring``     the ``neighbours`` nearest seats around a ring, half on each side
             (2: the agent before and the agent after; Li et al.'s
             neighbour-connected graph)
``star``     agent 0 reads every agent; every other agent reads agent 0 only
``chain``    the agent before and the agent after (the ends read one)
``tree``     a binary tree rooted at agent 0: the parent and the children
             (agent i's children are 2i+1 and 2i+2)
adjacency    an explicit list: entry i lists the agents agent i reads
===========  ==============================================================

The built-in shapes are undirected (if a reads b, b reads a), but for a ring of
an odd degree (its extra neighbour is the one after: a reads b, b need not read
a); an explicit adjacency may be directed, and an agent in it may read nobody (it answers
again from its own chat alone). :func:`density` is the paper's
``D = |E| / (N (N - 1))`` over directed reading edges (1 for ``full``; ``2 /
(N - 1)`` for a 2-neighbour ring).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, TypeAlias

from debate.errors import ConfigError

__all__ = ["Shape", "TopologySpec", "density", "readers"]

Shape = Literal["full", "ring", "star", "chain", "tree"]
"""A built-in topology's name."""

TopologySpec: TypeAlias = Shape | list[list[int]]
"""A built-in shape, or an explicit adjacency (entry i: the agents agent i reads)."""


def readers(topology: TopologySpec, agents: int, neighbours: int = 2) -> list[list[int]]:
    """For each agent (in seat order), the agents whose answers it reads, in seat order.

    ``neighbours`` is the ``ring``'s degree: how many nearest seats each agent reads
    (even: half before, half after; odd: the extra one after; at least N - 1: every
    other agent). An explicit adjacency
    must have one entry per agent, name agents that exist, and never the agent itself;
    otherwise a :class:`ConfigError` says which entry is wrong.
    """
    if agents < 1:
        raise ConfigError(f"a topology needs at least one agent, not {agents}")
    if isinstance(topology, list):
        return _checked(topology, agents)
    if topology == "full":
        return [[j for j in range(agents) if j != i] for i in range(agents)]
    if topology == "ring":
        if neighbours < 1:
            raise ConfigError(f"a ring needs at least 1 neighbour per agent, not {neighbours}")
        neighbours = min(neighbours, agents - 1)  # as many as there are: the ring is full
        before, after = neighbours // 2, neighbours - neighbours // 2
        return [sorted({(i + k) % agents for k in range(-before, after + 1) if k} - {i})
                for i in range(agents)]
    if topology == "star":
        return [list(range(1, agents))] + [[0] for _ in range(1, agents)]
    if topology == "chain":
        return [[j for j in (i - 1, i + 1) if 0 <= j < agents] for i in range(agents)]
    if topology == "tree":
        return [sorted(j for j in ((i - 1) // 2 if i else -1, 2 * i + 1, 2 * i + 2)
                       if 0 <= j < agents) for i in range(agents)]
    raise ConfigError(f"unknown topology {topology!r}; give full, ring, star, chain, tree "
                      "or a list of who each agent reads")


def _checked(adjacency: Sequence[Sequence[int]], agents: int) -> list[list[int]]:
    """An explicit adjacency, checked: one entry per agent, no self, no unknown agent."""
    if len(adjacency) != agents:
        raise ConfigError(f"topology: {len(adjacency)} entries for {agents} agents; give "
                          "one list per agent (the agents it reads)")
    out = []
    for i, read in enumerate(adjacency):
        for j in read:
            if isinstance(j, bool) or not isinstance(j, int) or not 0 <= j < agents:
                raise ConfigError(f"topology[{i}]: {j!r} is not an agent (0 to {agents - 1})")
            if j == i:
                raise ConfigError(f"topology[{i}]: agent {i} reads its own answers already "
                                  "(its chat); list only the others")
        if len(set(read)) != len(read):
            raise ConfigError(f"topology[{i}]: {list(read)} names an agent twice")
        out.append(sorted(read))
    return out


def density(reads: Sequence[Sequence[int]]) -> float:
    """The share of possible reading edges present: ``|E| / (N (N - 1))`` (1 for one agent)."""
    n = len(reads)
    return 1.0 if n < 2 else sum(len(r) for r in reads) / (n * (n - 1))
