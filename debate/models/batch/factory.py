"""Making a batch run's model: :func:`batching` wraps an OpenAI or Anthropic backend.

Each provider's part (its request body, its reply, its batch client) lives beside its
backend: :func:`debate.models.openai_batch.openai_batching`,
:func:`debate.models.anthropic_batch.anthropic_batching`. The backend itself also makes
the synchronous retries of failed items (``BatchPolicy.retry == "sync"``), under the
run's limits and per-call timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from debate.models.batch.journal import BatchJournal
from debate.models.batch.policy import BatchPolicy
from debate.models.batch.scheduler import BatchingModel
from debate.models.middleware import Limits
from debate.models.types import (
    Capabilities,
    ChatModel,
    Completion,
    Message,
    SamplingParams,
    capabilities_of,
    close_model,
)

__all__ = ["batching"]


def batching(model: Any, policy: BatchPolicy | None = None,
             journal: BatchJournal | None = None, *, limits: Limits | None = None,
             timeout: float | None = None) -> BatchingModel:
    """Batch the calls of an OpenAI or Anthropic backend.

    ``model`` also makes the retries of failed items when ``policy.retry`` is ``sync``,
    under ``limits`` (the run's in-flight cap and rates) and ``timeout`` per call.
    """
    from debate.models.anthropic_backend import AnthropicModel
    from debate.models.middleware import Limited

    direct: ChatModel = _Timed(model, timeout) if timeout is not None else model
    if limits is not None:
        direct = Limited(direct, limits)

    if isinstance(model, AnthropicModel):
        from debate.models.anthropic_batch import anthropic_batching

        return anthropic_batching(model, policy, journal, direct)
    from debate.models.openai_batch import openai_batching

    return openai_batching(model, policy, journal, direct)


class _Timed:
    """A synchronous call that gives up after ``timeout`` seconds.

    Its ``TimeoutError`` is counted and retried by the retry layer, as any timeout;
    the wait for a slot (``Limited``, outside this) is not timed.
    """

    def __init__(self, model: ChatModel, timeout: float) -> None:
        self.model = model
        self.name = model.name
        self.timeout = timeout

    @property
    def capabilities(self) -> Capabilities:
        """The synchronous backend's capabilities."""
        return capabilities_of(self.model)

    async def generate(self, messages: Sequence[Message], params: SamplingParams) -> Completion:
        return await asyncio.wait_for(self.model.generate(messages, params), self.timeout)

    async def aclose(self) -> None:
        await close_model(self.model)
