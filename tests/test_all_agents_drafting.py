"""All-Agents Drafting (Kaesberg et al. 2025, as MALLM runs it), message by message.

Each test is one rule of MALLM's ``memory`` paradigm with
``all_agents_generate_first_draft`` (mallm@d9e66bc): the independent first drafts,
what each agent is shown later, how agreement is read and what solution an agreeing
agent holds, when each decision rule is checked, and how many calls it may make.
"""

from pathlib import Path

import pytest

from debate.agents.mallm import Panelist, mallm_agrees
from debate.errors import ConfigError, ModelOutputError
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


def panel(*replies, failures=None):
    """Panelists ``agent-i`` whose models say ``replies[i]`` in order (votes included);
    ``failures[i]``: the exceptions agent-i's first calls raise (``None``: succeed)."""
    return [Panelist(f"agent-{i}", ScriptedModel(list(r), name=f"m{i}",
                                                 failures=(failures or {}).get(i, ())))
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
    assert (last.messages[0].role, last.messages[0].content) == (  # ResponseGenerator.py:349-354
        "system", "Your role: Participant 1 (A participant of the discussion.)")
    assert [m.content for m in last.messages[2:5]] == [
        "Solution 0: 40", "Solution 1: 40", "Solution 2: 42"]  # agent-1 agreed with 40
    assert (trace.final.answer, trace.stop_reason) == ("40", "decided")
    assert trace.totals.calls == 3 * 4 + 3 * 2


def test_max_calls_is_n_turns_plus_the_rule_s_calls_from_the_vote_turn():
    """N x turns + (turns - vote_turn + 1) x the rule's calls: consensus 0, a vote N x
    attempts; the summary decides once at turn vote_turn: N x vote_turn + 1."""
    assert create_protocol("all-agents-drafting").max_calls() == 30
    assert create_protocol("all-agents-drafting", decision="simple-voting").max_calls() == 270
    assert create_protocol("all-agents-drafting", decision="judge").max_calls() == 3 * 3 + 1
    assert create_protocol("all-agents-drafting", decision="judge", turns=4,
                           vote_turn=2).max_calls() == 3 * 2 + 1
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


async def test_a_failed_turn_is_no_message():
    """A failed call (error set, empty reply) stays in the trace but is not shown to the
    others, does not become the draft and holds no solution: agent-2 keeps its turn-1
    solution (40) and the draft stays 43, which every later prompt shows. MALLM has no
    such path (it retries, then raises)."""
    seats = panel(["\\boxed{41}", "[DISAGREE] \\boxed{43}", "[AGREE]"],
                  ["\\boxed{42}", "[AGREE]", "[AGREE]"],
                  ["\\boxed{40}", "[AGREE]"],
                  failures={2: [None, ModelOutputError("boom")]})
    trace = await create_protocol("all-agents-drafting", turns=3,
                                  decision="unanimity-consensus").run(Q, seats)
    failed = next(t for t in trace.turns if t.id == "r1/agent-2/answer")
    assert failed.error is not None and DraftAgreement.read(failed) is None
    turn = next(t for t in trace.turns if t.id == "r2/agent-0/answer")
    assert "Current Solution: 43\n" in turn.messages[0].content
    assert "r1/agent-2/answer" not in turn.saw
    assert [m.content for m in turn.messages[1:-2]] == [
        "\\boxed{41}", "Participant 2: \\boxed{42}",
        "Participant 3: \\boxed{40}", "[DISAGREE] \\boxed{43}", "Participant 2: [AGREE]"]
    # agent-0 and agent-1 hold 43 from turn 2 on, agent-2 its 40 until it agrees in turn 3
    assert [t.id for t in trace.turns][-1] == "r2/agent-2/answer"
    assert (trace.final.answer, trace.stop_reason, trace.totals.calls) == ("43", "consensus", 9)


async def test_a_failed_last_speaker_leaves_the_fallback_the_current_draft():
    """fallback last is MALLM's current draft: with the last seat's turn failed, the
    draft (43) answers, not that seat's older solution (40)."""
    seats = panel(["\\boxed{41}", "[DISAGREE] \\boxed{43}"], ["\\boxed{42}", "[AGREE]"],
                  ["\\boxed{40}", "unused"], failures={2: [None, ModelOutputError("boom")]})
    trace = await create_protocol("all-agents-drafting", turns=2,
                                  decision="unanimity-consensus").run(Q, seats)
    assert (trace.final.answer, trace.stop_reason) == ("43", "max_rounds")


async def test_the_summary_decides_at_the_vote_turn_whatever_it_says():
    """judge.py:81,94-95: MALLM's judge always agrees, so the summary after turn vote_turn
    (3) ends the discussion even when no answer can be read from it: decided, no answer,
    its reason; 3 x 3 answers + 1 summary = max_calls()."""
    seats = panel(*[[f"\\boxed{{4{i}}}"] * 3 + ["no number here", "never"] for i in range(3)])
    protocol = create_protocol("all-agents-drafting", decision="judge", turns=4)
    trace = await protocol.run(Q, seats)
    assert [t.id for t in trace.turns if t.kind != "answer"] == ["r2/agent-0/verdict"]
    assert (trace.final.answer, trace.stop_reason) == (None, "decided")
    assert trace.final.details["reason"] == "no parseable answer in the summary"
    assert trace.totals.calls == protocol.max_calls() == 3 * 3 + 1


def test_vote_turn_is_refused_under_a_consensus_rule_and_a_late_one_names_the_fix():
    """A consensus rule is checked after every agent: vote_turn would be ignored."""
    with pytest.raises(ConfigError, match="vote_turn applies only to voting rules and judge"):
        create_protocol("all-agents-drafting", vote_turn=3)
    with pytest.raises(ConfigError, match="vote_turn applies only to voting rules and judge"):
        create_protocol("all-agents-drafting", decision="majority-consensus", vote_turn=1)
    assert create_protocol("all-agents-drafting", decision="simple-voting",
                           vote_turn=2).config.vote_turn == 2
    with pytest.raises(ConfigError, match=r"no vote would ever be held: give vote_turn <= 2"):
        create_protocol("all-agents-drafting", decision="simple-voting", turns=2)


async def test_hybrid_consensus_asks_three_of_four_from_turn_five():
    """consensus.py:94-170, 4 agents: unanimity before turn 5, 0.75 from it. Three agents
    say 42 and one 41 every time: turns 1-4 go by, and right after the first message of
    turn 5 (3 of 4 hold 42) the discussion ends: 4 x 4 + 1 calls."""
    seats = panel(*[["\\boxed{42}"] * 5] * 3, ["\\boxed{41}"] * 5)
    trace = await create_protocol("all-agents-drafting", agents=4).run(Q, seats)
    assert [t.id for t in trace.turns][-2:] == ["r3/agent-3/answer", "r4/agent-0/answer"]
    assert (trace.final.answer, trace.stop_reason, trace.totals.calls) == ("42", "consensus", 17)
    assert (trace.final.details["share"], trace.final.details["threshold"]) == (0.75, 0.75)


async def test_unreadable_ballots_every_turn_spend_exactly_max_calls():
    """simple-voting, turns 4, attempts 2, ballots never read: votes after turns 3 and 4,
    each asking every agent twice: 3 x 4 + 2 x 3 x 2 = 24 = max_calls()."""
    seats = [Panelist(f"agent-{i}", ScriptedModel(
        lambda messages, params, i=i: "none" if "Answer only with the number."
        in messages[-1].content else f"[DISAGREE] \\boxed{{4{i}}}", name=f"m{i}"))
        for i in range(3)]
    protocol = create_protocol("all-agents-drafting", decision="simple-voting", turns=4,
                               judge_options={"attempts": 2})
    trace = await protocol.run(Q, seats)
    assert trace.totals.calls == protocol.max_calls() == 3 * 4 + 2 * 3 * 2
    assert (trace.final.answer, trace.stop_reason) == (None, "max_rounds")


async def test_one_agent_and_one_turn():
    """One agent, one turn: its draft is a consensus of one (hybrid: 1 of 1); with
    simple voting and vote_turn 1 it votes once on its own solution."""
    trace = await create_protocol("all-agents-drafting", agents=1, turns=1).run(
        Q, panel(["\\boxed{42}"]))
    assert (trace.final.answer, trace.stop_reason, trace.totals.calls) == ("42", "consensus", 1)
    protocol = create_protocol("all-agents-drafting", agents=1, turns=1, vote_turn=1,
                               decision="simple-voting")
    trace = await protocol.run(Q, panel(["\\boxed{42}", "0"]))
    assert (trace.final.answer, trace.stop_reason, trace.totals.calls) == ("42", "decided", 2)
    assert protocol.max_calls() == 1 + 10


async def test_chain_of_thought_off_and_a_card_s_system_prompt_as_the_persona():
    """``chain_of_thought: false`` drops "Let's think step by step."; an agent's own system
    prompt (a card's) comes first in the system message, before MALLM's."""
    seats = panel(["\\boxed{42}"], ["\\boxed{42}"], ["\\boxed{42}"])
    seats[0].system_prompt = "You are a careful mathematician."
    trace = await create_protocol("all-agents-drafting", chain_of_thought=False).run(Q, seats)
    first = trace.turns[0].messages
    assert [(m.role, m.content) for m in first] == [
        ("system", "You are a careful mathematician.\n\n" + SYSTEM.replace("{n}", "1")),
        ("user", "Propose a solution.")]


async def test_a_question_s_context_goes_into_the_task_and_the_input_is_the_question():
    """coordinator.py:226-235: the task is the instruction + "\\nContext:\\n" + context,
    the input the question alone."""
    q = Question(id="q2", text="How many apples?", task="numeric", gold="42",
                 context="Six bags of seven apples.")
    trace = await create_protocol("all-agents-drafting", agents=1, turns=1).run(
        q, panel(["\\boxed{42}"]))
    system = trace.turns[0].messages[0].content
    assert system == SYSTEM.replace("{n}", "1").replace(
        "response.\nInput: What is 6 x 7?",
        "response.\nContext:\nSix bags of seven apples.\nInput: How many apples?")
