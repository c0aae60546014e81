"""The rules of Du et al. (2023) debate, checked on scripted agents."""

import re

import pytest

from debate.agents import Debater
from debate.errors import ConfigError
from debate.judges import TIE_RULE
from debate.protocols import DuProtocol, SelfConsistencyProtocol, SingleProtocol
from debate.testing import ScriptedModel
from debate.trace import Question

Q = Question(id="q1", text="Alice has 3 apples and gets 15 more. How many?", task="numeric",
             gold="18")


def scripted_agents(replies_per_agent):
    models = [ScriptedModel(list(replies), name=f"m{i}")
              for i, replies in enumerate(replies_per_agent)]
    return models, [Debater(f"agent-{i}", m) for i, m in enumerate(models)]


async def test_calls_are_agents_times_rounds_plus_one():
    for agents, rounds in [(3, 2), (2, 1), (4, 3), (1, 0)]:
        models, debaters = scripted_agents([["\\boxed{18}"] * (rounds + 1)] * agents)
        trace = await DuProtocol(agents=agents, rounds=rounds).run(Q, debaters)
        assert [len(m.calls) for m in models] == [rounds + 1] * agents
        assert trace.totals.calls == agents * (rounds + 1) == len(trace.turns)
        assert trace.stop_reason == "max_rounds"


async def test_round_one_prompt_holds_exactly_the_peers_round_zero_answers():
    models, debaters = scripted_agents([
        ["A0: \\boxed{18}", "A1: \\boxed{18}"],
        ["B0: \\boxed{20}", "B1: \\boxed{18}"],
        ["C0: \\boxed{17}", "C1: \\boxed{18}"],
    ])
    trace = await DuProtocol(agents=3, rounds=1).run(Q, debaters)
    second = models[0].calls[1].messages
    assert [m.role for m in second] == ["user", "assistant", "user"]
    assert second[0] == models[0].calls[0].messages[0]  # the question, unchanged
    assert second[1].content == "A0: \\boxed{18}"  # its own answer, as its history
    peer_block = second[2].content
    assert peer_block.index("B0: ") < peer_block.index("C0: ")  # peers in agent order
    assert "A0" not in peer_block  # never its own answer in the peer block
    assert not re.search(r"[ABC]1:", peer_block)  # never a round-1 answer
    assert Q.text in peer_block  # the question is restated
    turn = next(t for t in trace.turns if t.id == "r1/agent-0/answer")
    assert turn.saw == ["r0/agent-1/answer", "r0/agent-2/answer"]


async def test_chat_history_grows_as_exact_prefix():
    models, debaters = scripted_agents([["a \\boxed{1}", "b \\boxed{2}", "c \\boxed{3}"]] * 2)
    await DuProtocol(agents=2, rounds=2).run(Q, debaters)
    calls = models[1].calls
    for earlier, later in zip(calls, calls[1:], strict=False):
        assert later.messages[: len(earlier.messages)] == earlier.messages


async def test_single_agent_double_checks():
    models, debaters = scripted_agents([["\\boxed{18}", "\\boxed{18}"]])
    await DuProtocol(agents=1, rounds=1).run(Q, debaters)
    assert "double-check" in models[0].calls[1].messages[-1].content


async def test_majority_vote_and_correctness():
    _, debaters = scripted_agents([["\\boxed{18}"], ["\\boxed{20}"], ["\\boxed{18}"]])
    trace = await DuProtocol(agents=3, rounds=0).run(Q, debaters)
    assert trace.final.answer == "18" and trace.correct is True
    assert trace.final.votes == {"18": 2, "20": 1} and trace.final.tie_break is None


async def test_all_different_goes_to_first_agent_and_rule_is_recorded():
    _, debaters = scripted_agents([["\\boxed{19}"], ["\\boxed{20}"], ["\\boxed{18}"]])
    trace = await DuProtocol(agents=3, rounds=0).run(Q, debaters)
    assert trace.final.answer == "19" and trace.correct is False
    assert trace.final.tie_break == TIE_RULE
    assert trace.final.details["tied"] == ["19", "20", "18"]


async def test_unparseable_answers_are_dropped_never_correct():
    _, debaters = scripted_agents([["I am not sure"], ["no idea"], ["\\boxed{20}"]])
    trace = await DuProtocol(agents=3, rounds=0).run(Q, debaters)
    assert trace.final.answer == "20" and trace.final.details["dropped"] == 2
    _, debaters = scripted_agents([["?"], ["??"], [""]])
    trace = await DuProtocol(agents=3, rounds=0).run(Q, debaters)
    assert trace.final.answer is None and trace.correct is False
    assert trace.turns[2].error and "empty completion" in trace.turns[2].error


async def test_early_stop_on_consensus_is_opt_in_and_recorded():
    replies = [["\\boxed{18}", "\\boxed{18}", "\\boxed{18}"]] * 3
    models, debaters = scripted_agents(replies)
    trace = await DuProtocol(agents=3, rounds=2, stop_on_consensus=True).run(Q, debaters)
    assert trace.stop_reason == "consensus" and len(trace.turns) == 3
    models, debaters = scripted_agents(replies)
    trace = await DuProtocol(agents=3, rounds=2).run(Q, debaters)
    assert trace.stop_reason == "max_rounds" and len(trace.turns) == 9


async def test_prompt_tokens_match_the_formula():
    """Fixed-length replies: every prompt's size is predictable (catches leaked history)."""
    reply = "w " * 9 + "\\boxed{18}"  # 10 words
    models, debaters = scripted_agents([[reply] * 3] * 3)
    await DuProtocol(agents=3, rounds=2).run(Q, debaters)
    initial = len(models[0].calls[0].messages[0].content.split())
    peer_msg = len(models[0].calls[1].messages[2].content.split())
    for m in models:
        sizes = [sum(len(x.content.split()) for x in call.messages) for call in m.calls]
        assert sizes == [initial, initial + 10 + peer_msg, initial + 2 * (10 + peer_msg)]


async def test_wrong_number_of_agents_is_a_clear_error():
    _, debaters = scripted_agents([["x"]] * 2)
    with pytest.raises(ConfigError, match="needs 3 agents"):
        await DuProtocol().run(Q, debaters)
    with pytest.raises(ConfigError, match="rounds"):
        DuProtocol(rounds=-1)
    with pytest.raises(ConfigError, match="round: unknown key; did you mean 'rounds'"):
        DuProtocol(round=2)


async def test_single_and_self_consistency():
    models, solvers = scripted_agents([["\\boxed{18}"]])
    trace = await SingleProtocol().run(Q, [Debater("solver", models[0])])
    assert trace.final.method == "single" and len(trace.turns) == 1
    shared = ScriptedModel(lambda m, p: f"\\boxed{{{len(p.sampler)}}}")
    proto = SelfConsistencyProtocol(samples=4)
    agents = [Debater(name, shared) for name in proto.agent_names()]
    trace = await proto.run(Q, agents)
    assert len(shared.calls) == 4
    assert len({c.params.sampler for c in shared.calls}) == 4  # distinct samplers
    assert trace.final.method == "majority"


def test_graph_is_compiled_once_and_drawable():
    proto = DuProtocol()
    assert proto.build_graph() is proto.build_graph()
    mermaid = proto.mermaid()
    assert "answer" in mermaid and "debate" in mermaid and "vote" in mermaid
