"""The rules of SR-DCR, on scripted agents."""

import math

import pytest

from debate.agents import Challenger, ContextAnswerer, Defender, ReliabilityJudgeAgent
from debate.agents.sr_dcr import parse_reliability, sequence_confidence
from debate.models import Completion, TokenLogprob
from debate.protocols import SrDcrProtocol
from debate.protocols.sr_dcr import combine
from debate.testing import ScriptedModel
from debate.trace import Question

Q = Question(id="q", text="What is the capital of Australia?", task="exact", gold="canberra",
             context="Australia's capital is Sydney, its largest city.")


@pytest.mark.parametrize(("confidence", "verdict", "expected"), [
    (0.95, "unreasonable", "own"), (0.5, "reasonable", "context"),
    (0.5, "unreasonable", "own"), (0.95, "reasonable", "own"), (0.5, None, "context")])
def test_answer_rule(confidence, verdict, expected):
    answer, _ = combine(confidence, 0.9, verdict, "own", "context")
    assert answer == expected


def test_sequence_confidence_and_verdict_parsing():
    assert sequence_confidence([-0.05, -0.05]) == pytest.approx(0.905, abs=1e-3)
    assert sequence_confidence([-0.05, -0.05]) >= 0.9
    assert parse_reliability('{"verdict": "Reasonable"}') == "reasonable"
    assert parse_reliability("The context is UNREASONABLE.") == "unreasonable"
    assert parse_reliability("it is not reasonable") == "unreasonable"
    assert parse_reliability("no idea") is None


class Answerer:
    """Closed book: 'Canberra' with logprobs; open book: 'Sydney'."""

    name = "answerer-model"

    def __init__(self, logprobs):
        self.logprobs, self.calls = logprobs, []

    async def generate(self, messages, params):
        self.calls.append((messages, params))
        if "Context:" in messages[-1].content:
            return Completion(text="Answer: Sydney")
        lps = None if self.logprobs is None else [TokenLogprob(token="t", logprob=x)
                                                  for x in self.logprobs]
        return Completion(text="Answer: Canberra\nConfidence: 0.6", logprobs=lps)


def team(logprobs, verdict="UNREASONABLE"):
    answerer = Answerer(logprobs)
    defender = ScriptedModel(lambda m, p: "The passage says Sydney.")
    critic = ScriptedModel(lambda m, p: "Canberra is the capital.")
    judge = ScriptedModel(f'{{"verdict": "{verdict}", "reason": "r"}}')
    agents = [ContextAnswerer("answerer", answerer), Defender("defender", defender),
              Challenger("critic", critic), ReliabilityJudgeAgent("judge", judge)]
    return (answerer, defender, critic, judge), agents


async def test_confident_model_keeps_its_answer_without_debate():
    models, agents = team([-0.05, -0.05])
    trace = await SrDcrProtocol().run(Q, agents)
    assert trace.totals.calls == 2 and trace.stop_reason == "confident"
    assert trace.final.answer == "canberra" and trace.correct
    assert trace.final.details["confidence_source"] == "logprobs"
    assert all(params.logprobs for _, params in models[0].calls)


async def test_unsure_model_debates_and_follows_the_judge():
    models, agents = team([-0.5, -0.5], verdict="UNREASONABLE")
    trace = await SrDcrProtocol(rounds=2).run(Q, agents)
    assert trace.totals.calls == 2 + 2 * 2 + 1
    assert trace.final.answer == "canberra" and trace.final.details["verdict"] == "unreasonable"
    assert trace.final.details["confidence"] == pytest.approx(math.exp(-1.0))
    _, defender, critic, judge = models
    assert all(Q.context in c.messages[-1].content for c in defender.calls)
    assert all(Q.context not in c.messages[-1].content for c in critic.calls)
    assert "The passage says Sydney." in critic.calls[0].messages[-1].content
    assert "Canberra is the capital." in defender.calls[1].messages[-1].content
    assert "Canberra is the capital." in judge.calls[0].messages[-1].content
    models, agents = team([-0.5, -0.5], verdict="REASONABLE")
    trace = await SrDcrProtocol(rounds=1).run(Q, agents)
    assert trace.final.answer == "sydney" and not trace.correct


async def test_without_logprobs_stated_confidence_is_used_and_recorded():
    _, agents = team(None)
    trace = await SrDcrProtocol(rounds=1).run(Q, agents)
    assert trace.final.details["confidence_source"] == "stated"
    assert trace.final.details["confidence"] == 0.6


async def test_notebook_variant_shows_the_critic_the_context():
    models, agents = team([-1.0], verdict="garbage")
    trace = await SrDcrProtocol(rounds=1, critic_sees_context=True).run(Q, agents)
    assert Q.context in models[2].calls[0].messages[-1].content
    assert trace.final.details["critic_saw_context"] is True
    assert trace.final.details["verdict"] is None
    assert trace.final.details["rule"] == "no readable verdict: context answer"
