"""The rules of Free-MAD (Cui et al. 2026), checked turn by turn on scripted agents."""

from pathlib import Path

import pytest

from debate.cards import ProtocolPreset, load_card
from debate.errors import ConfigError
from debate.experiment.config import load_experiment
from debate.protocols import DuProtocol, create_protocol
from debate.protocols.free_mad import (
    TIE_RULE,
    FreeMadConfig,
    FreeMadDebater,
    FreeMadProtocol,
    ScoreWeights,
    free_mad_decision,
    trajectory_scores,
)
from debate.testing import ScriptedModel
from debate.trace import Question

ROOT = Path(__file__).parents[1]
PAPER = ScoreWeights(initial=20, leave=25, join=30, keep=20)
Q = Question(id="q1", text="Alice has 3 apples and gets 15 more. How many?", task="numeric",
             gold="18")


def debaters(answers: list[list[str]]):
    """One scripted free-mad debater per row; row i: agent i's boxed answer, round by round."""
    models = [ScriptedModel([f"agent {i} round {r}: \\boxed{{{a}}}" for r, a in enumerate(row)],
                            name=f"m{i}") for i, row in enumerate(answers)]
    return models, [FreeMadDebater(f"agent-{i}", m) for i, m in enumerate(models)]


async def test_round_one_reads_every_other_agent_under_the_anti_conformity_prompt():
    """Round 0: each agent answers alone. Round 1: each turn saw the other agents' round-0
    answers, and its prompt holds them with the instruction not to follow a majority."""
    models, agents = debaters([["18", "18"], ["17", "17"], ["16", "16"]])
    trace = await FreeMadProtocol().run(Q, agents)
    for i in range(3):
        first = next(t for t in trace.turns if t.id == f"r0/agent-{i}/answer")
        assert first.saw == [] and first.role == "free-mad-debater"
        turn = next(t for t in trace.turns if t.id == f"r1/agent-{i}/answer")
        assert turn.saw == [f"r0/agent-{j}/answer" for j in range(3) if j != i]
        prompt = models[i].calls[1].messages[-1].content
        assert "You may not rely on conformity" in prompt
        assert "The correct answer may not be among the answers given so far." in prompt
        for j in range(3):
            assert (f"agent {j} round 0:" in prompt) == (j != i)
    assert trace.stop_reason == "max_rounds"


@pytest.mark.parametrize(("agents", "rounds"), [(3, 1), (4, 2), (2, 0)])
async def test_calls_are_n_times_r_plus_one_and_rounds_are_fixed(agents, rounds):
    """N agents answer R + 1 times each, even when they all agree from the start."""
    _, table = debaters([["18"] * (rounds + 1) for _ in range(agents)])
    protocol = FreeMadProtocol(agents=agents, rounds=rounds)
    trace = await protocol.run(Q, table)
    assert trace.totals.calls == agents * (rounds + 1) == protocol.max_calls()


def test_the_preset_and_the_defaults_are_the_paper_s():
    """One debate round, 3 agents, W = (20, 25, 30, 20), in the preset card and as defaults."""
    preset = load_card(ROOT / "protocols" / "free-mad.yaml", ProtocolPreset)
    assert preset.protocol == "free-mad"
    card = FreeMadConfig(**preset.options)
    assert card == FreeMadConfig()
    assert (card.agents, card.rounds, card.weights()) == (3, 1, PAPER)
    spec = load_experiment(ROOT / "experiments" / "free-mad-arithmetic.yaml")
    cls, options = spec.resolve_protocol()
    assert cls is FreeMadProtocol and cls(**options).max_calls() == 6


def test_scores_of_a_hand_worked_two_round_trajectory():
    """A: 18, 18, 18; B: 17, 18, 18; C: 17, 17, 18 with W = (20, 25, 30, 20), f = 1/(k+1).
    Round 0 (f = 1): S18 = 20, S17 = 40. Round 1 (f = 1/2): A keeps (S18 = 30), B leaves 17
    (S17 = 27.5) for 18 (S18 = 45), C keeps (S17 = 37.5). Round 2 (f = 1/3): A and B keep
    (S18 = 45 + 2 x 20/3 = 58.33), C leaves 17 (S17 = 37.5 - 25/3 = 29.17) for 18
    (S18 = 58.33 + 10 = 68.33). 18 wins, 205/3 to 175/6."""
    scores, rounds = trajectory_scores({"A": ["18", "18", "18"], "B": ["17", "18", "18"],
                                        "C": ["17", "17", "18"]}, PAPER)
    assert scores == pytest.approx({"18": 205 / 3, "17": 175 / 6})
    assert list(scores) == ["18", "17"]  # in the order first scored
    assert [r["factor"] for r in rounds] == pytest.approx([1, 1 / 2, 1 / 3])
    assert [r["moves"] for r in rounds] == [
        {"A": "initial", "B": "initial", "C": "initial"},
        {"A": "keep", "B": "change", "C": "keep"},
        {"A": "keep", "B": "keep", "C": "change"}]
    assert [r["scores"] for r in rounds] == [
        {"18": 20, "17": 40}, {"18": 45, "17": 37.5},
        {"18": pytest.approx(205 / 3, abs=1e-6), "17": pytest.approx(175 / 6, abs=1e-6)}]


async def test_the_trace_records_the_trajectories_and_their_scores():
    """The hand-worked debate above, run: the final answer's votes are the scores and its
    details hold the weights, each agent's trajectory and each round's moves and scores."""
    _, agents = debaters([["18", "18", "18"], ["17", "18", "18"], ["17", "17", "18"]])
    trace = await FreeMadProtocol(rounds=2).run(Q, agents)
    final = trace.final
    assert (final.answer, final.method, final.tie_break) == ("18", "free-mad", None)
    assert final.votes == pytest.approx({"18": 205 / 3, "17": 175 / 6}, abs=1e-6)
    assert final.details["weights"] == {"initial": 20, "leave": 25, "join": 30, "keep": 20}
    assert final.details["trajectories"] == {"agent-0": ["18", "18", "18"],
                                             "agent-1": ["17", "18", "18"],
                                             "agent-2": ["17", "17", "18"]}
    assert [r["moves"]["agent-1"] for r in final.details["rounds"]] == [
        "initial", "change", "keep"]


async def test_an_answer_all_gave_first_outlasts_a_last_round_majority_that_left_it():
    """All three answer 18, then two change to 17 in the one debate round: du's vote over
    the last round says 17; Free-MAD scores 18: 60 + 10 - 2 x 12.5 = 45, 17: 2 x 15 = 30."""
    rows = [["18", "18"], ["18", "17"], ["18", "17"]]
    _, agents = debaters(rows)
    trace = await FreeMadProtocol().run(Q, agents)
    assert trace.final.answer == "18" and trace.final.votes == {"18": 45.0, "17": 30.0}
    _, du_agents = debaters(rows)
    assert (await DuProtocol(rounds=1).run(Q, du_agents)).final.answer == "17"


def test_a_tie_goes_to_the_answer_scored_first():
    """Two agents keep 18 and 17: both score 20 + 10 = 30; 18, scored first (agent-0's in
    round 0), wins, and the trace names the rule and the tied answers."""
    final = free_mad_decision({"agent-0": ["18", "18"], "agent-1": ["17", "17"]}, PAPER)
    assert (final.answer, final.tie_break, final.details["tied"]) == ("18", TIE_RULE,
                                                                      ["18", "17"])


def test_an_unparseable_answer_is_never_chosen_but_leaving_for_it_costs():
    """A: 18 then nothing parseable (18 loses 12.5: 20 - 12.5 = 7.5); B: nothing, then 17
    (17 gains 15); C: nothing twice (no score). 17 wins; with no parseable answer at all,
    there is no answer and the trace says why."""
    final = free_mad_decision({"A": ["18", None], "B": [None, "17"], "C": [None, None]}, PAPER)
    assert (final.answer, final.votes) == ("17", {"18": 7.5, "17": 15.0})
    none = free_mad_decision({"A": [None, None]}, PAPER)
    assert (none.answer, none.details["reason"]) == (None, "no parseable answer")


def test_the_weights_are_options():
    """With w2 = 0 and w3 = 0 a change moves no score: A 18 -> 17, B and C keep 17 from
    round 0: S18 = 20, S17 = 40 + 2 x 10 = 60 (the w4 of the two keepers only)."""
    protocol = create_protocol("free-mad", leave_weight=0, join_weight=0)
    scores, _ = trajectory_scores({"A": ["18", "17"], "B": ["17", "17"], "C": ["17", "17"]},
                                  protocol.config.weights())
    assert scores == {"18": 20.0, "17": 60.0}


@pytest.mark.parametrize(("option", "value"), [
    ("stop_on_consensus", True), ("prompting", "rcr"), ("summarize_peers", True),
    ("uncertainty", "entropy"), ("judge", "llm"), ("keep_weight", -1),
])
def test_what_free_mad_does_not_have_is_refused_by_name(option, value):
    """Before: du's variants and judges would have run under the name free-mad; now each is
    a ConfigError naming the option (and a negative weight names its field)."""
    with pytest.raises(ConfigError, match=option):
        create_protocol("free-mad", **{option: value})
