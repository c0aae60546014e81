"""Every metric against values worked out by hand, on scripted debates.

Each scenario's expected numbers are derived in the comments next to them;
none is computed by the code under test.
"""

import json

import pytest
from rich.console import Console

from debate import ExperimentConfig, arun_experiment
from debate.agents import Critic, Debater, JudgeAgent, Refiner, Solver
from debate.analysis.metrics import summarize
from debate.analysis.report import markdown_report, print_summary
from debate.analysis.stats import compare_runs, mcnemar, wilson_interval
from debate.models import Completion, Price, PriceTable, Usage
from debate.protocols import CritiqueRefineProtocol, DuProtocol, SelfRefineProtocol
from debate.testing import ScriptedModel, register_script
from debate.trace import Question


class Fixed:
    """Replies from a list; every call reports 10 prompt and 2 completion tokens."""

    def __init__(self, replies, name="fixed:m"):
        self.name, self.replies = name, list(replies)

    async def generate(self, messages, params):
        return Completion(text=self.replies.pop(0), usage=Usage(prompt_tokens=10,
                                                                completion_tokens=2))


PRICES = PriceTable({"m": Price(input=1.0, output=2.0)})  # $ per million tokens


def q(i, gold="12"):
    return Question(id=f"q{i}", text=f"Question {i}?", task="numeric", gold=gold)


async def test_scenario_du_tie_unparsed_fallback_and_flips():
    # Q1: round 0 = 12 (boxed), 13 (fallback: last number), none -> votes 12:1, 13:1, a tie
    #     won by 12, the first in agent order: right. Round 1: 12, 12, 12.
    # Q2: round 0 = 12, 11, 11 -> 11 (wrong). Round 1: 11, 11, 11 ("the answer is 11").
    one = [Fixed(["\\boxed{12}", "\\boxed{12}"]), Fixed(["I get 13", "\\boxed{12}"]),
           Fixed(["no idea", "\\boxed{12}"])]
    two = [Fixed(["\\boxed{12}", "\\boxed{11}"]), Fixed(["\\boxed{11}", "\\boxed{11}"]),
           Fixed(["\\boxed{11}", "the answer is 11"])]
    traces = []
    for i, models in ((1, one), (2, two)):
        agents = [Debater(f"agent-{k}", m) for k, m in enumerate(models)]
        traces.append(await DuProtocol(rounds=1).run(q(i), agents))
    s = summarize(traces, PRICES)
    assert (s.debates, s.scored, s.correct, s.accuracy) == (2, 2, 1, 0.5)
    assert s.accuracy_interval == pytest.approx((0.0945312, 0.9054688), abs=1e-6)
    r0, r1 = s.rounds
    # round 0: majority right on Q1 (the tie) only: 1/2; single answers right: Q1 12, Q2 12
    assert (r0.debates, r0.answers, r0.majority_accuracy, r0.agent_accuracy) == (2, 6, 0.5, 2 / 6)
    assert (r0.unparsed, r0.fallback, r0.changed) == (1, 1, 0)
    assert (r0.unparsed_share, r0.fallback_share) == (1 / 6, 1 / 6)
    # round 1: Q1 all right, Q2 all wrong; changes: Q1 agent-1 13->12 and agent-2 none->12
    # (wrong->right), Q2 agent-0 12->11 (right->wrong)
    assert (r1.majority_accuracy, r1.agent_accuracy, r1.unparsed, r1.fallback) == (0.5, 0.5, 0, 0)
    assert (r1.changed, r1.right_to_wrong, r1.wrong_to_right) == (3, 1, 2)
    assert s.vote_accuracy == 0.5
    by_agent = {a.agent: (a.answers, a.unparsed, a.fallback, a.changed, a.right_to_wrong,
                          a.wrong_to_right) for a in s.agents}
    assert by_agent == {"agent-0": (4, 0, 0, 1, 1, 0), "agent-1": (4, 0, 1, 1, 0, 1),
                        "agent-2": (4, 1, 0, 1, 0, 1)}
    assert [a.agent for a in s.agents] == ["agent-0", "agent-1", "agent-2"]
    # both last rounds agree (12,12,12 and 11,11,11)
    assert (s.consensus_rate, s.consensus_debates) == (1.0, 2)
    assert (s.answers, s.unparsed_answers, s.fallback_answers) == (12, 1, 1)
    # 12 calls x (10 prompt, 2 completion); $1 and $2 per million: 12 x 14e-6
    assert (s.calls, s.prompt_tokens, s.completion_tokens) == (12, 120, 24)
    assert s.cost == pytest.approx(168e-6)


def early_stop_script(messages, params):
    question = messages[-1].content if len(messages) == 1 else messages[0].content
    second = len(messages) > 1  # the debate round continues the chat
    agent = params.sampler
    if "5 + 5" in question:
        raise ValueError("the backend broke on q3")
    if "2 + 2" in question:
        return "\\boxed{4}"
    if second:
        return "\\boxed{6}"
    return "\\boxed{6}" if agent == "agent-0" else "\\boxed{7}"


@pytest.fixture(autouse=True)
def early_stop(restored_registries):
    """``scripted:metrics-early-stop`` for each test (the registries are restored after it)."""
    register_script("metrics-early-stop", early_stop_script)


async def test_scenario_early_stop_and_an_unfinished_question(tmp_path):
    # q1 (2+2=4): all say 4 at once -> consensus stop after 3 calls.
    # q2 (3+3=6): 6, 7, 7 (majority 7: wrong) then 6, 6, 6 -> stop after 6 calls.
    # q3 (5+5=10): the model raises -> the debate fails, the question is unfinished.
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"id": f"q{i}", "question": f"What is {a} + {a}?",
                                        "answer": str(2 * a)}) + "\n"
                            for i, a in ((1, 2), (2, 3), (3, 5))))
    config = ExperimentConfig(protocol="du", rounds=2,
                              protocol_options={"stop_on_consensus": True},
                              models=["scripted:metrics-early-stop"],
                              dataset={"path": str(data), "task": "numeric"},
                              output_dir=str(tmp_path), name="run")
    s = await arun_experiment(config, progress=False)
    assert (s.questions, s.debates, s.unfinished, s.scored, s.correct) == (3, 2, 1, 2, 2)
    assert s.accuracy == 1.0 and list(s.failed) == ["q3"] and "ValueError" in s.failed["q3"]
    assert s.accuracy_interval == pytest.approx((0.3423802, 1.0), abs=1e-6)
    r0, r1 = s.rounds  # no round 2: both debates stopped before it
    assert (r0.debates, r0.answers, r0.majority_accuracy, r0.agent_accuracy) == (2, 6, 0.5, 4 / 6)
    assert (r1.debates, r1.answers, r1.majority_accuracy, r1.agent_accuracy) == (1, 3, 1.0, 1.0)
    assert (r1.changed, r1.right_to_wrong, r1.wrong_to_right) == (2, 0, 2)
    assert s.vote_accuracy == 0.5 and s.consensus_rate == 1.0
    assert s.calls == 3 + 6 and s.cached_calls == 0
    # what a person reads: finished out of all, the interval, the failure and its reason
    console = Console(record=True, width=200)
    print_summary(s, console)
    text = console.export_text()
    assert "2/3 finished" in text and "1 unfinished, not in the accuracy" in text
    assert "95% CI 34.2%–100.0%" in text and "q3: ValueError: the backend broke on q3" in text
    report = (tmp_path / "run" / "report.md").read_text()
    assert "round-0 majority vote | 50.0%" in report and "## Definitions" in report


async def test_scenario_judge_decides_against_the_majority():
    # answers 12, 13, 13 (gold 12): the round-0 vote says 13 (wrong); the LLM judge picks
    # candidate 1 (12): right. The judge's verdict is a call but not an answer.
    models = [Fixed(["\\boxed{12}"]), Fixed(["\\boxed{13}"]), Fixed(["\\boxed{13}"])]
    agents = [Debater(f"agent-{k}", m) for k, m in enumerate(models)]
    judge = JudgeAgent("judge", Fixed(['{"choice": 1, "rationale": "3*4"}']))
    trace = await DuProtocol(rounds=0, judge="llm").run(q(1), [*agents, judge])
    s = summarize([trace], PRICES)
    assert (s.accuracy, s.vote_accuracy) == (1.0, 0.0)
    assert s.accuracy_interval == pytest.approx((0.2065493, 1.0), abs=1e-6)
    (r0,) = s.rounds
    assert (r0.answers, r0.majority_accuracy, r0.agent_accuracy) == (3, 0.0, 1 / 3)
    assert (s.consensus_rate, s.consensus_debates) == (0.0, 1)  # 12, 13, 13 disagree
    assert [a.agent for a in s.agents] == ["agent-0", "agent-1", "agent-2"]  # no judge row
    assert (s.calls, s.prompt_tokens, s.completion_tokens, s.answers) == (4, 40, 8, 3)


def critique_team(refined):
    solver, critic, refiner = (Fixed(["\\boxed{41}"]),
                               Fixed(['{"verdict": "revise", "critique": "6*7 is 42"}',
                                      '{"verdict": "accept", "critique": "ok"}']),
                               Fixed([refined]))
    return [Solver("solver", solver), Critic("critic", critic), Refiner("refiner", refiner)]


async def test_scenario_critique_refine_single_solution_rounds():
    # draft 41 (wrong), refinement "so it is 42" (fallback: last number, right): the
    # refinement changes the draft's answer, wrong->right, credited to the refiner.
    # One answering agent per round: no consensus to measure (n/a, not 100%).
    trace = await CritiqueRefineProtocol().run(q(1, "42"), critique_team("so it is 42"))
    s = summarize([trace], PRICES)
    assert s.accuracy == 1.0 and s.vote_accuracy == 0.0
    r0, r1 = s.rounds
    assert (r0.answers, r0.majority_accuracy, r0.fallback) == (1, 0.0, 0)
    assert (r1.answers, r1.majority_accuracy, r1.fallback, r1.fallback_share) == (1, 1.0, 1, 1.0)
    assert (r1.changed, r1.right_to_wrong, r1.wrong_to_right) == (1, 0, 1)
    by_agent = {a.agent: (a.answers, a.fallback, a.changed, a.wrong_to_right) for a in s.agents}
    assert by_agent == {"solver": (1, 0, 0, 0), "refiner": (1, 1, 1, 1)}
    assert (s.consensus_rate, s.consensus_debates) == (None, 0)
    assert (s.calls, s.prompt_tokens, s.completion_tokens) == (4, 40, 8)


async def test_scenario_strict_parsing_counts_the_fallback_as_unparsed():
    # the same debate with strict_parsing: "so it is 42" has no explicit answer, so the
    # refinement is unparsed, the final answer (the last solution) is none: accuracy 0
    agents = critique_team("so it is 42")
    for agent in agents:
        agent.strict_parsing = True
    trace = await CritiqueRefineProtocol().run(q(1, "42"), agents)
    s = summarize([trace], PRICES)
    assert s.accuracy == 0.0 and trace.final.answer is None
    r1 = s.rounds[1]
    assert (r1.unparsed, r1.fallback, r1.changed, r1.wrong_to_right) == (1, 0, 1, 0)
    assert (s.unparsed_answers, s.fallback_answers) == (1, 0)


async def test_consensus_is_not_applicable_to_single_agent_protocols():
    model = ScriptedModel(["\\boxed{41}", '{"verdict": "accept", "critique": "ok"}'])
    from debate.agents import SelfRefiner

    trace = await SelfRefineProtocol().run(q(1, "42"), [SelfRefiner("self", model)])
    assert summarize([trace]).consensus_rate is None


def test_wilson_and_mcnemar_by_hand():
    # Wilson, z = 1.96: 1 of 2 -> centre 0.5, half-width 0.4055
    assert wilson_interval(1, 2) == pytest.approx((0.0945312, 0.9054688), abs=1e-6)
    assert wilson_interval(0, 1) == pytest.approx((0.0, 0.7934507), abs=1e-6)
    assert wilson_interval(0, 0) is None
    # exact McNemar: 1 vs 5 discordant -> 2 * (C(6,0) + C(6,1)) / 2^6 = 14/64
    assert mcnemar(1, 5) == pytest.approx(0.21875)
    assert mcnemar(0, 0) == 1.0 and mcnemar(3, 3) == 1.0


async def test_comparing_two_runs_pairs_questions():
    # A right on q1, q2; B right on q2, q3, q4; q5 only in A. Common: q1-q4.
    def trace(qid, correct):
        from debate.trace import DebateTrace, FinalAnswer
        # scored by its final answer (gold 12), as every reader of traces scores it
        return DebateTrace(id=qid, protocol="x", question=q(qid[1:]), agents=[], turns=[],
                           final=FinalAnswer(answer="12" if correct else "7", method="x"),
                           stop_reason="done", correct=correct)
    a = [trace("q1", True), trace("q2", True), trace("q3", False), trace("q4", False),
         trace("q5", True)]
    b = [trace("q1", False), trace("q2", True), trace("q3", True), trace("q4", True)]
    c = compare_runs(a, b)
    assert (c.questions, c.only_a, c.only_b, c.only_in_a, c.only_in_b) == (4, 1, 2, 1, 0)
    assert (c.accuracy_a, c.accuracy_b, c.difference) == (0.5, 0.75, 0.25)
    assert c.p_value == pytest.approx(1.0)  # 2 * (1 + 3) / 8 = 1.0


def test_the_report_defines_every_metric():
    from debate.analysis.metrics import DEFINITIONS, Summary
    from debate.analysis.report import _AGENT_HEADER, _ROUND_HEADER, _overview

    labels = {"round", "debates", "agent", "answers", "run", "protocol", "models", "calls",
              "tokens", "cost", "unparsed answers", "fallback-parsed answers"}
    columns = [c for c in (*_ROUND_HEADER, *_AGENT_HEADER, *(k for k, _ in _overview(Summary())))
               if c not in labels]
    undefined = [c for c in columns if not any(c in name for name in DEFINITIONS)]
    assert undefined == []  # a new column needs a definition
    text = markdown_report(Summary())
    assert all(f"**{name}**" in text for name in DEFINITIONS)


async def test_debate_compare_from_the_cli(tmp_path):
    from typer.testing import CliRunner

    from debate.cli import app

    for name, script in (("a", "scripted:first-number"), ("b", "scripted:reply=\\boxed{55}")):
        config = ExperimentConfig(protocol="single", models=[script], limit=4,
                                  dataset={"path": "experiments/data/arithmetic.jsonl",
                                           "task": "numeric"},
                                  output_dir=str(tmp_path), name=name)
        await arun_experiment(config, progress=False)
    # a: the first number of each question (15, 6, 8, 8): all wrong; b: 55: right on
    # arith-00 only -> 1 discordant question, p = 2 * 1/2 = 1.0
    result = CliRunner().invoke(app, ["compare", str(tmp_path / "a"), str(tmp_path / "b"),
                                      "--plot", str(tmp_path / "compare.svg")])
    assert result.exit_code == 0, result.output
    import re

    text = re.sub(r"[│\s]+", " ", result.output)
    assert "4 scored by both" in text and "+25.0 points" in text
    assert "only in B 0 / 1" in text and "p-value (two-sided) 1 " in text


async def test_per_debate_rows_put_the_round0_vote_next_to_the_final_answer():
    """Worked by hand: round 0 answers 7, 5 and none: 7 and 5 tie at one vote, the first
    in agent order wins, so the vote is 7; round 1 all say 5: final 5 = gold, correct."""
    from debate import Question, run_debate
    from debate.analysis.report import debate_rows
    from debate.testing import ScriptedModel

    models = [ScriptedModel(["\\boxed{7}", "\\boxed{5}"]), ScriptedModel(["\\boxed{5}"] * 2),
              ScriptedModel(["I cannot say.", "\\boxed{5}"])]
    trace = await run_debate(Question(id="q1", text="2 + 3?", task="numeric", gold="5"),
                             protocol="du", models=models, rounds=1)
    unlabeled = await run_debate(Question(id="q2", text="?", task="numeric"), protocol="du",
                                 models=[ScriptedModel("\\boxed{1}")] * 3, rounds=0)
    assert debate_rows([trace, unlabeled]) == [
        ("q1", "5", "7 5 -", "7", "5", "yes"),
        ("q2", "-", "1 1 1", "1", "1", "-"),
    ]
