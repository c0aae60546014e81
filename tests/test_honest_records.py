"""No record lies: answers say how they were found, `saw` is what was sent, cards keep roles."""

from typing import Any

import pytest
from langgraph.graph import END, START, StateGraph

from debate.agents import Agent, Debater, Parsed, Reconciler, View, role
from debate.agents.base import answer_confidence_parser
from debate.cards import load_role_card
from debate.errors import ConfigError
from debate.experiment.binding import build_agents
from debate.experiment.runner import run_debate
from debate.models import Message
from debate.protocols import DebateContext, DebateProtocol, DebateState, ProtocolConfig, protocol
from debate.testing import ScriptedModel
from debate.trace import FinalAnswer, Question

Q = Question(id="q", text="What is 3 * 6?", task="numeric", gold="18")


@role("follower")
class Follower(Debater):
    """Answers after reading the leader's answer (``view.peers``)."""

    def messages(self, view: View) -> list[Message]:
        leader = view.peers[0].raw
        return [Message(role="user", content=f"The leader says: {leader}\n{view.question.text}")]


@protocol("follow-the-leader")
class FollowTheLeader(DebateProtocol):
    """A leader answers, a follower answers after reading it."""

    config_class = ProtocolConfig

    def agent_names(self) -> list[str]:
        return ["leader", "follower"]

    def agent_role(self, index: int) -> str:
        return ["debater", "follower"][index]

    async def step(self, state: DebateState, runtime: Any) -> dict[str, Any]:
        leader, follower = runtime.context.group(["leader", "follower"])
        first = await leader.act(View(state["question"], 0))
        second = await follower.act(View(state["question"], 0, peers=[first]))
        return {"turns": [first, second], "round": 0, "stop_reason": "done",
                "final": FinalAnswer(answer=second.answer, method="follower")}

    def graph(self) -> StateGraph[Any, Any, Any, Any]:
        g = StateGraph(DebateState, context_schema=DebateContext)
        g.add_node("step", self.step)
        g.add_edge(START, "step")
        g.add_edge("step", END)
        return g


def test_a_card_may_not_turn_a_protocol_role_into_another(tmp_path):
    card = tmp_path / "plain.yaml"
    card.write_text("name: plain\nbase: debater\n")
    proto = FollowTheLeader()
    with pytest.raises(ConfigError, match="cannot play agent 'follower'.*role 'follower'"):
        build_agents(proto, [ScriptedModel("x")], [f"follower={card}"])


async def test_a_card_without_base_plays_the_protocols_role_and_is_recorded(tmp_path):
    card = tmp_path / "terse.yaml"
    card.write_text("name: terse\nsystem_prompt: Be terse.\n")
    leader = ScriptedModel("The leader: \\boxed{18}")
    follower = ScriptedModel("\\boxed{18}")
    agents = build_agents(FollowTheLeader(), [leader, follower], [f"follower={card}"])
    assert isinstance(agents[1], Follower) and agents[1].card == "terse"
    trace = await FollowTheLeader().run(Q, agents)
    assert "The leader says: The leader:" in follower.calls[0].messages[-1].content
    assert trace.turns[1].saw == ["r0/leader/answer"]
    assert [a.card for a in trace.agents] == [None, "terse"]


async def test_saw_is_what_the_messages_actually_show():
    class Deaf(Debater):
        def messages(self, view: View) -> list[Message]:  # ignores its peers
            return [Message(role="user", content=view.question.text)]

    agents = [Debater("leader", ScriptedModel("lead \\boxed{18}")),
              Deaf("follower", ScriptedModel("\\boxed{18}"))]
    trace = await FollowTheLeader().run(Q, agents)
    assert trace.turns[1].saw == []  # the view offered the leader; the prompt never showed it


async def test_a_json_answer_field_that_does_not_parse_is_unparsed():
    reply = '{"answer": "eighteen", "confidence": 0.9}'
    found, confidence = answer_confidence_parser(reply, Q)
    assert found.answer is None and confidence == 0.9  # never the answer "0.9"
    turn = await Reconciler("a", ScriptedModel(reply)).act(View(Q, 0))
    assert turn.answer is None and turn.answer_from is None and turn.confidence == 0.9
    turn = await Reconciler("a", ScriptedModel('{"answer": "18 apples"}')).act(View(Q, 0))
    assert (turn.answer, turn.answer_from, turn.answer_rule) == ("18", "explicit", "field")


async def test_turns_record_how_their_answer_was_found():
    turns = [await Debater("a", ScriptedModel(text)).act(View(Q, 0))
             for text in ("so \\boxed{18}", "3 times 6 is 18", "no idea")]
    assert [(t.answer, t.answer_from, t.answer_rule) for t in turns] == [
        ("18", "explicit", "boxed"), ("18", "fallback", "last-number"), (None, None, None)]


async def test_strict_parsing_keeps_only_explicit_answers():
    agent = Debater("a", ScriptedModel("3 times 6 is 18"), strict_parsing=True)
    turn = await agent.act(View(Q, 0))
    assert turn.answer is None and turn.answer_from == "fallback"
    assert turn.answer_rule == "last-number" and turn.fields["fallback_answer"] == "18"
    trace = await run_debate(Q, protocol="du", rounds=0, strict_parsing=True,
                             models=[ScriptedModel("\\boxed{18}"), ScriptedModel("18"),
                                     ScriptedModel("18")])
    assert [t.answer for t in trace.turns] == ["18", None, None]
    assert trace.final.answer == "18" and trace.final.details["dropped"] == 2


async def test_a_custom_parser_returning_text_counts_as_explicit():
    agent = Debater("a", ScriptedModel("whatever"), parser=lambda text, q: ("18", None))
    turn = await agent.act(View(Q, 0))
    assert (turn.answer, turn.answer_from, turn.answer_rule) == ("18", "explicit", "parser")


class Custom(Agent):
    def messages(self, view: View) -> list[Message]:
        return [Message(role="user", content="q")]

    def parse(self, text: str, view: View) -> Parsed:
        return Parsed(confidence=0.5, fields={"note": text})


async def test_a_role_parse_override_returns_parsed():
    turn = await Custom("c", ScriptedModel("hello")).act(View(Q, 0))
    assert turn.answer is None and turn.confidence == 0.5 and turn.fields == {"note": "hello"}


def test_the_devils_advocate_card_still_plays_a_debater():
    agent = load_role_card("agents/devils-advocate.yaml").build(
        "agent-2", ScriptedModel("x"), role="debater")
    assert isinstance(agent, Debater) and agent.card == "devils-advocate"


def test_a_debater_card_on_the_mad_judge_seat_is_a_located_load_error(tmp_path):
    from debate.protocols import get_protocol

    debater = tmp_path / "debater.yaml"
    debater.write_text("name: plain\nbase: debater\n")
    mad = get_protocol("mad")()
    with pytest.raises(ConfigError, match="cannot play agent 'judge'.*role 'mad-judge'"):
        build_agents(mad, [ScriptedModel("x")], [f"judge={debater}"])
    odd = tmp_path / "odd.yaml"
    odd.write_text("name: odd\ntemplates:\n  debate: 'hello {{ peers }}'\n")
    with pytest.raises(ConfigError, match=r"odd\.yaml: role card 'odd' on agent 'judge': "
                                          r"role 'mad-judge' has no template\(s\) named"):
        build_agents(mad, [ScriptedModel("x")], [f"judge={odd}"])
