"""What a protocol hands an agent: the common View fields, and its role family's typed brief."""

from dataclasses import dataclass
from typing import Any

import pytest

from debate.agents import (
    Agent,
    DebaterBrief,
    JudgeAgent,
    JudgeBrief,
    MadJudge,
    OversightBrief,
    OversightJudge,
    ReconcileBrief,
    Reconciler,
    View,
)
from debate.agents.mad import ANSWER_SCHEMA
from debate.errors import ConfigError
from debate.models import Message
from debate.protocols import DebateState, FixedRolesProtocol, JudgedConfig, gather_round
from debate.testing import ScriptedModel
from debate.trace import Question

Q = Question(id="q", text="What is 2 + 2?", task="numeric", gold="4")


async def test_built_in_roles_read_the_common_fields():
    """The step of a multi-step role is a common View field."""
    judge = MadJudge("judge", ScriptedModel('{"reason": "r", "debate_answer": "4"}'))
    decide = View(Q, 0, step="decide")
    assert judge.params_for(decide).json_schema == ANSWER_SCHEMA
    assert (await judge.act(decide)).answer == "4"


async def test_a_role_reads_its_familys_brief():
    """The judge role numbers the candidates its JudgeBrief gives."""
    judge = JudgeAgent("judge", ScriptedModel('{"choice": 2, "rationale": "right"}'))
    view = View(Q, 0, brief=JudgeBrief([("5", "2+2=5"), ("4", "2+2=4")]))
    turn = await judge.act(view)
    assert turn.answer == "2" and "2+2=4" in turn.messages[-1].content
    assert view.brief_as(JudgeBrief).candidates[1] == ("4", "2+2=4")


async def test_a_role_given_no_brief_reads_its_briefs_defaults():
    """No brief reads as the brief built with every default (here: no samples, no groups)."""
    assert View(Q, 0).brief_as(ReconcileBrief) == ReconcileBrief()
    assert View(Q, 0).brief_as(DebaterBrief) == DebaterBrief()
    turn = await Reconciler("a", ScriptedModel('{"answer": "4", "confidence": 0.9}')).act(
        View(Q, 0))
    assert turn.answer == "4"


async def test_a_role_whose_brief_has_required_fields_needs_one():
    """A role whose brief cannot be defaulted (oversight) names the brief it needs."""
    judge = OversightJudge("judge", ScriptedModel("Answer: A"))
    with pytest.raises(ConfigError, match=r"reads a OversightBrief.*no brief"):
        await judge.act(View(Q, 0, step="decide"))


async def test_a_role_given_another_familys_brief_is_a_clear_error_naming_both():
    """The error names the brief the role reads and the brief the protocol gave."""
    judge = JudgeAgent("judge", ScriptedModel('{"choice": 1, "rationale": "r"}'))
    with pytest.raises(ConfigError, match=r"reads a JudgeBrief but the protocol gave a "
                                          r"ReconcileBrief"):
        await judge.act(View(Q, 0, brief=ReconcileBrief()))
    brief = OversightBrief(answers=("4", "5"), step="decide")
    with pytest.raises(ConfigError, match=r"reads a DebaterBrief.*gave a OversightBrief"):
        View(Q, 0, brief=brief).brief_as(DebaterBrief)


@dataclass(frozen=True, slots=True)
class HintBrief:
    """What the custom ``hinted`` protocol tells its custom role."""

    hint: str = ""
    """A hint shown after the question."""


class Hinted(Agent):
    """A custom role: the question and its brief's hint."""

    def messages(self, view: View) -> list[Message]:
        """One message: the question, then the hint."""
        hint = view.brief_as(HintBrief).hint
        return [Message(role="user", content=f"{view.question.text} Hint: {hint}")]


class HintedProtocol(FixedRolesProtocol[JudgedConfig]):
    """A custom protocol: its one agent answers with a hint, handed over as a HintBrief."""

    agent_roles = {"hinted": "agent"}

    async def answer(self, state: DebateState, runtime: Any) -> dict[str, Any]:
        """The hinted agent answers once."""
        agents = runtime.context.group(self.agent_names())
        turns = await gather_round(agents, [View(state["question"], 0, brief=HintBrief("add"))])
        decided = await self.conclude(state, runtime, turns)
        return {"turns": [*turns, *decided["turns"]], "final": decided["final"],
                "round": 0, "stop_reason": "done"}

    def graph(self) -> Any:
        """START -> answer -> END."""
        return self.one_node_graph("answer")


async def test_a_custom_protocol_gives_a_custom_role_its_own_brief_without_touching_view():
    """A custom protocol's brief is its own dataclass; View needs no new field for it."""
    trace = await HintedProtocol().run(Q, [Hinted("hinted", ScriptedModel("\\boxed{4}"))])
    turn = trace.turns[0]
    assert turn.messages[0].content == "What is 2 + 2? Hint: add" and turn.answer == "4"
    assert "hint" not in View.__dataclass_fields__
