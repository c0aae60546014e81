"""What a protocol hands an agent: typed View fields, ``extra`` only for custom inputs."""

import pytest

from debate.agents import Agent, MadJudge, View
from debate.agents.mad import ANSWER_SCHEMA
from debate.errors import ConfigError
from debate.models import Message
from debate.testing import ScriptedModel
from debate.trace import Question

Q = Question(id="q", text="What is 2 + 2?", task="numeric", gold="4")


def test_a_view_field_passed_in_extra_is_an_error_naming_it():
    with pytest.raises(ConfigError, match=r"\['step'\] are View fields.*View\(\.\.\., step="):
        View(Q, 0, extra={"step": "decide"})


async def test_built_in_roles_read_the_typed_fields():
    judge = MadJudge("judge", ScriptedModel('{"reason": "r", "debate_answer": "4"}'))
    decide = View(Q, 0, step="decide")
    assert judge.params_for(decide).json_schema == ANSWER_SCHEMA
    assert (await judge.act(decide)).answer == "4"


async def test_a_custom_role_reads_its_own_inputs_from_extra():
    class Hinted(Agent):
        def messages(self, view: View) -> list[Message]:
            hint = view.extra["hint"]
            return [Message(role="user", content=f"{view.question.text} Hint: {hint}")]

    turn = await Hinted("h", ScriptedModel("\\boxed{4}")).act(View(Q, 0, extra={"hint": "add"}))
    assert turn.messages[0].content == "What is 2 + 2? Hint: add"
