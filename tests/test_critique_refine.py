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


async def test_only_an_explicit_verdict_counts():
    # "I cannot accept this; revise" names no verdict: unparsed, and the default policy
    # (revise) applies; "Verdict: Accept." is an explicit accept.
    _, agents = trio(["\\boxed{1}"], ["I cannot accept this; revise", "Verdict: Accept."],
                     ["\\boxed{42}"])
    trace = await CritiqueRefineProtocol().run(Q, agents)
    first, last = trace.turns[1], trace.turns[-1]
    assert first.fields["verdict"] is None and "parse_error" in first.fields
    assert first.fields["verdict_policy"] == "revise" and not first.fields["accepted"]
    assert last.fields["verdict"] == "accept" and last.fields["accepted"]
    assert trace.stop_reason == "accepted" and trace.final.answer == "42"


async def test_a_keyword_in_free_text_is_never_a_verdict():
    # the old keyword search read "I ACCEPT this." (and "I cannot accept this") as accept
    for reply in ("I ACCEPT this.", "I cannot accept this; revise",
                  '{"verdict": "I cannot accept this; revise"}'):
        _, agents = trio(["\\boxed{1}"], [reply], [])
        trace = await CritiqueRefineProtocol(rounds=1).run(
            Q, [agents[0], agents[1], Refiner("refiner", ScriptedModel("\\boxed{2}"))])
        assert trace.turns[1].fields["verdict"] is None, reply
        assert trace.turns[1].fields["accepted"] is False


async def test_unparsed_verdict_policy_accept():
    _, agents = trio(["\\boxed{1}"], ["looks fine to me"], [])
    trace = await CritiqueRefineProtocol(unparsed_verdict="accept").run(Q, agents)
    assert trace.stop_reason == "accepted" and trace.totals.calls == 2
    assert trace.turns[1].fields["verdict"] is None
    assert trace.turns[1].fields["verdict_policy"] == "accept"


def test_read_verdict():
    from debate.agents.critique import read_verdict

    assert read_verdict("Accept.") == "accept" and read_verdict(" REVISE ") == "revise"
    assert read_verdict("accepted") == "accept" and read_verdict("reject") == "revise"
    for unreadable in ("I cannot accept this; revise", "not accept", "", None, "yes"):
        assert read_verdict(unreadable) is None


async def test_self_refine_keeps_every_earlier_iteration():
    # Madaan et al.: the refine step sees every earlier attempt with its feedback
    model = ScriptedModel(["\\boxed{40}", verdict("revise", "F1"), "\\boxed{41}",
                           verdict("revise", "F2"), "\\boxed{42}", verdict("accept")])
    trace = await SelfRefineProtocol().run(Q, [SelfRefiner("self", model)])
    assert trace.final.answer == "42" and len(model.calls) == 6
    second_refine = model.calls[4].messages[-1].content
    assert "Attempt 1:\n\\boxed{40}" in second_refine and "F1" in second_refine
    assert "\\boxed{41}" in second_refine and "F2" in second_refine
    first_refine = model.calls[2].messages[-1].content
    assert "Attempt" not in first_refine and "F1" in first_refine
    last_critique = model.calls[5].messages[-1].content
    assert "Attempt 2:" in last_critique and "\\boxed{42}" in last_critique
    revision = next(t for t in trace.turns if t.id == "r2/self/revision")
    assert revision.saw == ["r0/self/answer", "r0/self/critique", "r1/self/revision",
                            "r1/self/critique"]


async def test_critique_refine_shows_only_the_current_attempt():
    models, agents = trio(["\\boxed{40}"], [verdict("revise", "F1"), verdict("revise", "F2")],
                          ["\\boxed{41}", "\\boxed{42}"])
    await CritiqueRefineProtocol(rounds=2).run(Q, agents)
    second_refine = models["refiner"].calls[1].messages[-1].content
    assert "F1" not in second_refine and "\\boxed{40}" not in second_refine


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
