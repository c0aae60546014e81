"""The rules of sparse-topology debate (Li et al. 2024), checked seat by seat on scripted agents."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from debate.agents import Debater
from debate.cli import app
from debate.errors import ConfigError
from debate.experiment.config import load_experiment
from debate.protocols import DuProtocol, create_protocol
from debate.protocols.du_sparse import DuSparseProtocol
from debate.protocols.topology import density, readers
from debate.testing import ScriptedModel
from debate.trace import Question

PRESET = Path(__file__).parents[1] / "protocols" / "du-sparse.yaml"
Q = Question(id="q1", text="Alice has 3 apples and gets 15 more. How many?", task="numeric",
             gold="18")


def agents(n, rounds):
    models = [ScriptedModel([f"seat {i} round {r}: \\boxed{{{18 + i}}}" for r in range(rounds + 1)],
                            name=f"m{i}") for i in range(n)]
    return models, [Debater(f"agent-{i}", m) for i, m in enumerate(models)]


@pytest.mark.parametrize(("shape", "expected"), [
    ("ring", [[1, 5], [0, 2], [1, 3], [2, 4], [3, 5], [0, 4]]),
    ("star", [[1, 2, 3, 4, 5], [0], [0], [0], [0], [0]]),
    ("chain", [[1], [0, 2], [1, 3], [2, 4], [3, 5], [4]]),
    ("tree", [[1, 2], [0, 3, 4], [0, 5], [1], [1], [2]]),
    ("full", [[j for j in range(6) if j != i] for i in range(6)]),
])
def test_each_shape_says_who_reads_whom(shape, expected):
    """Six seats: the ring reads the seat before and after, the star's hub reads all and
    the others the hub, the chain's ends read one, the tree reads parent and children."""
    assert readers(shape, 6) == expected


def test_the_ring_has_the_paper_s_density():
    """A neighbour-connected ring of N agents has density 2 / (N - 1); full has 1."""
    assert density(readers("ring", 6)) == pytest.approx(2 / 5)
    assert density(readers("full", 6)) == 1.0
    assert readers("ring", 5, neighbours=3) == [[1, 2, 4], [0, 2, 3], [1, 3, 4], [0, 2, 4],
                                                [0, 1, 3]]  # the odd one after
    assert readers("ring", 3, neighbours=9) == readers("full", 3)  # no more than there are


async def test_every_seat_sees_exactly_its_neighbours_previous_answers_every_round():
    """Round r: agent i's turn saw the round r-1 answers of the agents it reads, in seat
    order, and its prompt holds those answers and no other agent's."""
    models, debaters = agents(6, 2)
    trace = await DuSparseProtocol(rounds=2).run(Q, debaters)
    reads = readers("ring", 6)
    for r in (1, 2):
        for i in range(6):
            turn = next(t for t in trace.turns if t.id == f"r{r}/agent-{i}/answer")
            assert turn.saw == [f"r{r - 1}/agent-{j}/answer" for j in reads[i]]
            prompt = models[i].calls[r].messages[-1].content
            for j in range(6):
                shown = f"seat {j} round {r - 1}:" in prompt
                assert shown == (j in reads[i]), (r, i, j)


async def test_calls_are_those_of_du_and_the_full_topology_is_du():
    """N x (R + 1) calls; with ``topology: full`` every prompt is du's, word for word."""
    sparse_models, sparse_agents = agents(4, 1)
    trace = await DuSparseProtocol(agents=4, rounds=1, topology="full").run(Q, sparse_agents)
    du_models, du_agents = agents(4, 1)
    await DuProtocol(agents=4, rounds=1).run(Q, du_agents)
    assert trace.totals.calls == 4 * 2 == DuSparseProtocol(agents=4, rounds=1).max_calls()
    assert [[c.messages for c in m.calls] for m in sparse_models] == [
        [c.messages for c in m.calls] for m in du_models]


async def test_an_explicit_adjacency_may_be_directed_and_leave_a_seat_reading_nobody():
    """Entry i lists whom agent i reads; agent 2 reading nobody answers from its chat."""
    _, debaters = agents(3, 1)
    trace = await DuSparseProtocol(agents=3, rounds=1, topology=[[1], [0, 2], []]).run(
        Q, debaters)
    saw = {t.agent: t.saw for t in trace.turns if t.round == 1}
    assert saw == {"agent-0": ["r0/agent-1/answer"],
                   "agent-1": ["r0/agent-0/answer", "r0/agent-2/answer"], "agent-2": []}


@pytest.mark.parametrize(("topology", "error"), [
    ([[1], [0]], "2 entries for 3 agents"),
    ([[1], [0], [3]], r"topology\[2\]: 3 is not an agent"),
    ([[1], [1], [0]], r"topology\[1\]: agent 1 reads its own answers"),
    ([[1, 1], [0], [0]], r"topology\[0\]: \[1, 1\] names an agent twice"),
    ("mesh", "unknown topology 'mesh'|literal_error|Input should be"),
])
def test_a_bad_topology_is_refused_where_it_is_given(topology, error):
    """An adjacency of the wrong length, an unknown seat, a self-loop, a repeat, or an
    unknown shape fail when the protocol is configured, naming the entry."""
    with pytest.raises((ConfigError, ValueError), match=error):
        create_protocol("du-sparse", agents=3, topology=topology)


def test_the_preset_is_the_paper_s_setup_and_its_graph_shows_who_reads_whom(tmp_path):
    """``protocols/du-sparse.yaml``: 6 agents on a 2-neighbour ring; ``debate protocols
    du-sparse --graph`` draws each reading edge."""
    spec = tmp_path / "s.yaml"
    spec.write_text(f"protocol: {PRESET}\ndataset: x.jsonl\nmodels: [scripted:echo]\n")
    cls, options = load_experiment(spec).resolve_protocol()
    protocol = cls(**options)
    assert (cls.name, protocol.reads(), protocol.density()) == (
        "du-sparse", readers("ring", 6), pytest.approx(0.4))
    result = CliRunner().invoke(app, ["protocols", "du-sparse", "--graph"])
    assert result.exit_code == 0, result.output
    assert "who reads whom: ring, density 0.40" in result.output
    assert "agent-5 --> agent-0" in result.output and "agent-3 --> agent-0" not in result.output


def test_neighbours_are_the_ring_s_alone():
    """Found in review: ``neighbours`` given with another topology was ignored in silence; it
    is refused, naming the topology."""
    with pytest.raises(ValueError, match="neighbours is the ring's degree; topology 'chain'"):
        create_protocol("du-sparse", agents=4, topology="chain", neighbours=3)
    assert create_protocol("du-sparse", agents=4, topology="chain").reads() == readers("chain", 4)


async def test_du_itself_takes_a_topology_and_its_variants_read_the_neighbours_only():
    """Issue 32: who reads whom is a du option (du-sparse is du with the paper's sparse
    defaults). A full topology leaves a run's identity as it was; under RCR prompting or
    peer summaries each agent reads only its neighbours' answers."""
    assert "topology" not in DuProtocol().identity_options()  # runs before topologies
    assert DuProtocol(topology="ring", agents=4).identity_options()["topology"] == "ring"
    chain = readers("chain", 4)
    models, debaters = agents(4, 1)
    await DuProtocol(agents=4, rounds=1, topology="chain", prompting="rcr").run(Q, debaters)
    for i in range(4):
        prompt = models[i].calls[1].messages[-1].content
        shown = [j for j in range(4) if j != i and f"seat {j} round 0:" in prompt]
        assert shown == chain[i]  # its own answer is there too, to reflect on
    models = [ScriptedModel([f"seat {i}: \\boxed{{{i}}}", f"summary {i}", "\\boxed{18}"],
                            name=f"m{i}") for i in range(4)]
    trace = await DuProtocol(agents=4, rounds=1, topology="chain", summarize_peers=True).run(
        Q, [Debater(f"agent-{i}", m) for i, m in enumerate(models)])
    summaries = {t.agent: t.saw for t in trace.turns if t.step == "summarize"}
    assert summaries == {f"agent-{i}": [f"r0/agent-{j}/answer" for j in chain[i]]
                         for i in range(4)}
