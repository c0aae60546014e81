"""critique-refine and self-refine: stop rules, visibility, verdict parsing."""

import json

from debate.agents import Critic, JudgeAgent, Refiner, SelfRefiner, Solver
from debate.protocols import CritiqueRefineProtocol, SelfRefineProtocol
from debate.testing import ScriptedModel
from debate.trace import Question

Q = Question(id="q", text="What is 6 * 7?", task="numeric", gold="42")


def verdict(v, text="c"):
    return json.dumps({"verdict": v, "critique": text})


def trio(solver, critic, refiner):
    models = {"solver": ScriptedModel(solver), "critic": ScriptedModel(critic),
              "refiner": ScriptedModel(refiner)}
    return models, [Solver("solver", models["solver"]), Critic("critic", models["critic"]),
                    Refiner("refiner", models["refiner"])]


async def test_critic_accepts_the_draft():
    models, agents = trio(["\\boxed{42}"], [verdict("accept")], [])
    trace = await CritiqueRefineProtocol().run(Q, agents)
    assert trace.totals.calls == 2 and trace.stop_reason == "accepted"
    assert trace.final.answer == "42" and trace.final.method == "last"


async def test_refine_until_accepted_with_exact_visibility():
    models, agents = trio(["draft \\boxed{41}"],
                          [verdict("revise", "6*7 is not 41"), verdict("accept")],
                          ["fixed \\boxed{42}"])
    trace = await CritiqueRefineProtocol().run(Q, agents)
    assert [t.kind for t in trace.turns] == ["answer", "critique", "revision", "critique"]
    assert trace.totals.calls == 4 and trace.final.answer == "42"
    refine_prompt = models["refiner"].calls[0].messages[-1].content
    assert "draft \\boxed{41}" in refine_prompt and "6*7 is not 41" in refine_prompt
    second_critique = models["critic"].calls[1].messages[-1].content
    assert "fixed \\boxed{42}" in second_critique and "draft" not in second_critique


async def test_max_rounds_then_last_refinement_wins():
    models, agents = trio(["\\boxed{1}"], [verdict("revise")] * 5,
                          ["\\boxed{2}", "\\boxed{3}", "\\boxed{4}"])
    trace = await CritiqueRefineProtocol(rounds=3).run(Q, agents)
    assert trace.totals.calls == 1 + 2 * 3 and trace.stop_reason == "max_rounds"
    assert trace.final.answer == "4"


async def test_unreadable_verdict_counts_as_revise_and_is_recorded():
    _, agents = trio(["\\boxed{1}"], ["hmm, not sure", "I ACCEPT this."], ["\\boxed{42}"])
    trace = await CritiqueRefineProtocol().run(Q, agents)
    first = trace.turns[1]
    assert not first.fields["accepted"] and "parse_error" in first.fields
    assert trace.turns[-1].fields["accepted"] and trace.turns[-1].fields["verdict_from_text"]
    assert trace.final.answer == "42"


async def test_self_refine_one_model_plays_every_role():
    model = ScriptedModel(["\\boxed{41}", verdict("revise"), "\\boxed{42}", verdict("accept")])
    trace = await SelfRefineProtocol().run(Q, [SelfRefiner("self", model)])
    assert len(model.calls) == 4 and {t.agent for t in trace.turns} == {"self"}
    assert trace.final.answer == "42"


async def test_optional_judge_chooses_among_solutions():
    _, agents = trio(["\\boxed{42}"], [verdict("revise")] * 2, ["\\boxed{40}"])
    judge = JudgeAgent("judge", ScriptedModel('{"choice": 1, "rationale": "the draft"}'))
    trace = await CritiqueRefineProtocol(rounds=1, judge="llm").run(Q, [*agents, judge])
    assert trace.final.answer == "42" and trace.final.method == "llm-judge"
