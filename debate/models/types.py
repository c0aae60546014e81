"""Core value types of the model layer: messages, sampling parameters, completions.

These are the only types a backend sees. ``ChatModel`` is the one interface
every backend implements::

    async def generate(messages: Sequence[Message], params: SamplingParams) -> Completion

A backend that holds resources (an HTTP session, an SDK client, an engine)
also has ``aclose()`` and is an async context manager (:class:`Closeable`);
the middleware forwards both to the backend it wraps. Whoever builds a model
closes it: ``async with model: ...`` or ``await close_model(model)``, which
also accepts models that hold nothing and have no ``aclose()``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Protocol, Self, runtime_checkable

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
)

__all__ = [
    "ChatModel",
    "Closeable",
    "Completion",
    "Message",
    "SamplingParams",
    "TokenLogprob",
    "Usage",
    "close_model",
]

Role = Literal["system", "user", "assistant"]


class Message(BaseModel):
    """One chat message, exactly ``{role, content}``."""

    model_config = ConfigDict(frozen=True)

    role: Role
    """Who speaks: ``system``, ``user`` or ``assistant``."""
    content: str
    """The text of the message."""


class SamplingParams(BaseModel):
    """How to sample one completion. ``None`` means "the backend's default"."""

    model_config = ConfigDict(frozen=True)

    temperature: float | None = None
    """Sampling temperature."""
    top_p: float | None = None
    """Nucleus sampling mass."""
    max_tokens: int | None = 512
    """Upper bound on completion tokens."""
    seed: int | None = None
    """Sampling seed, for backends that accept one."""
    stop: tuple[str, ...] = ()
    """Stop sequences."""
    logprobs: bool = False
    """Ask for per-token log-probabilities of the completion."""
    top_logprobs: int | None = None
    """With ``logprobs``: also the this-many most likely tokens at each position (for
    token entropy); backends without them return the chosen tokens' only."""
    json_schema: dict[str, Any] | None = None
    """A JSON schema the reply should follow. Backends with structured output
    enforce it (OpenAI/vLLM ``response_format``, llama.cpp grammars); the others
    ignore it, and the reply goes through a tolerant parser either way."""
    sampler: str = ""
    """Identity of the sampler (the agent's name: agent and sample index). Part of the
    cache key, never sent to the backend: agents with identical prompts get distinct
    samples and a re-run replays each one exactly (the cache key names it ``slot``, its
    former name: :func:`debate.models.cache.cache_key`)."""


class Usage(BaseModel):
    """Token counts of one call."""

    prompt_tokens: int = 0
    """Tokens in the prompt."""
    completion_tokens: int = 0
    """Tokens generated."""
    cached_tokens: int = 0
    """Prompt tokens the backend read from its prompt cache (part of ``prompt_tokens``;
    0 when the backend does not say)."""

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens


class TokenLogprob(BaseModel):
    """One generated token and its log-probability."""

    token: str
    """The token's text."""
    logprob: float
    """Natural-log probability of the token."""
    top: dict[str, float] | None = None
    """Alternative tokens and their log-probabilities, when the backend gives them."""


class Completion(BaseModel):
    """What one model call returned."""

    text: str
    """The generated text (empty string when the model said nothing)."""
    finish_reason: str | None = None
    """``stop``, ``length``, ``content_filter``... as the backend reports it."""
    usage: Usage = Field(default_factory=Usage)
    """Token counts."""
    latency: float = 0.0
    """Seconds the call took (0 for cache hits: see ``cached``)."""
    model: str = ""
    """The model that answered, as the backend names it."""
    logprobs: list[TokenLogprob] | None = None
    """Per-token log-probabilities, when requested and available."""
    cached: bool = False
    """True when this completion was replayed from the response cache."""
    batch: bool = False
    """True when the call went through a Batch API (priced at the batch rate)."""


@runtime_checkable
class ChatModel(Protocol):
    """The one interface every backend and middleware implements."""

    name: str
    """A stable, secret-free name of the endpoint and model (used in cache keys)."""

    async def generate(self, messages: Sequence[Message], params: SamplingParams) -> Completion:
        """Return one completion for ``messages`` sampled with ``params``."""
        ...


class Closeable:
    """``async with model:`` around :meth:`aclose`; backends and middleware inherit it.

    Closing releases what the model holds; a closed model opens again on its
    next call, so closing is always safe, including twice.
    """

    async def aclose(self) -> None:
        """Release the model's resources (nothing to release here)."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


async def close_model(model: object) -> None:
    """Close ``model`` if it has an ``aclose()`` (a custom :class:`ChatModel` need not)."""
    close = getattr(model, "aclose", None)
    if close is not None:
        await close()
