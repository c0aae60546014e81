"""Decision rules of Kaesberg et al. (2025), as MALLM reads, counts and stops on them.

Each test is one rule: how a ballot is read, how ballots are counted, when a
consensus is reached (and the debate ends), what a tie or no consensus gives, what a
voter is shown, and that any judged protocol takes ``decision:``.
"""

import json

import pytest
from typer.testing import CliRunner

from debate import run_debate
from debate.agents import Debater, Reconciler
from debate.cli import app
from debate.errors import ConfigError
from debate.judges.voting import ConsensusJudge
from debate.protocols import create_protocol
from debate.scoring.ballots import read_ballot, tally, winner
from debate.testing import ScriptedModel
from debate.trace import Question, Turn

Q = Question(id="q1", text="What is 6 x 7?", task="numeric", gold="42")


@pytest.mark.parametrize(("method", "text", "ballot"), [
    ("simple", "Solution 2", [2]),
    ("simple", "1, 2", "solution 12 does not exist"),  # MALLM joins the digits: 12
    ("simple", "none of them", "no number"),
    ("approval", "0, 2, 7", [0, 2]),  # 7 does not exist: dropped, the rest counts
    ("approval", "0, two", "not numbers separated by commas"),
    ("approval", "5, 6", "no existing solution approved"),
    ("cumulative", '{"0": 4, "2": 6}', {0: 4, 2: 6}),
    ("cumulative", "{0: 5,\n 1: 5}", {0: 5, 1: 5}),  # keys unquoted, as Python writes them
    ("cumulative", "{0:5,1:4}", "points sum to 9, not 10"),
    ("cumulative", '{"0": 12, "1": -2}', "negative points"),
    ("cumulative", '{"3": 10}', "points given to a solution that does not exist"),
    ("cumulative", "[4, 6]", "not a JSON object of solution numbers and points"),
    ("cumulative", "{'0': 4, 2: 6,}", {0: 4, 2: 6}),  # as Python literals: quotes, a comma
    ("cumulative", '{"0: 5, 1": 5}', "not a JSON object of solution numbers and points"),
    ("ranked", "0 2 1", [0, 2, 1]),
    ("ranked", "0 1 2 0 1 2", "more than 5 ranks"),
    ("ranked", "first 0", "not numbers separated by spaces"),
    ("ranked", "0 3", "a ranked solution does not exist"),
    ("ranked", "  ", []),  # MALLM reads no number as an empty ranking
])
def test_a_ballot_is_read_as_mallm_reads_it_or_the_reason_is_named(method, text, ballot):
    """Three solutions (0, 1, 2): what each rule accepts, and why it refuses the rest."""
    assert read_ballot(method, text, 3) == ballot


def test_ranked_ballots_score_min_5_voters_minus_the_rank():
    """MALLM's worked case: three voters rank (0 1 2), (1 0 2), (1 2 0): 6, 8, 4 points."""
    scores = tally("ranked", [[0, 1, 2], [1, 0, 2], [1, 2, 0]], 3, voters=3)
    assert scores == [6, 8, 4] and winner(scores, 3) == 1


def test_votes_approvals_and_points_are_summed_and_a_tie_at_the_top_decides_nothing():
    assert tally("simple", [[0], [2], [2]], 3, 3) == [1, 0, 2]
    assert tally("approval", [[0, 1], [1], [1, 2]], 3, 3) == [1, 3, 1]
    assert tally("cumulative", [{0: 4, 2: 6}, {2: 10}], 3, 2) == [4, 0, 16]
    assert winner([1, 1, 0], 2) is None  # a tie
    assert winner([0, 0, 0], 0) is None  # no valid ballot
    assert winner([0], 0, "simple") is None  # votes count only what was voted for
    assert winner([0], 0, "ranked") == winner([0], 0, "cumulative") == 0  # scores start at 0


def seats(replies):
    """Debaters ``agent-i`` whose models say ``replies[i]``, in order."""
    return [Debater(f"agent-{i}", ScriptedModel(r, name=f"m{i}")) for i, r in enumerate(replies)]


async def test_every_agent_votes_on_the_anonymous_solutions_and_the_winner_is_final():
    """du, one round, simple voting: each agent's ballot shows the last round's
    answers as Solution 0..2 in seat order, no author named; 2 votes for solution 1 win."""
    agents = seats([["\\boxed{41}", "\\boxed{41}", "1"],
                    ["\\boxed{42}", "\\boxed{42}", "Solution 1"],
                    ["\\boxed{40}", "\\boxed{40}", "2"]])
    protocol = create_protocol("du", agents=3, rounds=1, decision="simple-voting")
    trace = await protocol.run(Q, agents)
    assert trace.final.answer == "42" and trace.final.method == "simple-voting"
    assert trace.final.details["scores"] == [0, 2, 1] and trace.final.details["decided"]
    ballot = next(t for t in trace.turns if t.id == "r1/agent-0/vote")
    assert [m.role for m in ballot.messages] == ["user"] * 5
    opening, *solutions, closing = [m.content for m in ballot.messages]
    assert opening.startswith("You are tasked with voting for the best solution from the list")
    assert "Question: What is 6 x 7?" in opening and opening.endswith(
        "Here are the possible solutions:")
    assert solutions == ["Solution 0: 41", "Solution 1: 42", "Solution 2: 40"]
    assert closing.endswith("Answer only with the number.")
    assert "agent-" not in "".join(m.content for m in ballot.messages)
    assert ballot.saw == [f"r1/agent-{i}/answer" for i in range(3)]
    assert trace.totals.calls == 3 * 2 + 3 <= protocol.max_calls() == 3 * 2 + 3 * 10


async def test_an_unreadable_ballot_is_asked_again_then_dropped_after_its_attempts():
    """attempts: 2. agent-2 never answers with a number: asked twice, its vote dropped;
    agent-0 answers on its second attempt."""
    agents = seats([["\\boxed{41}", "I like the first", "0"],
                    ["\\boxed{42}", "0"],
                    ["\\boxed{42}", "hmm", "no idea"]])
    protocol = create_protocol("du", agents=3, rounds=0, decision="simple-voting",
                               judge_options={"attempts": 2})
    trace = await protocol.run(Q, agents)
    votes = [t.id for t in trace.turns if t.kind == "vote"]
    assert votes == ["r0/agent-0/vote", "r0/agent-0/vote/attempt-2", "r0/agent-1/vote",
                     "r0/agent-2/vote", "r0/agent-2/vote/attempt-2"]
    assert trace.turns[-1].fields == {"ballot_error": "no number"}
    assert trace.final.answer == "41" and trace.final.details["spoiled"] == 1


async def test_a_tie_decides_nothing_and_says_so():
    """Each agent votes for its own solution: 1-1-1, no final answer (MALLM: empty)."""
    agents = seats([["\\boxed{41}", "0"], ["\\boxed{42}", "1"], ["\\boxed{40}", "2"]])
    trace = await create_protocol("du", agents=3, rounds=0, decision="simple-voting").run(
        Q, agents)
    assert trace.final.answer is None
    assert trace.final.details["decided"] is False and trace.final.details["reason"] == "tie"


async def test_ranked_voting_runs_end_to_end_on_the_rank_scores():
    agents = seats([["\\boxed{41}", "0 1 2"], ["\\boxed{42}", "1 0 2"],
                    ["\\boxed{40}", "1 2 0"]])
    trace = await create_protocol("du", agents=3, rounds=0, decision="ranked-voting").run(
        Q, agents)
    assert trace.final.answer == "42" and trace.final.votes == {"41": 6, "42": 8, "40": 4}


def answers(*given):
    return [Turn(id=f"r0/agent-{i}/answer", round=0, agent=f"agent-{i}", role="debater",
                 messages=[], raw="", answer=a) for i, a in enumerate(given)]


@pytest.mark.parametrize(("rule", "given", "round_", "reached"), [
    ("majority", ("4", "4", "5"), 0, True),  # 2/3 >= 0.5
    ("supermajority", ("4", "4", "5"), 0, True),  # 0.667 >= 0.66
    ("unanimity", ("4", "4", "5"), 0, False),
    ("unanimity", ("4", "4", "4"), 0, True),
    ("majority", ("4", "4", "5", "5"), 0, False),  # a tie at the top is no consensus
    ("supermajority", ("4", "4", "4", "5", "6"), 0, False),  # 0.6 < 0.66
    ("majority", ("4", None, None), 0, False),  # unparsed agents count, agreeing with no one
    ("hybrid", ("4", "4", "5"), 9, False),  # at most 3 agents: unanimity
    ("hybrid", ("4", "4", "4", "4", "5"), 3, False),  # before the 5th turn: unanimity
    ("hybrid", ("4", "4", "4", "4", "5"), 4, True),  # then 0.8 >= 0.75
])
def test_a_consensus_is_reached_when_its_share_of_all_agents_agree(rule, given, round_,
                                                                    reached):
    assert ConsensusJudge(rule=rule).settled(answers(*given), round_) is reached


async def test_a_reached_consensus_ends_the_debate_at_once():
    """majority-consensus, 3 rounds allowed: 2 of 3 agree in round 0, so no round 1."""
    agents = seats([["\\boxed{42}"], ["\\boxed{42}"], ["\\boxed{40}"]])
    trace = await create_protocol("du", agents=3, rounds=3, decision="majority-consensus").run(
        Q, agents)
    assert trace.stop_reason == "consensus" and trace.totals.calls == 3
    assert trace.final.answer == "42" and trace.final.method == "majority-consensus"


@pytest.mark.parametrize(("fallback", "final"), [("last", "40"), ("plurality", "42"),
                                                 ("none", None)])
async def test_without_consensus_by_the_last_round_the_fallback_answers(fallback, final):
    """unanimity never reached: MALLM returns the most recent solution (the last seat's)."""
    agents = seats([["\\boxed{42}", "\\boxed{42}"], ["\\boxed{42}", "\\boxed{42}"],
                    ["\\boxed{40}", "\\boxed{40}"]])
    trace = await create_protocol("du", agents=3, rounds=1, decision="unanimity-consensus",
                                  judge_options={"fallback": fallback}).run(Q, agents)
    assert trace.stop_reason == "max_rounds" and trace.final.answer == final
    assert trace.final.details["decided"] is False
    assert trace.final.details["fallback"] == fallback


async def test_the_judge_rule_asks_the_first_agent_to_combine_the_solutions():
    """One call, one user message, no persona: the solutions numbered from 0."""
    agents = seats([["\\boxed{41}", "Combined: \\boxed{42}"], ["\\boxed{42}"], ["\\boxed{40}"]])
    agents[0].system_prompt = "You are a careful mathematician."
    trace = await create_protocol("du", agents=3, rounds=0, decision="judge").run(Q, agents)
    summary = trace.turns[-1]
    assert summary.agent == "agent-0" and summary.kind == "verdict"
    (message,) = summary.messages
    assert message.role == "user" and message.content.endswith(
        "Only answer with the solution:\n\nSolution 0: 41\n\nSolution 1: 42\n\nSolution 2: 40")
    assert trace.final.answer == "42" and trace.final.method == "judge-summary"


def test_decision_names_a_judge_and_its_rule_and_refuses_a_contradiction():
    du = create_protocol("du", decision="ranked-voting", judge_options={"attempts": 3})
    assert du.config.judge == "voting"
    assert du.config.judge_options == {"attempts": 3, "method": "ranked"}
    with pytest.raises(ConfigError, match="decision 'simple-voting' is the 'voting' judge"):
        create_protocol("du", decision="simple-voting", judge="llm")
    with pytest.raises(ConfigError, match="judge 'majority' is another"):  # even the default
        create_protocol("du", decision="simple-voting", judge="majority")
    with pytest.raises(ConfigError, match="contradicts it"):
        create_protocol("du", decision="simple-voting", judge_options={"method": "ranked"})
    with pytest.raises(ConfigError, match="decision"):
        create_protocol("du", decision="plurality-voting")
    with pytest.raises(ConfigError, match="attempts"):
        create_protocol("du", decision="simple-voting", judge_options={"attempts": 0})


def test_without_decision_a_run_keeps_its_identity():
    """Runs from before decision rules: the option is left out of the identity when unset."""
    assert "decision" not in create_protocol("du").identity_options()
    assert create_protocol("du", decision="judge").identity_options()["decision"] == "judge"


async def test_any_judged_protocol_takes_a_decision_rule():
    """ReConcile's agents vote as well as du's: each through its own model."""
    replies = ['{"reasoning": "6 x 7", "answer": "42", "confidence": 0.9}', "0"]
    agents = [Reconciler(f"agent-{i}", ScriptedModel(replies, name=f"m{i}"))
              for i in range(3)]
    protocol = create_protocol("reconcile", agents=3, rounds=0, decision="simple-voting")
    trace = await protocol.run(Q, agents)
    assert [t.agent for t in trace.turns if t.kind == "vote"] == ["agent-0", "agent-1",
                                                                   "agent-2"]
    assert trace.final.method == "simple-voting" and trace.final.answer == "42"


def test_the_cli_takes_a_decision_rule_as_a_protocol_option(tmp_path):
    """`debate run --option decision=simple-voting`: every debate's final answer is a vote."""
    result = CliRunner().invoke(app, [
        "run", "--dataset", "experiments/data/arithmetic.jsonl", "--task", "numeric",
        "--model", "scripted:reply=\\boxed{0}", "--limit", "2", "--rounds", "0",
        "--option", "decision=simple-voting", "--out", str(tmp_path), "--name", "vote",
        "--no-progress"])
    assert result.exit_code == 0, result.output
    lines = (tmp_path / "vote" / "traces.jsonl").read_text().splitlines()
    finals = [json.loads(line)["final"] for line in lines]
    assert [f["method"] for f in finals] == ["simple-voting"] * 2
    assert all(f["answer"] == "0" and f["details"]["decided"] for f in finals)


async def test_a_voter_keeps_its_own_system_prompt_and_parser():
    """MALLM's ballot opens with the voter's persona: here the agent's system prompt."""
    agents = seats([["\\boxed{41}", "0"], ["\\boxed{41}", "0"]])
    agents[1].system_prompt = "You are a careful mathematician."
    trace = await create_protocol("du", agents=2, rounds=0, decision="simple-voting").run(
        Q, agents)
    first, second = (t for t in trace.turns if t.kind == "vote")
    assert [m.role for m in first.messages][0] == "user"
    assert second.messages[0].role == "system"
    assert second.messages[0].content == "You are a careful mathematician."


async def test_a_failed_reply_is_left_off_the_ballot():
    """agent-1's reply is empty: the ballot lists two solutions, numbered 0 and 1."""
    agents = seats([["\\boxed{41}", "1"], ["", "1"], ["\\boxed{42}", "1"]])
    trace = await create_protocol("du", agents=3, rounds=0, decision="simple-voting").run(
        Q, agents)
    ballot = next(t for t in trace.turns if t.id == "r0/agent-0/vote")
    assert [m.content for m in ballot.messages[1:-1]] == ["Solution 0: 41", "Solution 1: 42"]
    assert trace.final.answer == "42"


async def test_a_reached_consensus_ends_a_reconcile_debate_too():
    replies = ['{"reasoning": "r", "answer": "42", "confidence": 0.9}'] * 2
    agents = [Reconciler(f"agent-{i}", ScriptedModel(
        replies if i < 2 else ['{"reasoning": "r", "answer": "40", "confidence": 0.9}'] * 2,
        name=f"m{i}")) for i in range(3)]
    trace = await create_protocol("reconcile", agents=3, rounds=3,
                                  decision="majority-consensus").run(Q, agents)
    assert trace.stop_reason == "consensus" and trace.totals.calls == 3
    assert trace.final.answer == "42"


@pytest.mark.parametrize("name", ["peer-review", "critique-refine"])
async def test_protocols_with_other_roles_vote_through_their_agents(name):
    """Every agent that wrote a last-round candidate casts one ballot."""
    protocol = create_protocol(name, decision="simple-voting")
    trace = await run_debate(Q, protocol=name, models="scripted:reply=0",
                             decision="simple-voting")
    voters = [t.agent for t in trace.turns if t.kind == "vote"]
    candidates = {t.agent for t in trace.turns if t.kind in ("answer", "revision")}
    assert voters and set(voters) <= candidates and len(voters) == len(set(voters))
    assert trace.final.method == "simple-voting"
    assert trace.totals.calls <= protocol.max_calls()


async def test_a_protocol_can_give_each_voter_a_role_line_on_its_ballot():
    """MALLM's ballot opens with ``Your role: {persona} ({description})`` (after the
    agent's own system prompt); a protocol names it per agent with ``ballot_roles``."""
    from debate.protocols import DuProtocol

    class WithRoles(DuProtocol):
        def ballot_roles(self):
            return {"agent-1": "Participant 2 (A participant of the discussion.)"}

    agents = seats([["\\boxed{41}", "0"], ["\\boxed{41}", "0"]])
    agents[1].system_prompt = "Card."
    trace = await WithRoles(agents=2, rounds=0, decision="simple-voting").run(Q, agents)
    first, second = (t for t in trace.turns if t.kind == "vote")
    assert first.messages[0].role == "user"
    assert [(m.role, m.content) for m in second.messages[:2]] == [
        ("system", "Card."), ("system", "Your role: Participant 2 (A participant of the "
                                        "discussion.)")]
