"""Deterministic fake models: test protocols and examples without any backend.

``ScriptedModel`` answers from a list (one reply per call, in order), a table
(first key found in the last user message wins), or a function of the
messages (sync, or async: a call can then wait for a test's signal, e.g. an
``asyncio.Event``). It records every call, so tests assert on the prompts
actually sent. Give each agent its own model: agents of a round run concurrently, so
a single shared list would make replies depend on scheduling.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from debate.errors import ConfigError
from debate.models.backends_registry import backend
from debate.models.spec import ModelSpec
from debate.models.types import Capabilities, Completion, Message, SamplingParams, Usage

__all__ = ["Call", "ScriptedModel", "first_number_reply", "register_script", "script_names",
           "scripted_backend", "scripted_from_name"]

Reply = Callable[[Sequence[Message], SamplingParams], str | Awaitable[str]]


@dataclass(frozen=True)
class Call:
    """One recorded call."""

    messages: tuple[Message, ...]
    params: SamplingParams


class ScriptedModel:
    """A deterministic :class:`ChatModel` for tests and examples.

    Args:
        replies: a string (always), a list (the i-th call gets the i-th reply),
            a mapping (substring of the last user message -> reply) or a
            function ``(messages, params) -> str`` (or an async one).
        name: the model's name (``scripted:NAME``); part of cache keys.
        latency: seconds each call sleeps (``asyncio.sleep``).
        failures: exceptions raised by the first calls, in order (``None`` = succeed).
        record: keep every call in ``calls`` (off for long runs: it holds every prompt).

    Usage counts whitespace-separated words, so token formulas are checkable.

    """

    capabilities: ClassVar[Capabilities] = Capabilities(in_process=True)
    """Replies are made in this process: no default per-attempt timeout."""

    def __init__(
        self,
        replies: str | Sequence[str] | Mapping[str, str] | Reply,
        *,
        name: str = "scripted",
        latency: float = 0.0,
        failures: Sequence[BaseException | None] = (),
        record: bool = True,
    ) -> None:
        self.name = name if name.startswith("scripted:") else f"scripted:{name}"
        self.latency = latency
        self.calls: list[Call] = []
        self.record = record
        self.call_count = 0
        self._failures = list(failures)
        self._reply = _as_function(replies)

    async def generate(self, messages: Sequence[Message], params: SamplingParams) -> Completion:
        """Record the call, maybe fail or sleep, then reply."""
        index = self.call_count
        self.call_count += 1
        if self.record:
            self.calls.append(Call(tuple(messages), params))
        if self.latency:
            await asyncio.sleep(self.latency)
        if index < len(self._failures) and self._failures[index] is not None:
            raise self._failures[index]  # type: ignore[misc]
        text = self._reply(messages, params)
        if not isinstance(text, str):
            text = await text
        return Completion(
            text=text,
            finish_reason="stop",
            usage=Usage(prompt_tokens=sum(len(m.content.split()) for m in messages),
                        completion_tokens=len(text.split())),
            latency=self.latency,
            model=self.name,
        )


def _as_function(replies: str | Sequence[str] | Mapping[str, str] | Reply) -> Reply:
    if callable(replies):
        return replies
    if isinstance(replies, str):
        constant = replies
        return lambda messages, params: constant
    if isinstance(replies, Mapping):
        table = dict(replies)

        def lookup(messages: Sequence[Message], params: SamplingParams) -> str:
            last = next((m.content for m in reversed(messages) if m.role == "user"), "")
            for key, reply in table.items():
                if key in last:
                    return reply
            raise KeyError(f"no scripted reply matches the last user message: {last[:200]!r}")

        return lookup
    queue = list(replies)
    position = iter(range(len(queue)))

    def next_reply(messages: Sequence[Message], params: SamplingParams) -> str:
        i = next(position, None)
        if i is None:
            raise IndexError(f"scripted model ran out of replies after {len(queue)} calls")
        return queue[i]

    return next_reply


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def first_number_reply(prompt: str) -> str:
    r"""``The answer is \boxed{N}``, N the first number in ``prompt`` (0 when it has none)."""
    match = _NUMBER.search(prompt)
    return f"The answer is \\boxed{{{match.group() if match else 0}}}."


def _first_number(messages: Sequence[Message], params: SamplingParams) -> str:
    """Answers the first number of the first user message, boxed (0 if it has none)."""
    return first_number_reply(next((m.content for m in messages if m.role == "user"), ""))


def _echo(messages: Sequence[Message], params: SamplingParams) -> str:
    """Replies with the last user message, verbatim."""
    return next((m.content for m in reversed(messages) if m.role == "user"), "")


_SCRIPTS: dict[str, Reply] = {"echo": _echo, "first-number": _first_number}


def register_script(name: str, reply: Reply) -> None:
    """Make ``scripted:NAME`` available as a model spec."""
    _SCRIPTS[name] = reply


def script_names() -> dict[str, str]:
    """Each ``scripted:NAME`` with what it replies (its function's first docstring line)."""
    described = {name: (reply.__doc__ or "").strip().splitlines()[0] if reply.__doc__ else ""
                 for name, reply in sorted(_SCRIPTS.items())}
    return {**described, "reply=TEXT": "Always replies TEXT."}


def scripted_from_name(name: str) -> ScriptedModel:
    """The model behind ``scripted:NAME``; ``reply=TEXT`` always answers TEXT."""
    if name.startswith("reply="):
        return ScriptedModel(name.removeprefix("reply="), name=name, record=False)
    if name not in _SCRIPTS:
        raise ConfigError(
            f"unknown script {name!r}; known: {sorted(_SCRIPTS)} or reply=TEXT "
            "(register more with debate.testing.register_script)"
        )
    return ScriptedModel(_SCRIPTS[name], name=name, record=False)


@backend("scripted", local=True)
def scripted_backend(spec: ModelSpec, **options: Any) -> ScriptedModel:
    """The ``scripted:`` backend: the model :func:`scripted_from_name` builds (no options)."""
    if options:
        raise ConfigError(f"{spec} takes no backend options, got {sorted(options)}")
    return scripted_from_name(spec.model)
