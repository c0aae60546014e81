"""All-Agents Drafting (Kaesberg et al. 2025, as MALLM runs it), message by message.

Each test is one rule of MALLM's ``memory`` paradigm with
``all_agents_generate_first_draft`` (mallm@d9e66bc): the independent first drafts,
what each agent is shown later, how agreement is read and what solution an agreeing
agent holds, when each decision rule is checked, and how many calls it may make.
"""

from pathlib import Path

import pytest

from debate.agents.mallm import Panelist, mallm_agrees
from debate.errors import ConfigError
from debate.experiment.config import load_experiment
from debate.protocols import create_protocol
from debate.protocols.all_agents_drafting import DraftAgreement
from debate.testing import ScriptedModel
from debate.trace import Question

PRESET = Path(__file__).parents[1] / "protocols" / "all-agents-drafting.yaml"
Q = Question(id="q1", text="What is 6 x 7?", task="numeric", gold="42")
SYSTEM = ("You take part in a discussion to solve a task.\nTask: Put your final answer, a "
          "single number, in the form \\boxed{answer} at the end of your response.\n"
          "Input: What is 6 x 7?\nYour role: Participant {n} (A participant of the discussion.)")
IMPROVE = ("Improve the current solution. If you agree with the current solution, answer with "
           "[AGREE], else answer with [DISAGREE] and explain why and provide an improved "
           "solution.")
COT = "Let's think step by step."


def panel(*replies):
    """Panelists ``agent-i`` whose models say ``replies[i]`` in order (votes included)."""
    return [Panelist(f"agent-{i}", ScriptedModel(list(r), name=f"m{i}"))
            for i, r in enumerate(replies)]


def record(trace, turn_id):
    return DraftAgreement.read(next(t for t in trace.turns if t.id == turn_id))


@pytest.mark.parametrize(("text", "agrees"), [
    ("[AGREE]", True), ("[DISAGREE] no", False), ("I agree.", True),
    ("I agree, but I also disagree", False), ("Here is 42.", False)])
def test_agreement_is_read_as_mallm_reads_it(text, agrees):
    """ResponseGenerator.py:176-183: "agree" in the reply and "disagree" not."""
    assert mallm_agrees(text) is agrees


async def test_turn_one_every_agent_drafts_alone():
    """paradigm.py:62-66: no draft and no discussion in turn 1: MALLM's system message and
    "Propose a solution.", then "Let's think step by step."; nobody is seen."""
    seats = panel(["a: \\boxed{41}", "[AGREE]"], ["b: \\boxed{42}", "[AGREE]"],
                  ["c: \\boxed{40}", "[AGREE]"])
    trace = await create_protocol("all-agents-drafting", turns=2,
                                  decision="unanimity-consensus").run(Q, seats)
    for i in range(3):
        turn = next(t for t in trace.turns if t.id == f"r0/agent-{i}/answer")
        assert [(m.role, m.content) for m in turn.messages] == [
            ("system", SYSTEM.replace("{n}", str(i + 1))), ("user", "Propose a solution."),
            ("user", COT)]
        assert turn.saw == []


async def test_later_turns_show_the_current_draft_and_the_whole_discussion_in_order():
    """agent.py:221-231,271-284: the current draft is the latest disagreeing message's
    solution; the discussion so far (turn 1 and this turn's earlier speakers), own messages
    as assistant, the others' as user "Participant n: message", then the improve prompt."""
    seats = panel(["a: \\boxed{41}", "[DISAGREE] it is \\boxed{42}"],
                  ["b: \\boxed{42}", "[AGREE]"], ["c: \\boxed{40}", "[AGREE] \\boxed{42}"])
    trace = await create_protocol("all-agents-drafting", turns=2).run(Q, seats)
    turn = next(t for t in trace.turns if t.id == "r1/agent-1/answer")
    assert [(m.role, m.content) for m in turn.messages] == [
        ("system", SYSTEM.replace("{n}", "2") + "\nCurrent Solution: 42\n"
                   "This is the discussion to the current point: \n"),
        ("user", "Participant 1: a: \\boxed{41}"),
        ("assistant", "b: \\boxed{42}"),
        ("user", "Participant 3: c: \\boxed{40}"),
        ("user", "Participant 1: [DISAGREE] it is \\boxed{42}"),
        ("user", IMPROVE), ("user", COT)]
    saw = {t.id: t.saw for t in trace.turns if t.round == 1}
    assert saw == {  # every other agent's message so far, in speaking order
        "r1/agent-0/answer": ["r0/agent-1/answer", "r0/agent-2/answer"],
        "r1/agent-1/answer": ["r0/agent-0/answer", "r0/agent-2/answer", "r1/agent-0/answer"],
        "r1/agent-2/answer": ["r0/agent-0/answer", "r0/agent-1/answer", "r1/agent-0/answer",
                              "r1/agent-1/answer"]}
    first = next(t for t in trace.turns if t.id == "r1/agent-0/answer")
    assert "Current Solution: 40" in first.messages[0].content  # turn 1's last draft


async def test_an_agreeing_message_holds_the_current_draft_s_solution():
    """agent.py:73,78: the discussion's first message never agrees; an agreeing message's
    solution is the previous one's (the draft), so the draft stays; a disagreeing one
    becomes the draft. Every turn records MALLM's reading."""
    seats = panel(["I agree: \\boxed{41}", "[DISAGREE] \\boxed{42}", "x"],
                  ["b: \\boxed{43}", "[AGREE]", "x"], ["I agree: \\boxed{44}", "y", "x"])
    trace = await create_protocol("all-agents-drafting", turns=2,
                                  decision="unanimity-consensus").run(Q, seats)
    assert record(trace, "r0/agent-0/answer") == DraftAgreement(
        agreement=False, solution_from="r0/agent-0/answer")  # the first message
    assert record(trace, "r0/agent-2/answer") == DraftAgreement(
        agreement=True, solution_from="r0/agent-1/answer")  # MALLM reads turn 1 too
    assert record(trace, "r1/agent-1/answer") == DraftAgreement(
        agreement=True, solution_from="r1/agent-0/answer")
    assert record(trace, "r1/agent-2/answer").agreement is False  # "y": no agree
    after = next(t for t in trace.turns if t.id == "r1/agent-2/answer")
    assert "Current Solution: 42" in after.messages[0].content  # agent-1 agreed: still 42


async def test_agree_without_an_answer_counts_for_the_draft_and_consensus_ends_mid_turn():
    """Hybrid consensus (unanimity with 3 agents) is checked after every agent
    (paradigm.py:106-121): agent-0 disagrees with 42, agent-1 agrees with "[AGREE]" alone,
    agent-2's turn-1 draft was 42 already: all three hold 42 after agent-1 of turn 2, and
    the discussion ends there; agent-2 never speaks in turn 2."""
    seats = panel(["a: \\boxed{41}", "[DISAGREE] \\boxed{42}"], ["b: \\boxed{40}", "[AGREE]"],
                  ["c: \\boxed{42}", "never said"])
    trace = await create_protocol("all-agents-drafting").run(Q, seats)
    assert [t.id for t in trace.turns] == [
        "r0/agent-0/answer", "r0/agent-1/answer", "r0/agent-2/answer",
        "r1/agent-0/answer", "r1/agent-1/answer"]
    assert (trace.final.answer, trace.final.method, trace.stop_reason) == (
        "42", "hybrid-consensus", "consensus")
    assert trace.totals.calls == 5


async def test_a_majority_consensus_can_end_the_first_turn_before_the_last_agent():
    """Consensus is counted over all agents (consensus.py:96-104), one not yet heard
    agreeing with no one: 2 of 3 give 42 after agent-1, 2/3 >= 0.5, so agent-2 never
    drafts."""
    seats = panel(["\\boxed{42}"], ["\\boxed{42}"], ["unused"])
    trace = await create_protocol("all-agents-drafting", decision="majority-consensus").run(
        Q, seats)
    assert [t.id for t in trace.turns] == ["r0/agent-0/answer", "r0/agent-1/answer"]
    assert (trace.final.answer, trace.stop_reason) == ("42", "consensus")
    one = panel(["\\boxed{42}"], ["\\boxed{41}"], ["\\boxed{40}", "x"])
    trace = await create_protocol("all-agents-drafting", turns=1,
                                  decision="majority-consensus").run(Q, one)
    assert trace.totals.calls == 3 and trace.stop_reason == "max_rounds"


async def test_without_consensus_by_the_last_turn_the_last_speaker_s_solution_answers():
    """fallback last: MALLM's current draft, the last speaker's solution."""
    seats = panel(["\\boxed{41}", "[DISAGREE] \\boxed{41}"], ["\\boxed{42}", "[AGREE]"],
                  ["\\boxed{43}", "[DISAGREE] \\boxed{43}"])
    trace = await create_protocol("all-agents-drafting", turns=2).run(Q, seats)
    assert (trace.final.answer, trace.stop_reason) == ("43", "max_rounds")
    assert trace.final.details["decided"] is False and trace.totals.calls == 6


async def test_voting_waits_for_turn_three_and_a_tie_votes_again_after_another_turn():
    """simple-voting: no vote after turns 1 and 2; a 1-1-1 tie after turn 3; turn 4, then
    2 votes for solution 1 win. An agreeing agent's solution on the ballot is the draft's."""
    seats = panel(["\\boxed{40}", "[DISAGREE] \\boxed{40}", "[DISAGREE] \\boxed{40}", "0",
                   "[DISAGREE] \\boxed{40}", "1"],
                  ["\\boxed{41}", "[DISAGREE] \\boxed{41}", "[DISAGREE] \\boxed{41}", "1",
                   "[AGREE]", "1"],
                  ["\\boxed{42}", "[DISAGREE] \\boxed{42}", "[DISAGREE] \\boxed{42}", "2",
                   "[DISAGREE] \\boxed{42}", "0"])
    trace = await create_protocol("all-agents-drafting", decision="simple-voting").run(Q, seats)
    assert [t.id for t in trace.turns if t.kind == "vote"] == [
        *(f"r2/agent-{i}/vote" for i in range(3)), *(f"r3/agent-{i}/vote" for i in range(3))]
    last = next(t for t in trace.turns if t.id == "r3/agent-0/vote")
    assert [m.content for m in last.messages[1:4]] == [
        "Solution 0: 40", "Solution 1: 40", "Solution 2: 42"]  # agent-1 agreed with 40
    assert (trace.final.answer, trace.stop_reason) == ("40", "decided")
    assert trace.totals.calls == 3 * 4 + 3 * 2


def test_max_calls_is_n_turns_plus_the_rule_s_calls_from_the_vote_turn():
    """N x turns + (turns - vote_turn + 1) x the rule's calls: consensus 0, a vote N x
    attempts, the summary 1."""
    assert create_protocol("all-agents-drafting").max_calls() == 30
    assert create_protocol("all-agents-drafting", decision="simple-voting").max_calls() == 270
    assert create_protocol("all-agents-drafting", decision="judge").max_calls() == 30 + 8
    assert create_protocol("all-agents-drafting", agents=4, turns=5,
                           decision="majority-consensus").max_calls() == 20


def test_any_decision_rule_but_no_other_judge():
    with pytest.raises(ConfigError, match="judge 'llm' is not the judge of decision"):
        create_protocol("all-agents-drafting", judge="llm")
    with pytest.raises(ConfigError, match="decision None is not one of"):
        create_protocol("all-agents-drafting", decision=None)


def test_the_preset_is_mallm_s_setup(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(f"protocol: {PRESET}\ndataset: x.jsonl\nmodels: [scripted:echo]\n")
    cls, options = load_experiment(spec).resolve_protocol()
    protocol = cls(**options)
    assert cls.name == "all-agents-drafting"
    assert protocol.config == create_protocol("all-agents-drafting").config
    assert (protocol.config.agents, protocol.config.turns, protocol.config.decision,
            protocol.config.judge_options) == (3, 10, "hybrid-consensus", {"rule": "hybrid"})


async def test_it_runs_the_same_on_langgraph_s_runtime():
    """The mid-turn end and the vote's loop are the same graph on both runtimes."""
    for graph_runtime in ("auto", "langgraph"):
        seats = panel(["a: \\boxed{41}", "[DISAGREE] \\boxed{42}"],
                      ["b: \\boxed{40}", "[AGREE]"], ["c: \\boxed{42}", "never said"])
        protocol = create_protocol("all-agents-drafting")
        protocol.graph_runtime = graph_runtime
        trace = await protocol.run(Q, seats)
        assert (trace.final.answer, trace.stop_reason, trace.totals.calls) == (
            "42", "consensus", 5)
