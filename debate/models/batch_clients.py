"""Each provider's batch endpoints: OpenAI's Files + Batches, Anthropic's Message Batches.

:class:`~debate.models.batch.BatchingModel` makes every batch the same way, whatever
the provider: :meth:`~BatchAPI.prepare` the requests (OpenAI uploads them as a file;
Anthropic sends nothing yet), journal an :class:`Intent` naming their ``custom_id`` values,
:meth:`~BatchAPI.create` the batch, journal the batch. If ``create`` raises (a lost
reply, a timeout, a 5xx) or the process dies between the two journal lines, the batch may or
may not exist, and :meth:`~BatchAPI.find` asks the provider before any of its requests
is sent again. How a batch is recognised is each provider's business:

- OpenAI lists each batch with its ``input_file_id``, the intent's key: exact.
- Anthropic's list (``GET /v1/messages/batches``, newest first) shows a batch's
  ``created_at`` and ``request_counts`` but not its ``custom_id`` values; only its results
  carry them, and those can be read once the batch has ended. A *candidate* is a batch
  created at or after the intent (less :attr:`AnthropicBatches.clock_skew`), not already
  journaled, of as many requests as the intent. A candidate that has ended is the
  intent's batch if its results hold exactly the intent's ``custom_id`` values (each is a
  hash of its request and its place in a debate: another batch of the same set is a
  journaled one, excluded, or one of the very same requests, whose answers serve as
  well); its results, read to tell, are then its answers. While a candidate still runs it
  cannot be told apart, and the answer is *undecided*: the caller asks again later and
  sends nothing meanwhile. So matching is exact, a batch is never paid for twice, and
  the price of the doubt is a wait for a batch that may be ours: after a lost reply it
  almost always is, and its answers were to be waited for anyway.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import orjson
from pydantic import SecretStr

from debate.errors import (
    FatalTransportError,
    RetryableError,
    TransportError,
    classify_status,
    connection_error,
)

__all__ = ["AnthropicBatches", "BatchAPI", "Intent", "Lookup", "OpenAIBatches", "Outcome"]

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


def _TIMEOUT() -> Any:  # noqa: N802 - a constant, made when aiohttp is imported
    """No limit on a whole request (a results file may be large), but on its silences."""
    import aiohttp

    return aiohttp.ClientTimeout(total=None, sock_connect=60, sock_read=300)


class _HTTPBatches:
    """One provider's batch endpoints at one base URL (aiohttp; opened on first use)."""

    list_path = ""
    """Where the batches are listed, newest first."""
    after = "after"
    """The listing's cursor parameter."""
    clock_skew = 300.0
    """Seconds the provider's clock may be behind ours: a batch listed as created up to
    this long before its intent was journaled may still be the intent's."""

    def __init__(self, base_url: str, api_key: SecretStr | None, endpoint: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.endpoint = endpoint  # names the model and URL in errors
        self._session: Any = None

    def _headers(self) -> dict[str, str]:
        raise NotImplementedError

    def _open(self) -> Any:
        import aiohttp

        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers=self._headers(), timeout=_TIMEOUT())
        return self._session

    async def _request(self, method: str, path: str, **kwargs: Any) -> bytes:
        """The body of a successful reply; a transport error otherwise.

        A lost connection or a timeout (a large results file) is a
        :class:`RetryableError`, as a failed model call is: a batch being read is
        polled on, never sent again.
        """
        import aiohttp

        url = self.base_url + path
        try:
            async with self._open().request(method, url, **kwargs) as response:
                raw: bytes = await response.read()
                status: int = response.status
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise connection_error(url, exc, endpoint=self.endpoint) from exc
        if status >= 400:
            raise classify_status(status, raw[:500].decode("utf-8", "replace"),
                                  endpoint=self.endpoint)
        return raw

    async def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        raw = await self._request(method, path, **kwargs)
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise RetryableError(f"unreadable reply from {self.base_url + path} ({exc})",
                                 endpoint=self.endpoint) from exc
        if not isinstance(data, dict):
            raise RetryableError(f"unexpected reply from {self.base_url + path}",
                                 endpoint=self.endpoint)
        return data

    async def _text(self, path: str) -> str:
        return str(await self._request("GET", path), "utf-8", "replace")

    def _created(self, batch: dict[str, Any]) -> float:
        """When the provider created ``batch`` (Unix seconds; ``inf`` if it does not say)."""
        raise NotImplementedError

    async def _listed(self, since: float) -> AsyncIterator[dict[str, Any]]:
        """The batches created at or after ``since``, newest first, page after page."""
        after: str | None = None
        while True:
            query = f"?limit=100&{self.after}={after}" if after else "?limit=100"
            listing = await self._json("GET", self.list_path + query)
            for batch in listing.get("data") or []:
                if self._created(batch) < since:  # the rest are older still
                    return
                yield batch
            after = listing.get("last_id")
            if not listing.get("has_more") or not after:
                return

    async def aclose(self) -> None:
        """Close the HTTP session."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


class OpenAIBatches(_HTTPBatches):
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


class AnthropicBatches(_HTTPBatches):
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
