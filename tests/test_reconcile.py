"""The rules of ReConcile (Chen et al., 2023), on scripted agents."""

import json

import pytest

from debate.agents import Reconciler
from debate.judges import recalibrate, weighted_vote
from debate.protocols import ReconcileProtocol
from debate.testing import ScriptedModel
from debate.trace import Question, Turn

Q = Question(id="q", text="Is 91 a prime number?", task="yesno", gold="no")


def reply(answer, confidence, explanation="because"):
    return json.dumps({"explanation": explanation, "answer": answer, "confidence": confidence})


def team(replies_per_agent):
    models = [ScriptedModel(list(r), name=f"m{i}") for i, r in enumerate(replies_per_agent)]
    return models, [Reconciler(f"agent-{i}", m) for i, m in enumerate(models)]


@pytest.mark.parametrize(("stated", "weight"), [
    (0.6, 0.1), (0.61, 0.3), (0.8, 0.5), (0.9, 0.8), (0.99, 0.8), (1.0, 1.0), (None, 0.1)])
def test_recalibration_table(stated, weight):
    assert recalibrate(stated) == weight


def turn(agent, answer, confidence):
    return Turn(id=agent, round=0, agent=agent, role="reconciler", messages=[], raw="",
                answer=answer, confidence=confidence)


def test_confidence_weighted_vote_beats_the_majority():
    final = weighted_vote([turn("a", "A", 0.95), turn("b", "B", 0.6), turn("c", "B", 0.7)])
    assert final.answer == "A"
    assert final.votes["A"] == pytest.approx(0.8, abs=1e-4)
    assert final.votes["B"] == pytest.approx(0.4)


async def test_yes_no_no_recalibrates_to_yes():
    _, agents = team([[reply("yes", 0.95)] * 4, [reply("no", 0.7)] * 4, [reply("no", "65%")] * 4])
    trace = await ReconcileProtocol(rounds=0).run(Q, agents)
    assert trace.final.answer == "yes"  # 0.8 vs 0.3 + 0.3
    assert trace.final.votes == {"yes": pytest.approx(0.8, abs=1e-4), "no": pytest.approx(0.6)}
    assert trace.turns[2].confidence == 0.65  # "65%" reads as 0.65


async def test_agreement_after_round_zero_means_three_calls():
    models, agents = team([[reply("no", 0.9)]] * 3)
    trace = await ReconcileProtocol().run(Q, agents)
    assert trace.totals.calls == 3 and trace.stop_reason == "consensus"
    assert trace.final.answer == "no" and trace.correct


async def test_round_table_groups_answers_with_explanations_and_confidences():
    models, agents = team([
        [reply("yes", 0.9, "E0"), reply("no", 0.9)],
        [reply("no", 0.8, "E1"), reply("no", 0.9)],
        [reply("no", 0.7, "E2"), reply("no", 0.9)],
    ])
    trace = await ReconcileProtocol().run(Q, agents)
    assert trace.totals.calls == 6 and trace.stop_reason == "consensus"
    prompt = models[0].calls[1].messages[-1].content
    assert prompt.index("2 agent(s) think the answer is no") < prompt.index(
        "1 agent(s) think the answer is yes")
    for text in ("E0", "E1", "E2", "confidence: 0.80", "confidence: 0.70"):
        assert text in prompt
    assert models[0].calls[1].messages == models[1].calls[1].messages  # one round table
    assert models[0].calls[0].params.json_schema["required"] == ["explanation", "answer",
                                                                 "confidence"]


async def test_third_answer_group_is_kept_unless_compat():
    replies = [[reply("yes", 0.9, "E0")] * 2, [reply("no", 0.9, "E1")] * 2,
               [reply("maybe later", 0.9, "E2")] * 2]
    models, agents = team(replies)
    trace = await ReconcileProtocol(rounds=1).run(Q.model_copy(update={"task": "exact"}), agents)
    assert "E2" in models[0].calls[1].messages[-1].content
    assert trace.stop_reason == "max_rounds" and trace.totals.calls == 6
    models, agents = team(replies)
    await ReconcileProtocol(rounds=1, top_two_groups=True).run(
        Q.model_copy(update={"task": "exact"}), agents)
    assert "E2" not in models[0].calls[1].messages[-1].content


async def test_convincing_samples_open_every_prompt():
    models, agents = team([[reply("no", 1.0)]] * 3)
    sample = {"question": "Is 21 prime?", "explanation": "21 = 3 * 7", "answer": "no"}
    await ReconcileProtocol(convincing_samples=[sample]).run(Q, agents)
    assert "21 = 3 * 7" in models[0].calls[0].messages[-1].content


async def test_malformed_replies_are_recorded():
    _, agents = team([["Answer: no\nConfidence: very high"], ["{broken"], [reply("no", 0.9)]])
    trace = await ReconcileProtocol(rounds=0).run(Q, agents)
    first, second = trace.turns[0], trace.turns[1]
    assert first.answer == "no" and first.confidence is None
    assert first.fields["confidence_unreadable"]
    assert second.answer is None and second.confidence is None
    assert trace.final.answer == "no"


async def test_an_unparsed_agent_stays_at_the_round_table():
    models, agents = team([[reply("yes", 0.9, "E0"), reply("no", 0.9)],
                           ["{broken reply", reply("no", 0.9)],
                           [reply("no", 0.8, "E2"), reply("no", 0.9)]])
    trace = await ReconcileProtocol(rounds=1).run(Q, agents)
    prompt = models[0].calls[1].messages[-1].content
    assert "1 agent(s) gave no answer that could be read" in prompt
    assert "{broken reply" in prompt and "E0" in prompt and "E2" in prompt
    assert prompt.index("think the answer is") < prompt.index("gave no answer")
    revision = next(t for t in trace.turns if t.id == "r1/agent-0/revision")
    assert revision.saw == ["r0/agent-0/answer", "r0/agent-2/answer", "r0/agent-1/answer"]


async def test_each_agent_sees_the_other_agents_convincing_samples():
    models, agents = team([[reply("no", 1.0)]] * 3)
    samples = [{"question": f"Q{i}?", "explanation": f"convinced agent-{i}", "answer": "no",
                "agent": f"agent-{i}"} for i in range(3)]
    samples.append({"question": "Q?", "explanation": "for everyone", "answer": "no"})
    await ReconcileProtocol(convincing_samples=samples).run(Q, agents)
    for i, model in enumerate(models):
        prompt = model.calls[0].messages[-1].content
        assert f"convinced agent-{i}" not in prompt and "for everyone" in prompt
        assert all(f"convinced agent-{j}" in prompt for j in range(3) if j != i)


async def test_no_empty_no_answer_group_when_every_agent_answered():
    # 12, 12, 7: two groups, and no "0 agent(s) gave no answer" line
    models, agents = team([[reply("12", 0.9), reply("12", 0.9)],
                           [reply("12", 0.8), reply("12", 0.9)],
                           [reply("7", 0.7), reply("12", 0.9)]])
    await ReconcileProtocol(rounds=1).run(Q.model_copy(update={"task": "numeric",
                                                               "gold": "12"}), agents)
    prompt = models[0].calls[1].messages[-1].content
    assert "gave no answer" not in prompt
    assert "2 agent(s) think the answer is 12" in prompt
