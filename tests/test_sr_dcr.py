"""The rules of SR-DCR, on scripted agents."""

import math

import pytest

from debate import run_debate
from debate.agents import ContextAnswerer, ContextCritic, Defender, ReliabilityJudgeAgent
from debate.agents.sr_dcr import answer_span, parse_reliability, sequence_confidence, span_logprobs
from debate.models import Completion, TokenLogprob
from debate.protocols import SrDcrProtocol
from debate.protocols.sr_dcr import combine
from debate.testing import ScriptedModel
from debate.trace import Question, Turn

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


def tokens(*pairs):
    """TokenLogprobs that spell the reply: (text, logprob) pairs."""
    return [TokenLogprob(token=t, logprob=lp) for t, lp in pairs]


class Answerer:
    """Closed book: 'Canberra' (with the given tokens); open book: 'Sydney'."""

    name = "answerer-model"

    def __init__(self, logprobs, text="Canberra"):
        self.logprobs, self.text, self.calls = logprobs, text, []

    async def generate(self, messages, params):
        self.calls.append((messages, params))
        if "Context:" in messages[-1].content:
            return Completion(text="Sydney")
        if "Confidence" in messages[-1].content:  # the stated-confidence prompt
            return Completion(text="Canberra\nConfidence: 0.6")
        lps = None
        if self.logprobs is not None and isinstance(self.logprobs[0], tuple):
            lps = tokens(*self.logprobs)
        elif self.logprobs is not None:  # cut the text into as many tokens as logprobs
            n, size = len(self.logprobs), -(-len(self.text) // len(self.logprobs))
            lps = tokens(*[(self.text[i * size:(i + 1) * size], self.logprobs[i])
                           for i in range(n)])
        return Completion(text=self.text, logprobs=lps)


def team(logprobs, verdict="UNREASONABLE", text="Canberra"):
    answerer = Answerer(logprobs, text)
    defender = ScriptedModel(lambda m, p: "The passage says Sydney.")
    critic = ScriptedModel(lambda m, p: "Canberra is the capital.")
    judge = ScriptedModel(f'{{"verdict": "{verdict}", "reason": "r"}}')
    agents = [ContextAnswerer("answerer", answerer), Defender("defender", defender),
              ContextCritic("critic", critic), ReliabilityJudgeAgent("judge", judge)]
    return (answerer, defender, critic, judge), agents


async def test_confident_model_keeps_its_answer_without_debate():
    models, agents = team([-0.05, -0.05])
    trace = await SrDcrProtocol().run(Q, agents)
    assert trace.totals.calls == 2 and trace.stop_reason == "confident"
    assert trace.final.answer == "canberra" and trace.correct
    assert trace.final.details["confidence_source"] == "logprobs"
    closed, opened = (params for _, params in models[0].calls)
    assert closed.logprobs and closed.max_tokens == 10 and opened.max_tokens == 10


async def test_confidence_is_over_the_answer_tokens_only():
    # "Answer: Canberra\n": the label and the newline are unlikely tokens, the answer is
    # not; the whole reply's probability is below tau, the answer's above it
    reply = (("Answer", -0.4), (":", -0.2), (" Can", -0.03), ("berra", -0.02), ("\n", -0.3))
    whole = math.exp(sum(lp for _, lp in reply))
    span = math.exp(-0.05)
    assert whole < 0.9 <= span
    models, agents = team(reply, text="Answer: Canberra\n")
    trace = await SrDcrProtocol().run(Q, agents)
    closed = trace.turns[0]
    assert closed.confidence == pytest.approx(span) and closed.fields["answer_tokens"] == 2
    assert closed.fields["answer_span"] == "Canberra" and closed.answer == "canberra"
    assert trace.stop_reason == "confident" and trace.final.answer == "canberra"
    closed_prompt = models[0].calls[0][0][-1].content
    assert "answer only" in closed_prompt and "Confidence" not in closed_prompt


def test_answer_span_and_token_alignment():
    assert answer_span("  Answer: 1859.\nbecause") == (10, 14)
    assert answer_span("**Final answer**: Paris") == (18, 23)
    toks = tokens(("Ans", -1.0), ("wer: 18", -0.1), ("59", -0.2), (".", -3.0))
    assert span_logprobs(toks, "Answer: 1859.", answer_span("Answer: 1859.")) == [-0.1, -0.2]
    assert span_logprobs(toks, "something else", (0, 3)) is None


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
    models, agents = team([-0.5, -0.5], verdict="REASONABLE")
    trace = await SrDcrProtocol(rounds=1).run(Q, agents)
    assert trace.final.answer == "sydney" and not trace.correct


async def test_the_judge_sees_the_debate_transcript_only():
    models, agents = team([-0.5], verdict="REASONABLE")
    trace = await SrDcrProtocol(rounds=2).run(Q, agents)
    judge_messages = models[3].calls[0].messages
    text = "\n".join(m.content for m in judge_messages)
    assert Q.context not in text and Q.text not in text  # no passage, no question
    arguments = [t for t in trace.turns if t.kind == "argument"]
    assert len(arguments) == 4 and all(t.raw in text for t in arguments)
    assert trace.turns[-1].saw == [t.id for t in arguments]


async def test_without_logprobs_the_gate_stays_shut_and_says_so():
    _, agents = team(None)
    trace = await SrDcrProtocol(rounds=1).run(Q, agents)
    assert trace.final.details["confidence_source"] == "none"
    assert trace.final.details["confidence"] is None and trace.totals.calls == 5


async def test_stated_confidence_for_backends_without_logprobs():
    models, agents = team(None)
    trace = await SrDcrProtocol(rounds=1, confidence="stated").run(Q, agents)
    assert trace.final.details["confidence_source"] == "stated"
    assert trace.final.details["confidence"] == 0.6
    assert trace.turns[0].answer == "canberra"
    assert not models[0].calls[0][1].logprobs


async def test_notebook_variant_shows_the_critic_the_context():
    models, agents = team([-1.0], verdict="garbage")
    trace = await SrDcrProtocol(rounds=1, critic_sees_context=True).run(Q, agents)
    assert Q.context in models[2].calls[0].messages[-1].content
    assert trace.final.details["critic_saw_context"] is True
    assert trace.final.details["verdict"] is None
    assert trace.final.details["rule"] == "no readable verdict: context answer"


async def test_a_stated_confidence_keeps_room_for_its_confidence_line():
    models, agents = team(None)
    await SrDcrProtocol(rounds=1, confidence="stated").run(Q, agents)
    closed, opened = (params for _, params in models[0].calls)
    assert closed.max_tokens == agents[0].params.max_tokens != 10  # answer + confidence line
    assert opened.max_tokens == 10


def test_a_dataset_without_context_is_refused_at_load(tmp_path):
    from debate import ExperimentConfig, run_experiment
    from debate.errors import ConfigError

    data = tmp_path / "d.jsonl"
    data.write_text('{"id": "a", "question": "Q?", "answer": "x", "context": "P."}\n'
                    '{"id": "b", "question": "R?", "answer": "y"}\n')
    config = ExperimentConfig(protocol="sr-dcr", models=["scripted:echo"], dataset=str(data),
                              output_dir=str(tmp_path))
    with pytest.raises(ConfigError, match=r"needs a 'context' for every question; 1 of 2 "
                                          r"have none \(b\)"):
        run_experiment(config, progress=False)


def test_a_list_of_passages_is_one_context_line_each(tmp_path):
    from debate.datasets import load_dataset

    data = tmp_path / "d.jsonl"
    data.write_text('{"question": "Q?", "context": ["First passage.", "Second passage."]}\n')
    assert load_dataset(data)[0].context == "First passage.\nSecond passage."


async def test_the_answers_are_found_by_their_step_not_their_id():
    def answer(step: str, text: str, confidence: float | None) -> Turn:
        return Turn(id=f"any-id-{text}", round=0, agent="answerer", role="context-answerer",
                    step=step, messages=[], raw=text, answer=text, confidence=confidence)

    state = {"question": Q, "turns": [answer("open", "sydney", None),
                                      answer("closed", "canberra", 0.95)], "round": 0}
    decided = await SrDcrProtocol().decide(state, runtime=None)  # no debate: no judge needed
    details = decided["final"].details
    assert (details["own_answer"], details["context_answer"]) == ("canberra", "sydney")
    assert decided["final"].answer == "canberra"


async def test_each_answer_turn_records_its_step():
    models = {"answerer": ScriptedModel(["Canberra", "Sydney"]), "defender": ScriptedModel("d"),
              "critic": ScriptedModel("c"), "judge": ScriptedModel("REASONABLE")}
    trace = await run_debate(Q, protocol="sr-dcr", rounds=1, models=models)
    assert [(t.agent, t.step) for t in trace.turns[:2]] == [("answerer", "closed"),
                                                             ("answerer", "open")]


def test_the_critic_has_the_papers_name(tmp_path):
    from debate.agents import get_role
    from debate.errors import ConfigError
    from debate.experiment.binding import build_agents

    assert get_role("context-critic") is ContextCritic
    with pytest.raises(ConfigError, match="unknown role 'challenger'"):  # the former name
        get_role("challenger")
    default, special = ScriptedModel("x", name="default"), ScriptedModel("y", name="special")
    card = tmp_path / "skeptic.yaml"
    card.write_text("name: skeptic\nbase: context-critic\nsystem_prompt: Doubt everything.\n")
    agents = build_agents(SrDcrProtocol(), [default], [f"context-critic={card}"],
                          named_models={"context-critic": special})
    critic = next(a for a in agents if a.name == "critic")
    assert isinstance(critic, ContextCritic) and critic.role == "context-critic"
    assert critic.model is special and critic.card == "skeptic"
    assert all(a.model is default for a in agents if a.name != "critic")


async def test_a_sentence_instead_of_an_answer_is_read_as_a_fallback_guess():
    from debate.trace import Question

    numeric = Question(id="n", text="Tom has 3 apples and buys 4 more. How many now?",
                       task="numeric", gold="7", context="Tom ends with 8 apples.")
    for reply, answer, rule in (("7", "7", "field"), ("Answer: 7 apples.", "7", "field"),
                                ("Tom has 3 apples and buys 4 more", "4", "last-number")):
        _, agents = team([-0.05], text=reply)
        trace = await SrDcrProtocol().run(numeric, agents)
        closed = trace.turns[0]
        assert (closed.answer, closed.answer_rule) == (answer, rule), reply
        assert closed.is_fallback == (rule == "last-number")
