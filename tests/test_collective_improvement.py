"""Collective Improvement (Kaesberg et al. 2025, as MALLM runs it), seat by seat on scripted agents.

Each test is one rule of MALLM's ``collective_refinement`` paradigm (mallm@d9e66bc):
what each agent is shown each turn, when the agents vote, what a tie does, which
decision rules it takes, and how many calls it may make.
"""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from debate.agents.mallm import CollectiveImprover
from debate.cli import app
from debate.errors import ConfigError, ModelOutputError
from debate.experiment.config import load_experiment
from debate.protocols import create_protocol
from debate.protocols.collective_improvement import CollectiveImprovementProtocol
from debate.testing import ScriptedModel
from debate.trace import Question

PRESET = Path(__file__).parents[1] / "protocols" / "collective-improvement.yaml"
Q = Question(id="q1", text="What is 6 x 7?", task="numeric", gold="42")
TASK = "Put your final answer, a single number, in the form \\boxed{answer} at the end of " \
       "your response."


def seat(i, answers, ballots=("0",), failures=()):
    """Agent i: answers ``answers[t]`` at turn t (``agent i turn t+1: \\boxed{..}``) and casts
    ``ballots`` in order when asked to vote (the last one again after that); ``failures``:
    the exceptions its first calls raise (a failed call is no answer: turns count on)."""
    said = {"turns": 0, "votes": 0}

    def reply(messages, params):
        if "Answer only with the number." in messages[-1].content:
            said["votes"] += 1
            return ballots[min(said["votes"], len(ballots)) - 1]
        said["turns"] += 1
        t = said["turns"]
        return f"agent {i} turn {t}: \\boxed{{{answers[min(t, len(answers)) - 1]}}}"
    return ScriptedModel(reply, name=f"m{i}", failures=failures)


def agents(answers, ballots=None, failures=None):
    models = [seat(i, a, ballots[i] if ballots else ("0",), (failures or {}).get(i, ()))
              for i, a in enumerate(answers)]
    return models, [CollectiveImprover(f"agent-{i}", m) for i, m in enumerate(models)]


def answer_calls(model):
    return [c for c in model.calls if "Answer only with the number." not in c.messages[-1].content]


async def test_turn_one_is_mallm_s_prompt_with_an_empty_history_and_chain_of_thought():
    """collective_refinement.py:115-124: system with the persona (MALLM's persona-less
    ``Participant n``), the task and input, an empty history, then "Let's think step by
    step." (FreeTextResponseGenerator.py:60-66); each agent alone, nobody seen."""
    models, seats = agents([[42], [42], [42]])
    trace = await create_protocol("collective-improvement").run(Q, seats)
    first = answer_calls(models[1])[0].messages
    assert [(m.role, m.content) for m in first] == [
        ("system", "You are a helpful assistant taking part in a discussion to solve a task. "
                   "Your assigned persona is called Participant 2 and can be described as "
                   "A participant of the discussion.."),
        ("user", f"Your task is: {TASK}\n\nThe input you have to work with is: What is 6 x 7?."
                 "\n\n\n\nTry to improve your previous answer by critically taking into "
                 "account the answers from the other participants."),
        ("user", "Let's think step by step.")]
    assert all(t.saw == [] for t in trace.turns if t.round == 0)


async def test_from_turn_two_each_sees_its_own_and_the_others_previous_answers_only():
    """collective_refinement.py:95-104,160-162: own previous answer, then every other
    agent's previous answer in full, ``(persona) answer`` in seat order; memories are
    replaced each turn, so turn 3 shows nothing of turn 1; a fresh prompt, no chat."""
    models, seats = agents([[40], [41], [42]], ballots=[("1",), ("1",), ("1",)])
    trace = await create_protocol("collective-improvement").run(Q, seats)
    for r in (1, 2):
        for i in range(3):
            turn = next(t for t in trace.turns if t.id == f"r{r}/agent-{i}/answer")
            assert turn.saw == [f"r{r - 1}/agent-{j}/answer" for j in range(3) if j != i]
            system, prompt, cot = turn.messages
            others = "\n\n".join(f"(Participant {j + 1}) agent {j} turn {r}: \\boxed{{{40 + j}}}"
                                 for j in range(3) if j != i)
            assert prompt.content == (
                f"Your task is: {TASK}\n\nThe input you have to work with is: What is 6 x 7?."
                f"\n\nYour previous answer was:\n\n agent {i} turn {r}: \\boxed{{{40 + i}}}\n\n"
                f"Here are the answers of the other agents:\n\n{others}\n\nTry to improve your "
                "previous answer by critically taking into account the answers from the other "
                "participants.")
            assert "turn 1:" not in prompt.content or r == 1
            assert [m.role for m in turn.messages] == ["system", "user", "user"]


async def test_no_vote_before_turn_three_then_a_winner_ends_the_discussion():
    """vote_turn 3 (simple_voting.py:27,43-44): turns 1 and 2 end without a vote; after turn
    3 every agent votes on the turn's answers; two votes for solution 1 decide."""
    models, seats = agents([[40], [42], [42]], ballots=[("1",), ("1",), ("0",)])
    trace = await create_protocol("collective-improvement").run(Q, seats)
    votes = [t.id for t in trace.turns if t.kind == "vote"]
    assert votes == ["r2/agent-0/vote", "r2/agent-1/vote", "r2/agent-2/vote"]
    assert [t.round for t in trace.turns if t.kind == "answer"] == [0] * 3 + [1] * 3 + [2] * 3
    assert (trace.final.answer, trace.final.method, trace.stop_reason) == (
        "42", "simple-voting", "decided")
    ballot = next(t for t in trace.turns if t.id == "r2/agent-0/vote")
    assert ballot.saw == [f"r2/agent-{i}/answer" for i in range(3)]
    assert (ballot.messages[0].role, ballot.messages[0].content) == (  # ResponseGenerator.py:349
        "system", "Your role: Participant 1 (A participant of the discussion.)")
    assert trace.totals.calls == 3 * 3 + 3


async def test_a_tie_is_another_turn_and_another_vote():
    """Each agent votes for itself first (1-1-1: a tie decides nothing), so the agents
    answer a fourth turn and vote again; then solution 2 wins 2 to 1."""
    models, seats = agents([[40], [41], [42]],
                           ballots=[("0", "2"), ("1", "1"), ("2", "2")])
    trace = await create_protocol("collective-improvement").run(Q, seats)
    assert [t.id for t in trace.turns if t.kind == "vote"] == [
        *(f"r2/agent-{i}/vote" for i in range(3)), *(f"r3/agent-{i}/vote" for i in range(3))]
    assert (trace.final.answer, trace.stop_reason) == ("42", "decided")
    assert trace.final.details["scores"] == [0, 1, 2]
    assert trace.totals.calls == 3 * 4 + 3 * 2


async def test_a_tie_at_the_last_turn_leaves_no_answer():
    """turns 4: ties after turns 3 and 4; MALLM's draft stays empty: no final answer."""
    models, seats = agents([[40], [41], [42]], ballots=[("0",), ("1",), ("2",)])
    trace = await create_protocol("collective-improvement", turns=4).run(Q, seats)
    assert trace.final.answer is None and trace.stop_reason == "max_rounds"
    assert trace.final.details == {**trace.final.details, "decided": False, "reason": "tie"}
    assert max(t.round for t in trace.turns) == 3


@pytest.mark.parametrize("decision", ["majority-consensus", "supermajority-consensus",
                                      "unanimity-consensus", "hybrid-consensus", "judge"])
def test_it_decides_by_voting_only(decision):
    """MALLM: "only works with voting based decision protocols" (collective_refinement.py:
    70-72): a consensus rule or the summarising judge is refused, naming why."""
    with pytest.raises(ConfigError, match="decides by voting only .*collective_refinement"):
        create_protocol("collective-improvement", decision=decision)
    with pytest.raises(ConfigError, match="judge 'llm' is not the judge of decision"):
        create_protocol("collective-improvement", judge="llm")
    ranked = create_protocol("collective-improvement", decision="ranked-voting")
    assert (ranked.config.judge, ranked.config.judge_options) == ("voting", {"method": "ranked"})


def test_a_vote_turn_after_the_last_turn_is_refused_naming_the_fix():
    with pytest.raises(ConfigError, match="vote_turn 4 comes after the last turn .*: give "
                                          "vote_turn <= 3"):
        create_protocol("collective-improvement", turns=3, vote_turn=4)


def test_max_calls_is_n_turns_plus_the_votes_attempts():
    """N x turns + (turns - vote_turn + 1) x N x attempts: 3 x 10 + 8 x 3 x 10 = 270."""
    assert create_protocol("collective-improvement").max_calls() == 270
    p = create_protocol("collective-improvement", agents=4, turns=5, vote_turn=2,
                        judge_options={"attempts": 3})
    assert p.max_calls() == 4 * 5 + 4 * 4 * 3 == 68


async def test_unreadable_ballots_every_turn_spend_exactly_max_calls():
    """Ballots never read (attempts 2): every vote asks twice, no vote decides, and the
    discussion makes exactly max_calls() calls."""
    models, seats = agents([[40], [41], [42]], ballots=[("none",), ("none",), ("none",)])
    protocol = create_protocol("collective-improvement", turns=4,
                               judge_options={"attempts": 2})
    trace = await protocol.run(Q, seats)
    assert trace.totals.calls == protocol.max_calls() == 3 * 4 + 2 * 3 * 2
    assert trace.final.details["reason"] == "no readable ballot"


async def test_chain_of_thought_off_and_a_card_s_system_prompt_as_the_persona():
    """``chain_of_thought: false`` drops "Let's think step by step."; an agent's own system
    prompt (a card's) comes first in the system message."""
    models, seats = agents([[42], [42], [42]], ballots=[("0",)] * 3)
    seats[0].system_prompt = "You are a careful mathematician."
    trace = await create_protocol("collective-improvement", chain_of_thought=False,
                                  turns=3).run(Q, seats)
    first = trace.turns[0].messages
    assert [m.role for m in first] == ["system", "user"]
    assert first[0].content.startswith("You are a careful mathematician.\n\nYou are a helpful")


async def test_it_runs_the_same_on_langgraph_s_runtime():
    models, seats = agents([[40], [42], [42]], ballots=[("1",), ("1",), ("0",)])
    protocol = CollectiveImprovementProtocol()
    protocol.graph_runtime = "langgraph"
    trace = await protocol.run(Q, seats)
    assert (trace.final.answer, trace.stop_reason, trace.totals.calls) == ("42", "decided", 12)


def test_the_preset_is_mallm_s_setup_and_the_cli_shows_its_graph(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(f"protocol: {PRESET}\ndataset: x.jsonl\nmodels: [scripted:echo]\n")
    cls, options = load_experiment(spec).resolve_protocol()
    protocol = cls(**options)
    assert cls.name == "collective-improvement"
    assert protocol.config == create_protocol("collective-improvement").config
    assert (protocol.config.agents, protocol.config.turns, protocol.config.vote_turn,
            protocol.config.decision) == (3, 10, 3, "simple-voting")
    result = CliRunner().invoke(app, ["protocols", "collective-improvement", "--graph"])
    assert result.exit_code == 0, result.output
    assert "turn -.-> vote" in result.output and "vote -.-> turn" in result.output


async def test_a_failed_answer_is_left_out_of_every_history():
    """A failed call (error set, empty reply) is no message: it does not replace its
    agent's memory (collective_refinement.py:160-162 replaces memories by messages), so
    agent-1's turn-1 answer stands in turn 3's histories, its own and the others', and
    no empty answer is shown. agent-2 fails in turn 1: it is left out of turn 2's
    histories and gets the first turn's prompt itself."""
    models, seats = agents([[40], [41], [42]],
                           failures={1: [None, ModelOutputError("boom")],
                                     2: [ModelOutputError("boom")]})
    trace = await create_protocol("collective-improvement").run(Q, seats)
    assert [t.id for t in trace.turns if t.error] == ["r0/agent-2/answer", "r1/agent-1/answer"]
    own = next(t for t in trace.turns if t.id == "r2/agent-1/answer")
    assert own.messages[1].content == (
        f"Your task is: {TASK}\n\nThe input you have to work with is: What is 6 x 7?.\n\n"
        "Your previous answer was:\n\n agent 1 turn 1: \\boxed{41}\n\nHere are the answers of "
        "the other agents:\n\n(Participant 1) agent 0 turn 2: \\boxed{40}\n\n(Participant 3) "
        "agent 2 turn 1: \\boxed{42}\n\nTry to improve your previous answer by critically "
        "taking into account the answers from the other participants.")
    other = next(t for t in trace.turns if t.id == "r2/agent-0/answer")
    assert "(Participant 2) agent 1 turn 1: \\boxed{41}" in other.messages[1].content
    assert other.saw == ["r0/agent-1/answer", "r1/agent-2/answer"]
    second = {i: next(t for t in trace.turns if t.id == f"r1/agent-{i}/answer").messages[1]
              for i in (0, 2)}
    assert "(Participant 3)" not in second[0].content
    assert "\n\n\n\nTry to improve" in second[2].content  # the first turn's prompt


async def test_one_agent_one_turn_votes_on_its_own_answer():
    """agents 1, turns 1, vote_turn 1: one answer, one ballot for solution 0; max_calls()
    1 + 1 x 1 x 10."""
    models, seats = agents([[42]])
    protocol = create_protocol("collective-improvement", agents=1, turns=1, vote_turn=1)
    trace = await protocol.run(Q, seats[:1])
    assert (trace.final.answer, trace.stop_reason, trace.totals.calls) == ("42", "decided", 2)
    assert protocol.max_calls() == 1 + 10


async def test_a_question_s_context_goes_into_the_task_and_the_input_is_the_question():
    """coordinator.py:226-235: the task is the instruction + "\\nContext:\\n" + context,
    the input the question alone."""
    q = Question(id="q2", text="How many apples?", task="numeric", gold="42",
                 context="Six bags of seven apples.")
    models, seats = agents([[42], [42], [42]])
    trace = await create_protocol("collective-improvement").run(q, seats)
    assert trace.turns[0].messages[1].content.startswith(
        f"Your task is: {TASK}\nContext:\nSix bags of seven apples.\n\nThe input you have to "
        "work with is: How many apples?.\n\n")
