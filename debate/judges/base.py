"""The :class:`Judge` interface, judge configs and the judge registry.

A judge turns candidate turns into a :class:`FinalAnswer`. Aggregators
(majority, confidence-weighted) are pure; LLM judges call a model through a
judge agent, and the turns they produce go into the trace with the
decision, so a verdict and what it was based on are always on record.

A judge's options are a pydantic model, named as the class's type argument
(``class LLMJudge(Judge[LLMJudgeConfig])``); ``judge_options`` in a protocol's
config are validated against it, and an unknown or invalid option is a
:class:`ConfigError` naming the judge and the option.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, cast

from pydantic import ConfigDict, ValidationError
from typing_extensions import TypeVar

from debate._generic import config_argument, validation_errors
from debate.agents.base import Agent
from debate.errors import ConfigError
from debate.registry import Registry
from debate.settings import Settings
from debate.trace import FinalAnswer, Question, Turn

__all__ = ["JUDGES", "Decision", "Judge", "JudgeConfig", "MemberJudge", "create_judge", "get_judge",
           "judge"]


@dataclass
class Decision:
    """A judge's final answer and the model turns it took to reach it."""

    final: FinalAnswer
    turns: list[Turn] = field(default_factory=list)


class JudgeConfig(Settings):
    """Base of judge options (none): unknown options are errors, not silently ignored."""

    model_config = ConfigDict(frozen=True)


ConfigT = TypeVar("ConfigT", bound=JudgeConfig, covariant=True, default=JudgeConfig)


class Judge(ABC, Generic[ConfigT]):
    """Base class of judges; ``Judge[MyConfig]`` takes the options ``MyConfig`` declares.

    Args:
        **options: the judge's options (unknown or invalid ones are a :class:`ConfigError`).

    """

    name: ClassVar[str] = ""
    """The registered name."""
    needs_model: ClassVar[bool] = False
    """True when the judge calls a model (the protocol then adds a ``judge`` agent)."""
    config_class: ClassVar[type[JudgeConfig]] = JudgeConfig
    """The options model (set from the class's type argument)."""
    config: ConfigT
    """The validated options."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        named = config_argument(cls, JudgeConfig)
        if named is not None and "config_class" not in cls.__dict__:
            cls.config_class = named

    def __init__(self, **options: Any) -> None:
        try:
            self.config = cast(ConfigT, self.config_class.model_validate(options))
        except ValidationError as exc:
            raise ConfigError(f"judge {self.name!r}: invalid option(s): "
                              f"{validation_errors(exc, self.config_class)}") from None

    def max_calls(self) -> int:
        """Most model calls one decision makes (0 for aggregators, 1 for model judges)."""
        return 1 if self.needs_model else 0

    def calls_with(self, voters: int) -> int:
        """Most calls one decision makes when the debate has ``voters`` agents besides a judge."""
        return self.max_calls()

    def settled(self, candidates: Sequence[Turn], round_: int) -> bool:
        """True when this rule's decision is reached already, so the debate may end now.

        Consensus rules say yes once enough agents agree; other judges never end a debate.
        """
        return False

    @abstractmethod
    async def decide(self, question: Question, candidates: Sequence[Turn],
                     agent: Agent | None = None, round_: int = 0) -> Decision:
        """Decide the final answer from ``candidates`` (with ``agent`` when ``needs_model``)."""


class MemberJudge(Judge[ConfigT]):
    """A decision rule that asks the debate's own agents (a vote, a summary), not a judge agent.

    Protocols call :meth:`decide_with`, passing the agents who wrote the candidates.
    """

    @abstractmethod
    async def decide_with(self, question: Question, candidates: Sequence[Turn],
                          members: Sequence[Agent], round_: int = 0,
                          roles: Mapping[str, str] | None = None) -> Decision:
        """Decide from ``candidates`` by asking ``members`` (the candidates' authors, in order).

        ``roles``: a member's role line by agent name, shown on its ballot (MALLM's persona).
        """

    async def decide(self, question: Question, candidates: Sequence[Turn],
                     agent: Agent | None = None, round_: int = 0) -> Decision:
        """Refused: this rule needs the debate's agents (:meth:`decide_with`)."""
        raise ConfigError(f"judge {self.name!r} asks the debate's own agents: call "
                          "decide_with(question, candidates, members)")


JUDGES: Registry[type[Judge[Any]]] = Registry("judge", "name", group="debatelab.judges")
"""Registered judges by name."""

J = TypeVar("J", bound=type[Judge[Any]])


def judge(name: str) -> Callable[[J], J]:
    """Class decorator registering a :class:`Judge` subclass under ``name``."""
    return JUDGES.register(name)


def get_judge(name: str) -> type[Judge[Any]]:
    """The judge class registered as ``name``."""
    return JUDGES.lookup(name)


def create_judge(name: str, **options: Any) -> Judge[Any]:
    """A judge by name, with options."""
    return get_judge(name)(**options)
