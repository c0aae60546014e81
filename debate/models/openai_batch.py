"""OpenAI's Batch API (Files + Batches), beside :mod:`debate.models.openai_backend`.

Any OpenAI-compatible server with ``/v1/batches`` speaks it too. A batch is made in
two requests: the requests are uploaded as a JSONL file, then that file is made a
batch. A batch whose create request got no reply is found again by its
``input_file_id``, the key of its journaled intent: exact.
:func:`openai_batching` batches an :class:`~debate.models.openai_backend.OpenAIModel`'s
calls with :class:`~debate.models.batch.BatchingModel`.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from typing import Any

import orjson

from debate.errors import RetryableError, classify_status
from debate.models.batch.api import Intent, Items, Lookup, Outcome
from debate.models.batch.client import HTTPBatches
from debate.models.batch.journal import BatchJournal
from debate.models.batch.policy import BatchPolicy
from debate.models.batch.scheduler import BatchingModel
from debate.models.openai_backend import OpenAIModel, parse_response, request_body
from debate.models.types import ChatModel, Completion, Message, SamplingParams

__all__ = ["OpenAIBatches", "openai_batching"]


class OpenAIBatches(HTTPBatches):
    """OpenAI's Files + Batches endpoints (and any OpenAI-compatible server's ``/v1/batches``).

    A batch is made in two requests: the requests are uploaded as a file
    (:meth:`prepare`), then made a batch (:meth:`create`); the batch of a file is
    found by its ``input_file_id`` (:meth:`find`).
    """

    max_items = 50_000
    """The most requests a batch may hold."""
    max_bytes = 190 * 1024 * 1024
    """The most bytes of requests a batch may hold (the input file's limit is 200 MB)."""
    list_path = "/batches"

    def _headers(self) -> dict[str, str]:
        return ({"Authorization": f"Bearer {self.api_key.get_secret_value()}"}
                if self.api_key is not None else {})

    async def prepare(self, items: Items) -> str:
        """Upload the requests as a batch input file; its id."""
        import aiohttp

        lines = b"".join(orjson.dumps({"custom_id": custom_id, "method": "POST",
                                       "url": "/v1/chat/completions", "body": body}) + b"\n"
                         for custom_id, body in items)
        form = aiohttp.FormData()
        form.add_field("purpose", "batch")
        form.add_field("file", lines, filename="requests.jsonl",
                       content_type="application/jsonl")
        upload = await self._json("POST", "/files", data=form)
        return str(upload["id"])

    async def create(self, key: str, items: Items = ()) -> str:
        """Create the batch of the uploaded input file ``key``; its id."""
        batch = await self._json("POST", "/batches", json={
            "input_file_id": key, "endpoint": "/v1/chat/completions",
            "completion_window": "24h"})
        return str(batch["id"])

    async def find(self, intent: Intent, journaled: Collection[str] = ()) -> Lookup:
        """The batch made of the intent's input file, among those created since it."""
        async for batch in self._listed(intent.at - self.clock_skew):
            if batch.get("input_file_id") == intent.key:
                return Lookup(str(batch["id"]))
        return Lookup()

    def _created(self, batch: dict[str, Any]) -> float:
        created = batch.get("created_at")
        return float(created) if isinstance(created, int | float) else float("inf")

    async def state(self, batch_id: str) -> tuple[bool, dict[str, Any]]:
        """(whether the batch has ended, the batch object)."""
        batch = await self._json("GET", f"/batches/{batch_id}")
        return batch["status"] in ("completed", "failed", "expired", "cancelled"), batch

    async def results(self, batch: dict[str, Any]) -> dict[str, Outcome]:
        """Each item's response body, or the error it ended with, by ``custom_id``."""
        outcomes: dict[str, Outcome] = {}
        for key in ("output_file_id", "error_file_id"):
            if not batch.get(key):
                continue
            for line in (await self._text(f"/files/{batch[key]}/content")).splitlines():
                if line.strip():
                    item = json.loads(line)
                    outcomes[str(item["custom_id"])] = self._outcome(item)
        return outcomes

    def _outcome(self, item: dict[str, Any]) -> Outcome:
        response, error = item.get("response"), item.get("error")
        if response and response.get("status_code") == 200:
            return dict(response["body"])
        if response:  # as the same request would have failed synchronously (400: fatal)
            status = int(response.get("status_code") or 500)
            return classify_status(  # retryable: into the very next batch, no backoff
                status, f"batch item failed with HTTP {status}: "
                f"{str(response.get('body'))[:300]}", endpoint=self.endpoint, retry_after=0.0)
        code = (error or {}).get("code", "unknown")
        return RetryableError(f"batch item not processed ({code})", endpoint=self.endpoint,
                              retry_after=0.0)

    def failure(self, batch: dict[str, Any]) -> str:
        """Why a batch ended without some of its items (empty when it completed)."""
        status = str(batch.get("status", ""))
        if status == "completed":
            return ""
        errors = (batch.get("errors") or {}).get("data") or []
        reasons = "; ".join(str(e.get("message") or e.get("code")) for e in errors[:3]
                            if isinstance(e, dict))
        return f"{status}: {reasons}" if reasons else status


def openai_batching(model: OpenAIModel, policy: BatchPolicy | None,
                    journal: BatchJournal | None, direct: ChatModel) -> BatchingModel:
    """Batch the calls of an :class:`~debate.models.openai_backend.OpenAIModel`.

    ``direct`` makes the synchronous retries of failed items (``policy.retry == "sync"``).
    """

    def body(messages: Sequence[Message], params: SamplingParams) -> dict[str, Any]:
        return {**request_body(model.model, messages, params, model.structured),
                **model.extra_body}

    def parse(data: dict[str, Any]) -> Completion:
        completion = parse_response(data, endpoint=model.endpoint, latency=0.0)
        completion.batch = True  # priced at the batch rate
        return completion

    return BatchingModel(model.name, body, parse,
                         OpenAIBatches(model.base_url, model.api_key, model.endpoint), policy,
                         direct=direct, journal=journal)
