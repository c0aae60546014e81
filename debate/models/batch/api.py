"""The provider-neutral Batch API: what :class:`~debate.models.batch.BatchingModel` asks.

:class:`~debate.models.batch.BatchingModel` makes every batch the same way, whatever
the provider: :meth:`~BatchAPI.prepare` the requests (OpenAI uploads them as a file;
Anthropic sends nothing yet), journal an :class:`Intent` naming their ``custom_id`` values,
:meth:`~BatchAPI.create` the batch, journal the batch. If ``create`` raises (a lost
reply, a timeout, a 5xx) or the process dies between the two journal lines, the batch may or
may not exist, and :meth:`~BatchAPI.find` asks the provider before any of its requests
is sent again. How a batch is recognised is each provider's business:

- OpenAI lists each batch with its ``input_file_id``, the intent's key: exact
  (:mod:`debate.models.openai_batch`).
- Anthropic's list does not show a batch's ``custom_id`` values; its results, once it
  has ended, are matched against the intent's, and a batch still running leaves the
  answer *undecided* (:mod:`debate.models.anthropic_batch`).

The HTTP plumbing both share is :class:`~debate.models.batch.client.HTTPBatches`.

Each provider's client states how large a batch may be (:attr:`BatchAPI.max_items`,
:attr:`BatchAPI.max_bytes`); a client that does not is held to :data:`DEFAULT_MAX_ITEMS`
and :data:`DEFAULT_MAX_BYTES`, OpenAI's documented limits.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from debate.errors import TransportError

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_ITEMS", "BatchAPI", "Intent", "Items", "Lookup",
           "Outcome"]

DEFAULT_MAX_ITEMS = 50_000
"""The most requests a batch holds when its client states no limit (OpenAI's limit)."""
DEFAULT_MAX_BYTES = 190 * 1024 * 1024
"""The most bytes of requests a batch holds when its client states no limit (OpenAI's
input file may hold 200 MB)."""

Outcome = dict[str, Any] | TransportError
"""A batch item's response body, or why it has none."""

Items = Sequence[tuple[str, dict[str, Any]]]
"""A batch's requests: ``(custom_id, request body)``."""


@dataclass(frozen=True)
class Intent:
    """A batch about to be created, journaled before the create request is sent."""

    key: str
    """What names it: OpenAI's uploaded input file; for Anthropic a local id."""
    items: tuple[str, ...]
    """The ``custom_id`` values of its requests."""
    at: float
    """When it was journaled (Unix seconds): the batch, if made, was created after."""


@dataclass(frozen=True)
class Lookup:
    """What a provider's batches tell about an :class:`Intent`."""

    batch: str | None = None
    """The batch made of it, if one was found."""
    undecided: tuple[str, ...] = ()
    """Batches that may be it but cannot be told apart yet (they still run). With no
    ``batch`` and none of these, no batch was made of it."""


class BatchAPI(Protocol):
    """A provider's batch endpoints, as :class:`~debate.models.batch.BatchingModel` uses them."""

    max_items: int
    """The most requests a batch may hold (without it: :data:`DEFAULT_MAX_ITEMS`)."""
    max_bytes: int
    """The most bytes of requests a batch may hold (without it: :data:`DEFAULT_MAX_BYTES`)."""

    async def prepare(self, items: Items) -> str:
        """Make ``items`` ready to become a batch; the key of its :class:`Intent`."""
        ...

    async def create(self, key: str, items: Items) -> str:
        """Make the batch of a prepared ``key`` (its ``items``); its id."""
        ...

    async def find(self, intent: Intent, journaled: Collection[str]) -> Lookup:
        """The batch made of ``intent``, if any; ``journaled``: batch ids known to be others'."""
        ...

    async def state(self, batch_id: str) -> tuple[bool, dict[str, Any]]:
        """(whether the batch has ended, the batch object)."""
        ...

    async def results(self, batch: dict[str, Any]) -> dict[str, Outcome]:
        """Each item's response body, or the error it ended with, by ``custom_id``."""
        ...

    def failure(self, batch: dict[str, Any]) -> str:
        """Why a batch ended without some of its items (empty when it completed)."""
        ...

    async def aclose(self) -> None:
        """Close the connections."""
        ...
