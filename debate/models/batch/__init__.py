"""Batch APIs: the calls of many debates' next step sent as one batch, at the batch price.

OpenAI's Batch API (and any OpenAI-compatible server with ``/v1/batches``) and
Anthropic's Message Batches answer many requests within 24 hours at half the price. A
debate is multi-turn, so a batch carries one *step* of many debates: every unfinished
debate advances to its next model calls, those calls go out as one batch, the replies
come back, and the debates advance again.

The package, by concern:

- :mod:`~debate.models.batch.policy`: :class:`BatchPolicy`, when to submit, how to poll,
  the batch price.
- :mod:`~debate.models.batch.journal`: :class:`BatchJournal`, the batches a run made
  (and was about to make), so a killed run never pays for a batch twice.
- :mod:`~debate.models.batch.scheduler`: :class:`BatchingModel`, the model whose calls
  are queued, submitted, polled and answered.
- :mod:`~debate.models.batch.api`: :class:`BatchAPI`, the provider-neutral protocol
  (:class:`Intent`, :class:`Lookup`, :data:`Outcome`), and
  :mod:`~debate.models.batch.client`, the HTTP plumbing its clients share.
- :mod:`~debate.models.batch.factory`: :func:`batching`, which wraps a backend.

Each provider's client lives beside its backend: :class:`OpenAIBatches` in
:mod:`debate.models.openai_batch`, :class:`AnthropicBatches` in
:mod:`debate.models.anthropic_batch`; both are importable from here (loaded on first
use).

:func:`debate.models.wrap` gives a batching model no in-flight cap and no
per-attempt timeout (a batch may take hours); its completions are marked
``batch``, and a run prices them at :attr:`BatchPolicy.discount` of the
synchronous price.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from debate.models.batch.api import BatchAPI, Intent, Lookup, Outcome
from debate.models.batch.factory import batching
from debate.models.batch.journal import BatchJournal
from debate.models.batch.policy import BatchPolicy
from debate.models.batch.scheduler import BatchingModel

if TYPE_CHECKING:
    from debate.models.anthropic_batch import AnthropicBatches
    from debate.models.openai_batch import OpenAIBatches

__all__ = ["AnthropicBatches", "BatchAPI", "BatchJournal", "BatchPolicy", "BatchingModel",
           "Intent", "Lookup", "OpenAIBatches", "Outcome", "batching"]

_PROVIDERS = {"AnthropicBatches": "debate.models.anthropic_batch",
              "OpenAIBatches": "debate.models.openai_batch"}
"""The provider clients, loaded on first use: their modules import this package."""


def __getattr__(name: str) -> Any:
    """A provider's batch client, imported from beside its backend when first asked for."""
    module = _PROVIDERS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
