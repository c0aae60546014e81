"""The :class:`Judge` interface and the judge registry.

A judge turns candidate turns into a :class:`FinalAnswer`. Aggregators
(majority, confidence-weighted) are pure; LLM judges call a model through a
judge agent, and the turns they produce go into the trace with the
decision, so a verdict and what it was based on are always on record.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from debate.agents.base import Agent
from debate.errors import ConfigError
from debate.registry import Registry
from debate.trace import FinalAnswer, Question, Turn

__all__ = ["JUDGES", "Decision", "Judge", "create_judge", "get_judge", "judge"]


@dataclass
class Decision:
    """A judge's final answer and the model turns it took to reach it."""

    final: FinalAnswer
    turns: list[Turn] = field(default_factory=list)


class Judge(ABC):
    """Base class of judges.

    Args:
        **options: judge-specific options (unknown ones are an error).

    """

    name: ClassVar[str] = ""
    """The registered name."""
    needs_model: ClassVar[bool] = False
    """True when the judge calls a model (the protocol then adds a ``judge`` agent)."""
    options: ClassVar[dict[str, Any]] = {}
    """Option names and defaults."""

    def __init__(self, **options: Any) -> None:
        unknown = set(options) - set(self.options)
        if unknown:
            raise ConfigError(f"judge {self.name!r} has no option(s) {sorted(unknown)}; "
                              f"options: {sorted(self.options)}")
        self.config = {**self.options, **options}

    @abstractmethod
    async def decide(self, question: Question, candidates: Sequence[Turn],
                     agent: Agent | None = None, round_: int = 0) -> Decision:
        """Decide the final answer from ``candidates`` (with ``agent`` when ``needs_model``)."""


JUDGES: Registry[type[Judge]] = Registry("judge", "name", group="debatelab.judges")
"""Registered judges by name."""

J = TypeVar("J", bound=type[Judge])


def judge(name: str) -> Callable[[J], J]:
    """Class decorator registering a :class:`Judge` subclass under ``name``."""
    return JUDGES.register(name)


def get_judge(name: str) -> type[Judge]:
    """The judge class registered as ``name``."""
    return JUDGES.lookup(name)


def create_judge(name: str, **options: Any) -> Judge:
    """A judge by name, with options."""
    return get_judge(name)(**options)
