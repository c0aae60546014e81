"""Anthropic's Message Batches (``/v1/messages/batches``), beside its backend.

:mod:`debate.models.anthropic_backend` makes the synchronous calls; this, the batches.

One request makes a batch; its intent's key is only a local id. Finding the batch of
an intent whose create request got no reply: Anthropic's list (``GET
/v1/messages/batches``, newest first) shows a batch's ``created_at`` and
``request_counts`` but not its ``custom_id`` values; only its results carry them, and
those can be read once the batch has ended. A *candidate* is a batch created at or
after the intent (less :attr:`AnthropicBatches.clock_skew`), not already journaled, of as
many requests as the intent. A candidate that has ended is the intent's batch if its
results hold exactly the intent's ``custom_id`` values (each is a hash of its request and
its place in a debate: another batch of the same set is a journaled one, excluded, or one
of the very same requests, whose answers serve as well); its results, read to tell, are
then its answers. While a candidate still runs it cannot be told apart, and the answer is
*undecided*: the caller asks again later and sends nothing meanwhile. So matching is
exact, a batch is never paid for twice, and the price of the doubt is a wait for a batch
that may be ours: after a lost reply it almost always is, and its answers were to be
waited for anyway.

:func:`anthropic_batching` batches an
:class:`~debate.models.anthropic_backend.AnthropicModel`'s calls with
:class:`~debate.models.batch.BatchingModel`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from pydantic import SecretStr

from debate.errors import FatalTransportError, RetryableError
from debate.models.anthropic_backend import ANTHROPIC_URL, AnthropicModel
from debate.models.batch.api import Intent, Items, Lookup, Outcome
from debate.models.batch.client import HTTPBatches
from debate.models.batch.journal import BatchJournal
from debate.models.batch.policy import BatchPolicy
from debate.models.batch.scheduler import BatchingModel
from debate.models.types import ChatModel, Completion, Message, SamplingParams

__all__ = ["AnthropicBatches", "anthropic_batching"]


class AnthropicBatches(HTTPBatches):
    """Anthropic's Message Batches endpoints (``/v1/messages/batches``).

    One request makes the batch (:meth:`create`); :meth:`prepare` only names the
    intent. A batch is found by its requests' ``custom_id`` values, read from its results
    once it has ended (see the module docstring).
    """

    max_items = 100_000
    """The most requests a batch may hold."""
    max_bytes = 245 * 1024 * 1024
    """The most bytes of requests a batch may hold (the request's limit is 256 MB)."""
    list_path = "/v1/messages/batches"
    after = "after_id"

    def __init__(self, base_url: str, api_key: SecretStr | None, endpoint: str) -> None:
        super().__init__(base_url, api_key, endpoint)
        self._read: dict[str, dict[str, Outcome]] = {}  # batch id -> results read by find
        self._others: set[tuple[str, str]] = set()  # (intent, batch) told apart

    def _headers(self) -> dict[str, str]:
        headers = {"anthropic-version": "2023-06-01"}
        if self.api_key is not None:
            headers["x-api-key"] = self.api_key.get_secret_value()
        return headers

    async def prepare(self, items: Items) -> str:
        """A fresh name for the batch's intent (nothing is sent)."""
        return f"intent_{uuid.uuid4().hex}"

    async def create(self, key: str, items: Items) -> str:
        """Create the batch (the requests go in its body); its id."""
        batch = await self._json("POST", "/v1/messages/batches", json={
            "requests": [{"custom_id": custom_id, "params": body} for custom_id, body in items]})
        return str(batch["id"])

    async def find(self, intent: Intent, journaled: Collection[str] = ()) -> Lookup:
        """The batch whose results hold exactly the intent's ``custom_id`` values.

        Candidates are the batches created since the intent (less ``clock_skew``),
        not ``journaled``, of as many requests; those still running are ``undecided``.
        """
        wanted = set(intent.items)
        undecided: list[str] = []
        async for batch in self._listed(intent.at - self.clock_skew):
            batch_id = str(batch["id"])
            counts = batch.get("request_counts") or {}
            if (batch_id in journaled or (intent.key, batch_id) in self._others
                    or sum(int(n or 0) for n in counts.values()) != len(wanted)):
                continue
            if batch.get("processing_status") != "ended":  # its results cannot be read yet
                undecided.append(batch_id)
                continue
            outcomes = self._read.get(batch_id) or await self._download(batch_id)
            if set(outcomes) == wanted:
                self._read[batch_id] = outcomes  # its answers: read once
                return Lookup(batch_id)
            self._others.add((intent.key, batch_id))
        return Lookup(None, tuple(undecided))

    def _created(self, batch: dict[str, Any]) -> float:
        try:  # RFC 3339: "2024-08-20T18:37:24.100435Z"
            return datetime.fromisoformat(str(batch["created_at"])).timestamp()
        except (KeyError, ValueError):
            return float("inf")

    async def state(self, batch_id: str) -> tuple[bool, dict[str, Any]]:
        """(whether the batch has ended, the batch object)."""
        batch = await self._json("GET", f"/v1/messages/batches/{batch_id}")
        return batch["processing_status"] == "ended", batch

    async def results(self, batch: dict[str, Any]) -> dict[str, Outcome]:
        """Each item's message, or the error it ended with, by ``custom_id``."""
        read = self._read.pop(str(batch["id"]), None)
        return read if read is not None else await self._download(str(batch["id"]))

    async def _download(self, batch_id: str) -> dict[str, Outcome]:
        outcomes: dict[str, Outcome] = {}
        for line in (await self._text(f"/v1/messages/batches/{batch_id}/results")
                     ).splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            result = item.get("result") or {}
            if result.get("type") == "succeeded":
                outcomes[str(item["custom_id"])] = dict(result["message"])
                continue
            detail = str(result.get("error") or "")[:300]
            text = f"batch item {result.get('type', 'missing')} {detail}".rstrip()
            if "invalid_request_error" in detail:  # as the request would fail synchronously
                outcomes[str(item["custom_id"])] = FatalTransportError(
                    text, endpoint=self.endpoint, status=400)
            else:  # errored on the server's side, expired or canceled: sent again
                outcomes[str(item["custom_id"])] = RetryableError(
                    text, endpoint=self.endpoint, retry_after=0.0)
        return outcomes

    def failure(self, batch: dict[str, Any]) -> str:
        """Why a batch ended without some of its items (its request counts)."""
        counts = batch.get("request_counts") or {}
        return ", ".join(f"{counts[k]} {k}" for k in ("errored", "canceled", "expired")
                         if counts.get(k))


def anthropic_batching(model: AnthropicModel, policy: BatchPolicy | None,
                       journal: BatchJournal | None, direct: ChatModel) -> BatchingModel:
    """Batch the calls of an :class:`~debate.models.anthropic_backend.AnthropicModel`.

    ``direct`` makes the synchronous retries of failed items (``policy.retry == "sync"``).
    """

    def params(messages: Sequence[Message], sampling: SamplingParams) -> dict[str, Any]:
        typed, extra = model.request(messages, sampling)
        return {**typed, **extra}

    def message(data: dict[str, Any]) -> Completion:
        completion = model.completion(data)
        completion.batch = True  # priced at the batch rate
        return completion

    client = AnthropicBatches(model.base_url or ANTHROPIC_URL, model.api_key, model.endpoint)
    return BatchingModel(model.name, params, message, client, policy, direct=direct,
                         journal=journal)
