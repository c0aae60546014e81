"""What protocols share: the config named by the type argument, fixed-role seats."""

from typing import Any

import pytest
from pydantic import Field

from debate.errors import ConfigError
from debate.protocols import (
    CritiqueRefineProtocol,
    DebateProtocol,
    FixedRolesProtocol,
    JudgedConfig,
    MadConfig,
    MadProtocol,
    ProtocolConfig,
    SelfRefineProtocol,
    SrDcrProtocol,
)
from debate.testing import first_number_reply
from debate.testing.mock_server import first_number_policy


class EchoConfig(ProtocolConfig):
    times: int = Field(1, ge=1)
    """How often to echo."""


class Echo(DebateProtocol[EchoConfig]):
    def agent_names(self) -> list[str]:
        return ["echo"]

    def graph(self) -> Any:
        raise NotImplementedError


def test_a_protocol_takes_the_config_named_as_its_type_argument():
    assert Echo.config_class is EchoConfig and MadProtocol.config_class is MadConfig
    echo = Echo(times=3)
    assert isinstance(echo.config, EchoConfig) and echo.config.times == 3
    with pytest.raises(ConfigError, match="times"):
        Echo(times=0)
    with pytest.raises(ConfigError, match="loud: unknown key"):
        Echo(loud=True)


def seats(protocol: DebateProtocol[Any]) -> list[tuple[str, str]]:
    names = protocol.agent_names()
    return [(name, protocol.agent_role(i)) for i, name in enumerate(names)]


def test_fixed_role_protocols_seat_each_agent_in_its_own_role():
    assert seats(MadProtocol()) == [("affirmative", "affirmative"), ("negative", "negative"),
                                    ("moderator", "moderator"), ("judge", "mad-judge")]
    assert seats(SrDcrProtocol())[2] == ("critic", "context-critic")
    assert seats(CritiqueRefineProtocol(judge="llm")) == [
        ("solver", "solver"), ("critic", "critic"), ("refiner", "refiner"), ("judge", "judge")]
    assert seats(SelfRefineProtocol()) == [("self", "self-refiner")]


def test_a_custom_fixed_roles_protocol_needs_only_its_seats():
    class Duel(FixedRolesProtocol[JudgedConfig]):
        agent_roles = {"pro": "affirmative", "con": "negative"}

        def graph(self) -> Any:
            raise NotImplementedError

    assert seats(Duel()) == [("pro", "affirmative"), ("con", "negative")]
    assert seats(Duel(judge="llm"))[-1] == ("judge", "judge")


def test_the_scripted_model_and_the_mock_server_answer_the_first_number_alike():
    assert first_number_reply("3 rows of 4 eggs") == "The answer is \\boxed{3}."
    assert first_number_reply("no number") == "The answer is \\boxed{0}."
    assert first_number_policy([{"role": "system", "content": "7"},
                                {"role": "user", "content": "2.5 and 4"}]) \
        == first_number_reply("2.5 and 4")
