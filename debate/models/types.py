"""Core value types of the model layer: messages, sampling parameters, completions.

These are the only types a backend sees. ``ChatModel`` is the one interface
every backend implements::

    async def generate(messages: Sequence[Message], params: SamplingParams) -> Completion

A backend that holds resources (an HTTP session, an SDK client, an engine)
also has ``aclose()`` and is an async context manager (:class:`Closeable`);
the middleware forwards both to the backend it wraps. Whoever builds a model
closes it: ``async with model: ...`` or ``await close_model(model)``, which
also accepts models that hold nothing and have no ``aclose()``.

What a backend can do that changes how it is driven (a Batch API, in-process
generation, its own per-replica limits) it declares in ``capabilities``, a
:class:`Capabilities`; middleware reports its backend's. A model that declares
nothing has the defaults: read them with :func:`capabilities_of`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, Self, cast, runtime_checkable

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
)

from debate.errors import ConfigError

__all__ = [
    "DEFAULT_CAPABILITIES",
    "Capabilities",
    "ChatModel",
    "Closeable",
    "Completion",
    "Message",
    "SamplingParams",
    "SizedModel",
    "TokenLogprob",
    "Usage",
    "capabilities_of",
    "close_model",
    "size_model",
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
    """The one interface every backend and middleware implements.

    Optionally, a model also has ``capabilities``, a :class:`Capabilities` saying how it
    is to be driven (the built-in backends declare theirs, middleware reports its
    backend's); it is not part of the protocol, so a model with only ``name`` and
    ``generate`` is a ``ChatModel`` and gets :data:`DEFAULT_CAPABILITIES`
    (see :func:`capabilities_of`).
    """

    name: str
    """A stable, secret-free name of the endpoint and model (used in cache keys)."""

    async def generate(self, messages: Sequence[Message], params: SamplingParams) -> Completion:
        """Return one completion for ``messages`` sampled with ``params``."""
        ...


@dataclass(frozen=True)
class Capabilities:
    """What a backend declares about how it is to be driven (all off by default).

    A backend declares them as ``capabilities`` (a class attribute, or an instance
    attribute when they depend on how it was built); middleware forwards its inner
    model's. :func:`~debate.models.wrap` reads them to choose limits and timeouts.
    """

    batched: bool = False
    """Calls go through a provider's Batch API and may take hours: no in-flight cap and
    no per-attempt timeout (a batch is watched until it ends)."""
    in_process: bool = False
    """The model runs in this process (embedded llama.cpp, in-process vLLM, scripted):
    its calls cannot hang on a network, so no per-attempt timeout unless one is set."""
    limits_each_endpoint: bool = False
    """The backend applies the limits to each of its replicas itself (an endpoint pool):
    no in-flight cap around it."""
    sized_to_users: bool = False
    """The backend serves a fixed number of calls at once, sized to the agents that use
    it (the embedded llama.cpp model): it is a :class:`SizedModel`, and the runners tell
    it how many agents use it (:func:`size_model`)."""


DEFAULT_CAPABILITIES = Capabilities()
"""The capabilities of a model that declares none."""


_FORMER_FLAGS = ("batched", "in_process", "limits_each_endpoint")
"""Attributes a backend set before capabilities were declared (debatelab < 0.1.0)."""


def capabilities_of(model: object) -> Capabilities:
    """``model.capabilities`` when it declares them, else :data:`DEFAULT_CAPABILITIES`.

    Raises:
        ConfigError: ``capabilities`` is not a :class:`Capabilities`, or the model
            declares none but sets one of the former flag attributes (``in_process =
            True``...), which would otherwise be ignored in silence.

    """
    declared = getattr(model, "capabilities", None)
    if isinstance(declared, Capabilities):
        return declared
    name = getattr(model, "name", type(model).__name__)
    if declared is not None:
        raise ConfigError(f"model {name!r}: capabilities must be a debate.models.Capabilities, "
                          f"not {type(declared).__name__}")
    former = [flag for flag in _FORMER_FLAGS if getattr(model, flag, None) is True]
    if former:
        wanted = ", ".join(f"{flag}=True" for flag in former)
        raise ConfigError(f"model {name!r} sets {', '.join(former)} as attributes, which are "
                          f"no longer read: declare capabilities = Capabilities({wanted}) "
                          "(debate.models.Capabilities)")
    return DEFAULT_CAPABILITIES


class SizedModel(ChatModel, Protocol):
    """A model that declares ``sized_to_users``: it sizes itself to its agents."""

    def size_for(self, users: int) -> None:
        """Serve ``users`` agents (say, one slot each, up to the backend's own cap)."""
        ...


def size_model(model: ChatModel, users: int) -> None:
    """Tell ``model`` that ``users`` agents use it, if it declares ``sized_to_users``."""
    if capabilities_of(model).sized_to_users:
        cast(SizedModel, model).size_for(users)


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
