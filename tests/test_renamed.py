"""Renamed names: the new name works, and nothing stored changes."""

import pytest

from debate.agents import Agent, Debater
from debate.errors import ConfigError, TemplateError
from debate.models import Message, SamplingParams, cache_key
from debate.prompts import Template
from debate.testing import ScriptedModel


def test_the_sampler_was_the_slot_and_the_cache_key_is_unchanged():
    params = SamplingParams(sampler="agent-0", seed=3, temperature=0.7)
    assert params.sampler == "agent-0"
    assert SamplingParams.model_validate(params.model_dump()) == params  # dumps read back
    # the key this call had before the rename: existing response caches stay valid
    key = cache_key("scripted:m", [Message(role="user", content="What is 2+2?")], params,
                    "q/r0/agent-0/answer")
    assert key == "34d6f7098367a48ff353d31afffc7c2dcc4359e50f69afc756e55e014ff3d7c5"
    assert Debater("agent-2", ScriptedModel("x")).params.sampler == "agent-2"


class Greeter(Agent):
    default_templates = {"greet": "question"}
    template_fields = {"greet": frozenset({"text"})}

    def messages(self, view):
        return [Message(role="user", content=self.render("greet", text=view.question.text))]


def test_a_roles_template_fields_are_checked_at_load():
    assert Greeter.template_fields == {"greet": frozenset({"text"})}
    with pytest.raises(TemplateError, match="context"):  # `question` uses fields it lacks
        Greeter("g", ScriptedModel("x"))


def test_an_unknown_template_name_lists_the_roles_templates():
    with pytest.raises(ConfigError, match=r"role 'debater' has no template\(s\) named "
                                          r"\['debte'\]; its templates: \['alone', "):
        Debater("a", ScriptedModel("x"), templates={"debte": Template("hello", "inline")})
