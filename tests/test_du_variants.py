"""Du et al. debate variants: judges, summaries, Reflect-Critique-Refine, DebUnc, role cards."""

import json

import pytest

from debate.agents import Debater, JudgeAgent
from debate.cards import load_role_card
from debate.models import Completion, TokenLogprob, Usage
from debate.protocols import DuProtocol
from debate.protocols.du import debunc_confidences
from debate.testing import ScriptedModel
from debate.trace import Question

Q = Question(id="q", text="What is 3 * 4?", task="numeric", gold="12")


def team(replies_per_agent, cls=Debater):
    models = [ScriptedModel(list(r), name=f"m{i}") for i, r in enumerate(replies_per_agent)]
    return models, [cls(f"agent-{i}", m) for i, m in enumerate(models)]


async def test_llm_judge_decides_and_its_turn_is_in_the_trace():
    models, agents = team([["\\boxed{12}"], ["\\boxed{13}"], ["\\boxed{13}"]])
    judge_model = ScriptedModel(json.dumps({"choice": 1, "rationale": "3*4 is 12"}))
    proto = DuProtocol(rounds=0, judge="llm")
    assert proto.agent_names()[-1] == "judge"
    trace = await proto.run(Q, [*agents, JudgeAgent("judge", judge_model)])
    assert trace.final.answer == "12" and trace.final.method == "llm-judge"
    assert trace.final.details["rationale"] == "3*4 is 12"
    verdict = trace.turns[-1]
    assert verdict.kind == "verdict" and verdict.saw == ["r0/agent-0/answer", "r0/agent-1/answer"]
    assert "Candidate 1: 12" in verdict.messages[-1].content


async def test_llm_judge_swap_measures_position_bias():
    _, agents = team([["\\boxed{12}"], ["\\boxed{13}"], ["\\boxed{13}"]])
    judge_model = ScriptedModel(['{"choice": 1, "rationale": "a"}',
                                 '{"choice": 1, "rationale": "b"}'])
    proto = DuProtocol(rounds=0, judge="llm", judge_options={"swap_order": True})
    trace = await proto.run(Q, [*agents, JudgeAgent("judge", judge_model)])
    assert len(judge_model.calls) == 2
    assert trace.final.details["choices"] == ["12", "13"]  # always "the first one"
    assert trace.final.details["position_consistent"] is False
    # the orders disagree: a tie, resolved by the majority of the candidates (13, 13, 12)
    assert trace.final.answer == "13" and trace.final.details["tie"]
    assert trace.final.details["fallback"] == "majority: the two orders disagree"


@pytest.mark.parametrize(("replies", "tie"), [
    (["no idea", "none of them"], "both orders unparsed"),
    (["no idea", '{"choice": 1, "rationale": "b"}'], "the first order unparsed"),
    (['{"choice": 1, "rationale": "a"}', "no idea"], "the swapped order unparsed"),
])
async def test_llm_judge_says_which_order_was_unparsed(replies, tie):
    """Before: every tie read "the two orders disagree", also when neither order's choice
    could be read; now the tie and the fallback say which order was unparsed."""
    _, agents = team([["\\boxed{12}"], ["\\boxed{13}"], ["\\boxed{13}"]])
    proto = DuProtocol(rounds=0, judge="llm", judge_options={"swap_order": True})
    trace = await proto.run(Q, [*agents, JudgeAgent("judge", ScriptedModel(replies))])
    details = trace.final.details
    assert (details["tie"], details["fallback"]) == (tie, f"majority: {tie}")
    assert trace.final.answer == "13"


async def test_llm_judge_swap_keeps_a_consistent_choice_and_compat_keeps_the_first():
    _, agents = team([["\\boxed{12}"], ["\\boxed{13}"], ["\\boxed{13}"]])
    judge_model = ScriptedModel(['{"choice": 1, "rationale": "a"}',
                                 '{"choice": 2, "rationale": "b"}'])  # 12 both times
    proto = DuProtocol(rounds=0, judge="llm", judge_options={"swap_order": True})
    trace = await proto.run(Q, [*agents, JudgeAgent("judge", judge_model)])
    assert trace.final.answer == "12" and trace.final.details["position_consistent"] is True
    _, agents = team([["\\boxed{12}"], ["\\boxed{13}"], ["\\boxed{13}"]])
    judge_model = ScriptedModel('{"choice": 1, "rationale": "a"}')
    proto = DuProtocol(rounds=0, judge="llm",
                       judge_options={"swap_order": True, "on_tie": "first"})
    trace = await proto.run(Q, [*agents, JudgeAgent("judge", judge_model)])
    assert trace.final.answer == "12" and trace.final.details["tie"]
    # one order unreadable is no agreement either
    _, agents = team([["\\boxed{12}"], ["\\boxed{13}"], ["\\boxed{13}"]])
    judge_model = ScriptedModel(['{"choice": 1, "rationale": "a"}', "no idea"])
    proto = DuProtocol(rounds=0, judge="llm", judge_options={"swap_order": True})
    trace = await proto.run(Q, [*agents, JudgeAgent("judge", judge_model)])
    assert trace.final.answer == "13" and trace.final.details["choices"] == ["12", None]


def test_llm_judge_rejects_an_unknown_tie_rule():
    import pytest

    from debate.errors import ConfigError

    with pytest.raises(ConfigError, match="on_tie"):
        DuProtocol(judge="llm", judge_options={"on_tie": "coin"})


async def test_llm_judge_unparseable_falls_back_to_majority():
    _, agents = team([["\\boxed{12}"], ["\\boxed{13}"], ["\\boxed{13}"]])
    trace = await DuProtocol(rounds=0, judge="llm").run(
        Q, [*agents, JudgeAgent("judge", ScriptedModel("no idea, sorry"))])
    assert trace.final.answer == "13" and "fallback" in trace.final.details


async def test_summaries_add_one_call_per_agent_and_round():
    models, agents = team([["A \\boxed{12}", "summary A", "A2 \\boxed{12}"],
                           ["B \\boxed{13}", "summary B", "B2 \\boxed{12}"],
                           ["C \\boxed{14}", "summary C", "C2 \\boxed{12}"]])
    trace = await DuProtocol(rounds=1, summarize_peers=True).run(Q, agents)
    assert trace.totals.calls == 3 * 2 + 3 * 1
    summarize_prompt = models[0].calls[1].messages[-1].content
    assert "B \\boxed{13}" in summarize_prompt and "C \\boxed{14}" in summarize_prompt
    debate_prompt = models[0].calls[2].messages
    assert "summary A" in debate_prompt[-1].content and "B \\boxed{13}" not in \
        debate_prompt[-1].content
    assert [m.role for m in debate_prompt] == ["user", "assistant", "user"]  # summary not in chat
    assert trace.final.answer == "12"
    # found in review: an answer read its summary, and its `saw` listed nothing
    summary_of = {t.agent: t.id for t in trace.turns if t.step == "summarize"}
    for turn in trace.turns:
        if turn.round == 1 and turn.kind == "answer":
            assert turn.saw == [summary_of[turn.agent]]
        if turn.step == "summarize":  # the summary read the other agents' answers
            assert len(turn.saw) == 2 and turn.agent not in "".join(turn.saw)


async def test_rcr_rebuilds_the_prompt_and_stops_at_consensus():
    models, agents = team([["\\boxed{12}"], ["\\boxed{12.0}"], ["\\boxed{12}"]])
    trace = await DuProtocol(prompting="rcr", stop_on_consensus=True).run(Q, agents)
    assert trace.totals.calls == 3 and trace.stop_reason == "consensus"
    models, agents = team([["A \\boxed{11}", "A2 \\boxed{12}"], ["B \\boxed{12}", "B2 \\boxed{12}"],
                           ["C \\boxed{12}", "C2 \\boxed{12}"]])
    trace = await DuProtocol(prompting="rcr", rounds=2, stop_on_consensus=True).run(Q, agents)
    second = models[0].calls[1].messages
    assert len(second) == 1 and second[0].role == "user"  # fresh prompt, no chat history
    assert "A \\boxed{11}" in second[0].content and "B \\boxed{12}" in second[0].content
    assert "Reflect" in second[0].content and "Critique" in second[0].content
    assert trace.totals.calls == 6 and trace.stop_reason == "consensus"


def test_debunc_confidence_formula():
    assert debunc_confidences([1, 2, 4]) == [8, 4, 2]
    assert debunc_confidences([3, 3, 3]) == [5, 5, 5]


class WithLogprobs:
    """Replies with fixed per-token logprobs: mean NLL 1, 2, 4 for agents 0, 1, 2."""

    def __init__(self, nll, replies):
        self.name, self.nll, self.replies, self.calls = f"lp{nll}", nll, list(replies), []

    async def generate(self, messages, params):
        self.calls.append((messages, params))
        return Completion(text=self.replies.pop(0), usage=Usage(),
                          logprobs=[TokenLogprob(token="x", logprob=-self.nll)] * 3)


async def test_debunc_shows_peers_confidences_only():
    models = [WithLogprobs(n, [f"ans{i} \\boxed{{12}}", "\\boxed{12}"])
              for i, n in enumerate([1, 2, 4])]
    agents = [Debater(f"agent-{i}", m) for i, m in enumerate(models)]
    trace = await DuProtocol(rounds=1, uncertainty="mean-nll").run(Q, agents)
    assert all(params.logprobs for _, params in models[0].calls)
    message = models[0].calls[1][0][-1].content
    assert "ans1" in message and "(confidence 4/10)" in message
    assert "ans2" in message and "(confidence 2/10)" in message
    assert "ans0" not in message and "confidence 8/10" not in message
    assert trace.turns[0].fields["uncertainty"] == 1.0


async def test_debunc_without_logprobs_records_why():
    _, agents = team([["\\boxed{12}"] * 2] * 3)
    trace = await DuProtocol(rounds=1, uncertainty="mean-nll").run(Q, agents)
    assert "uncertainty_unavailable" in trace.turns[0].fields
    assert "confidence" not in trace.turns[3].messages[-1].content


async def test_devils_advocate_card_inside_du_by_config():
    models, agents = team([["\\boxed{12}", "\\boxed{12}"], ["\\boxed{12}", "\\boxed{12}"],
                           ["\\boxed{12}", "\\boxed{11}"]])
    card = load_role_card("agents/devils-advocate.yaml")
    agents[2] = card.build("agent-2", models[2])
    await DuProtocol(rounds=1).run(Q, agents)
    prompt = models[2].calls[1].messages[-1].content
    assert "Most of them currently answer: 12. Argue against that answer" in prompt
    assert models[2].calls[0].messages[0].role == "system"


def test_rcr_runs_three_rounds_by_default_and_du_two():
    assert DuProtocol(prompting="rcr").config.rounds == 3  # DTE's reference
    assert DuProtocol().config.rounds == 2  # Du et al.
    assert DuProtocol(prompting="rcr", rounds=1).config.rounds == 1
    assert DuProtocol(prompting="rcr").max_calls() == 3 * 4


async def test_rcr_shows_two_peers_in_full_and_the_rest_by_answer():
    replies = [[f"reasoning {i} \\boxed{{{10 + i}}}", "\\boxed{12}"] for i in range(5)]
    models, agents = team(replies)
    trace = await DuProtocol(agents=5, rounds=1, prompting="rcr").run(Q, agents)
    prompt = models[0].calls[1].messages[-1].content
    assert "reasoning 0 \\boxed{10}" in prompt  # its own previous solution
    assert "reasoning 1" in prompt and "reasoning 2" in prompt  # two peers in full
    assert "reasoning 3" not in prompt and "reasoning 4" not in prompt
    assert "agent-3's answer: 13" in prompt and "agent-4's answer: 14" in prompt
    assert "defend it with stronger reasoning" in prompt
    assert "at least one reasoning step" in prompt
    answer = next(t for t in trace.turns if t.id == "r1/agent-0/answer")
    assert answer.saw == [f"r0/agent-{i}/answer" for i in (1, 2, 3, 4)]


def test_mean_token_entropy_by_hand():
    import math

    from debate.uncertainty import mean_token_entropy, token_entropy, uncertainty

    # p = 0.5, 0.25 and the remaining 0.25 as one outcome: H = 1.5 ln 2 nats
    top = {"a": math.log(0.5), "b": math.log(0.25)}
    assert token_entropy(top) == pytest.approx(1.5 * math.log(2))
    # a certain token has no entropy
    assert token_entropy({"a": 0.0}) == pytest.approx(0.0)
    tokens = [TokenLogprob(token="a", logprob=math.log(0.5), top=top),
              TokenLogprob(token="x", logprob=0.0, top={"x": 0.0})]
    assert mean_token_entropy(tokens) == pytest.approx(0.75 * math.log(2))
    assert uncertainty(tokens, "entropy") == (pytest.approx(0.75 * math.log(2)), "entropy")
    bare = [TokenLogprob(token="a", logprob=-1.0), TokenLogprob(token="b", logprob=-3.0)]
    assert uncertainty(bare, "entropy") == (2.0, "mean-nll")  # no top-k: the fallback
    assert uncertainty(None, "entropy") == (None, None)


class WithTopLogprobs:
    """Every token has two equally likely alternatives (entropy ln 2) or is certain (0)."""

    def __init__(self, certain, replies):
        self.name, self.certain, self.replies, self.calls = "top", certain, list(replies), []

    async def generate(self, messages, params):
        import math

        self.calls.append((messages, params))
        top = {"x": 0.0} if self.certain else {"x": math.log(0.5), "y": math.log(0.5)}
        return Completion(text=self.replies.pop(0), usage=Usage(),
                          logprobs=[TokenLogprob(token="x", logprob=top["x"], top=top)] * 4)


async def test_debunc_entropy_asks_for_top_logprobs_and_records_the_metric():
    import math

    models = [WithTopLogprobs(c, [f"ans{i} \\boxed{{12}}", "\\boxed{12}"])
              for i, c in enumerate([False, False, True])]
    agents = [Debater(f"agent-{i}", m) for i, m in enumerate(models)]
    trace = await DuProtocol(rounds=1, uncertainty="entropy").run(Q, agents)
    params = models[0].calls[0][1]
    assert params.logprobs and params.top_logprobs == 20
    first = trace.turns[0]
    assert first.fields["uncertainty"] == pytest.approx(math.log(2))
    assert first.fields["uncertainty_metric"] == "entropy"
    assert trace.turns[2].fields["uncertainty"] == pytest.approx(0.0)
    # [ln2, ln2, 0]: the certain agent gets the top confidence, 10 (clipped)
    assert debunc_confidences([math.log(2), math.log(2), 0.0]) == [1, 1, 10]
    assert "(confidence 10/10)" in models[0].calls[1][0][-1].content


async def test_debunc_entropy_falls_back_to_mean_nll_and_says_so():
    models = [WithLogprobs(n, ["\\boxed{12}", "\\boxed{12}"]) for n in (1, 2, 4)]
    agents = [Debater(f"agent-{i}", m) for i, m in enumerate(models)]
    trace = await DuProtocol(rounds=1, uncertainty="entropy").run(Q, agents)
    assert trace.turns[0].fields["uncertainty_metric"] == "mean-nll"
    assert "(confidence 4/10)" in models[0].calls[1][0][-1].content


def test_token_sar_by_hand():
    from debate.uncertainty import token_sar

    # NLLs 1, 2, 4 with relevance 0.5, 0, 0.5: (0.5 * 1 + 0 * 2 + 0.5 * 4) / 1 = 2.5
    tokens = [TokenLogprob(token=t, logprob=-n) for t, n in (("a", 1), ("b", 2), ("c", 4))]
    assert token_sar(tokens, [0.5, 0.0, 0.5]) == pytest.approx(2.5)
    assert token_sar(tokens, [0.0, 0.0, 0.0]) is None


async def test_debunc_token_sar_uses_a_registered_relevance_scorer():
    import threading

    from debate.uncertainty import RELEVANCE

    seen = {}

    def keep_first_token_only(prompt, tokens):
        seen["thread"] = threading.current_thread().name
        seen["prompt"] = prompt
        return [1.0] + [0.0] * (len(tokens) - 1)

    RELEVANCE["first-token"] = lambda: keep_first_token_only
    try:
        models = [WithLogprobs(n, [f"ans{i} \\boxed{{12}}", "\\boxed{12}"])
                  for i, n in enumerate([1, 2, 4])]
        agents = [Debater(f"agent-{i}", m) for i, m in enumerate(models)]
        proto = DuProtocol(rounds=1, uncertainty="token-sar", relevance="first-token")
        trace = await proto.run(Q, agents)
    finally:
        del RELEVANCE["first-token"]
    first = trace.turns[0]
    # only the first token counts: its NLL, 1 (agent 0)
    assert first.fields["uncertainty"] == 1.0 and first.fields["uncertainty_metric"] == "token-sar"
    assert seen["thread"] != threading.main_thread().name  # off the event loop
    assert "What is 3 * 4?" in seen["prompt"]
    assert "(confidence 4/10)" in models[0].calls[1][0][-1].content


def test_token_sar_cross_encoder_needs_its_extra():
    import importlib.util

    from debate.errors import MissingDependencyError

    if importlib.util.find_spec("sentence_transformers") is not None:
        pytest.skip("sentence-transformers is installed here")
    with pytest.raises(MissingDependencyError, match="sentence-transformers"):
        DuProtocol(uncertainty="token-sar")._measure  # noqa: B018


class Skewed:
    """Each token: chosen p = 0.9, one alternative p = 0.1 -> NLL 0.10536, entropy 0.32508."""

    def __init__(self, replies):
        self.name, self.replies, self.calls = "skewed", list(replies), []

    async def generate(self, messages, params):
        import math

        self.calls.append((messages, params))
        top = {"x": math.log(0.9), "y": math.log(0.1)}
        return Completion(text=self.replies.pop(0), usage=Usage(),
                          logprobs=[TokenLogprob(token="x", logprob=math.log(0.9), top=top)] * 2)


async def test_debunc_never_normalises_confidences_across_metrics():
    # agents 0, 1 give top-k (entropy 0.32508), agent 2's backend does not (mean NLL 0.5):
    # the round falls back to every turn's mean NLL: u = 0.10536, 0.10536, 0.5;
    # 1/u = 9.4912, 9.4912, 2.0 (sum 20.9824); c = 14 (1/u) / sum + 1/3 = 6.67, 6.67, 1.67
    # -> 7, 7, 2. (Mixing the scales would give u = 0.32508, 0.32508, 0.5 -> 6, 6, 4.)
    models = [Skewed(["\\boxed{12}", "\\boxed{12}"]), Skewed(["\\boxed{12}", "\\boxed{12}"]),
              WithLogprobs(0.5, ["\\boxed{12}", "\\boxed{12}"])]
    agents = [Debater(f"agent-{i}", m) for i, m in enumerate(models)]
    trace = await DuProtocol(rounds=1, uncertainty="entropy").run(Q, agents)
    metrics = [t.fields["uncertainty_metric"] for t in trace.turns[:3]]
    assert metrics == ["entropy", "entropy", "mean-nll"]
    assert trace.turns[0].fields["uncertainty"] == pytest.approx(0.32508, abs=1e-5)
    prompt = models[0].calls[1][0][-1].content
    assert "(confidence 7/10)" in prompt and "(confidence 2/10)" in prompt
    assert trace.turns[3].fields["peer_uncertainty_metric"] == "mean-nll"
