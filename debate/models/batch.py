"""Batch APIs: the calls of many debates' next step sent as one batch, at the batch price.

OpenAI's Batch API (and any OpenAI-compatible server with ``/v1/batches``)
answers a JSONL file of requests within 24 hours at half the price. A debate is
multi-turn, so a batch carries one *step* of many debates: every unfinished
debate advances to its next model calls, those calls go out as one batch, the
replies come back, and the debates advance again.

:class:`BatchingModel` does this in the model layer, so every protocol works
unchanged. Its ``generate`` only queues the call; once no new call has come for
:attr:`BatchPolicy.window` seconds (every debate is waiting on a reply) the
queued calls are submitted as one batch (split at ``max_items``), polled with
backoff, and each caller gets its reply, or a :class:`~debate.errors.RetryableError`
for an item that failed or expired, which the retry layer sends again (into the
next batch). A call's ``custom_id`` is a hash of its request and its position in
the debate, the same on every run.

:func:`debate.models.wrap` gives a batching model no in-flight cap and no
per-attempt timeout (a batch may take hours); its completions are marked
``batch``, and a run prices them at :attr:`BatchPolicy.discount` of the
synchronous price.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, cast

import orjson
from pydantic import Field, SecretStr

from debate.errors import (
    FatalTransportError,
    RetryableError,
    TransportError,
    classify_status,
    connection_error,
)
from debate.models.cache import call_position
from debate.models.middleware import Limits
from debate.models.types import (
    ChatModel,
    Closeable,
    Completion,
    Message,
    SamplingParams,
    close_model,
)
from debate.settings import Settings

__all__ = ["AnthropicBatches", "BatchAPI", "BatchJournal", "BatchPolicy", "BatchingModel",
           "OpenAIBatches", "TwoStepBatchAPI", "batching"]

log = logging.getLogger(__name__)


class BatchPolicy(Settings):
    """How calls are gathered into batches and how batches are watched."""

    window: float = Field(default=0.2, gt=0)
    """Seconds without a new call after which the queued calls are submitted."""
    max_items: int | None = Field(default=None, ge=1)
    """Most requests in one batch; ``None``: the provider's limit (OpenAI 50 000,
    Anthropic 100 000). Larger steps are split."""
    max_bytes: int | None = Field(default=None, ge=1)
    """Most bytes of requests in one batch; ``None``: a little under the provider's
    limit (OpenAI's 200 MB input file, Anthropic's 256 MB request)."""
    poll_initial: float = Field(default=1.0, gt=0)
    """Seconds before a batch's state is first read; the wait grows 1.5x to ``poll_max``."""
    poll_max: float = Field(default=60.0, gt=0)
    """Longest wait between two reads of a batch's state."""
    discount: float = Field(default=0.5, ge=0, le=1)
    """The batch price as a share of the synchronous one (OpenAI and Anthropic: half)."""
    retry: Literal["batch", "sync"] = "batch"
    """Where a failed or expired item goes again: into the next batch, or a synchronous
    call at the full price (sooner)."""


Outcome = dict[str, Any] | TransportError
"""A batch item's response body, or why it has none."""


def _TIMEOUT() -> Any:  # noqa: N802 - a constant, made when aiohttp is imported
    """No limit on a whole request (a results file may be large), but on its silences."""
    import aiohttp

    return aiohttp.ClientTimeout(total=None, sock_connect=60, sock_read=300)


class OpenAIBatches:
    """OpenAI's Files + Batches endpoints at one base URL (aiohttp; opened on first use)."""

    max_items = 50_000
    """The most requests a batch may hold."""
    two_steps = True
    """Requests are uploaded (:meth:`upload`), then made a batch (:meth:`create`), and the
    batch of a file can be found (:meth:`find`): a kill between the two loses nothing."""
    max_bytes = 190 * 1024 * 1024
    """The most bytes of requests a batch may hold (the input file's limit is 200 MB)."""

    def __init__(self, base_url: str, api_key: SecretStr | None, endpoint: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.endpoint = endpoint  # names the model and URL in errors
        self._session: Any = None

    def _open(self) -> Any:
        import aiohttp

        if self._session is None or self._session.closed:
            headers = ({"Authorization": f"Bearer {self.api_key.get_secret_value()}"}
                       if self.api_key is not None else {})
            self._session = aiohttp.ClientSession(headers=headers, timeout=_TIMEOUT())
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

    async def submit(self, items: Sequence[tuple[str, dict[str, Any]]]) -> str:
        """Upload the requests and create the batch; its id."""
        return await self.create(await self.upload(items))

    async def upload(self, items: Sequence[tuple[str, dict[str, Any]]]) -> str:
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

    async def create(self, input_file_id: str) -> str:
        """Create the batch of an uploaded input file; its id."""
        batch = await self._json("POST", "/batches", json={
            "input_file_id": input_file_id, "endpoint": "/v1/chat/completions",
            "completion_window": "24h"})
        return str(batch["id"])

    async def find(self, input_file_id: str, pages: int = 10) -> str | None:
        """The batch made of ``input_file_id``, or ``None`` if none was created.

        The newest batches are searched, ``pages`` x 100 of them.
        """
        after: str | None = None
        for _ in range(pages):
            query = "?limit=100" + (f"&after={after}" if after else "")
            listing = await self._json("GET", "/batches" + query)
            for batch in listing.get("data") or []:
                if batch.get("input_file_id") == input_file_id:
                    return str(batch["id"])
            after = listing.get("last_id")
            if not listing.get("has_more") or not after:
                break
        return None

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

    async def aclose(self) -> None:
        """Close the HTTP session."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


class BatchAPI(Protocol):
    """A provider's batch endpoints, as :class:`BatchingModel` uses them."""

    async def submit(self, items: Sequence[tuple[str, dict[str, Any]]]) -> str:
        """Create a batch of ``(custom_id, request body)``; its id."""
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


class TwoStepBatchAPI(BatchAPI, Protocol):
    """Batch endpoints that upload the requests first and make the batch after.

    OpenAI's Files + Batches: :class:`BatchingModel` journals the upload in between,
    so a kill or a lost reply between the two steps never pays for a batch twice.
    """

    async def upload(self, items: Sequence[tuple[str, dict[str, Any]]]) -> str:
        """Upload ``(custom_id, request body)`` as an input file; its id."""
        ...

    async def create(self, input_file_id: str) -> str:
        """Make the batch of an uploaded input file; its id."""
        ...

    async def find(self, input_file_id: str) -> str | None:
        """The batch made of ``input_file_id``, or ``None`` if none was."""
        ...


class AnthropicBatches(OpenAIBatches):
    """Anthropic's Message Batches endpoints (``/v1/messages/batches``)."""

    max_items = 100_000
    max_bytes = 245 * 1024 * 1024  # the request's limit is 256 MB
    two_steps = False  # one request makes the batch

    def _open(self) -> Any:
        import aiohttp

        if self._session is None or self._session.closed:
            headers = {"anthropic-version": "2023-06-01"}
            if self.api_key is not None:
                headers["x-api-key"] = self.api_key.get_secret_value()
            self._session = aiohttp.ClientSession(headers=headers, timeout=_TIMEOUT())
        return self._session

    async def submit(self, items: Sequence[tuple[str, dict[str, Any]]]) -> str:
        """Create the batch (the requests go in its body); its id."""
        batch = await self._json("POST", "/v1/messages/batches", json={
            "requests": [{"custom_id": custom_id, "params": body} for custom_id, body in items]})
        return str(batch["id"])

    async def state(self, batch_id: str) -> tuple[bool, dict[str, Any]]:
        """(whether the batch has ended, the batch object)."""
        batch = await self._json("GET", f"/v1/messages/batches/{batch_id}")
        return batch["processing_status"] == "ended", batch

    async def results(self, batch: dict[str, Any]) -> dict[str, Outcome]:
        """Each item's message, or the error it ended with, by ``custom_id``."""
        outcomes: dict[str, Outcome] = {}
        for line in (await self._text(f"/v1/messages/batches/{batch['id']}/results")
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


class BatchJournal:
    """The batches a run submitted, appended to ``batches.jsonl`` in its folder.

    One line per batch, written as soon as it is submitted: ``{"batch", "model",
    "items": [custom_id...], "file", "at"}``. A re-run reads it back: a call whose
    ``custom_id`` is in a batch it lists waits for that batch's results instead of
    going into a new batch, so a killed run pays for none of its pending calls again.
    Where a batch is made in two steps (OpenAI: upload a file, then create the batch),
    an ``{"intent": file, ...}`` line comes between them: a run killed after the
    upload asks the provider on its re-run whether the batch was made (and waits for
    it) before sending the requests again.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.known: dict[str, dict[str, str]] = {}  # model -> custom_id -> batch id
        self.intents: dict[str, dict[str, list[str]]] = {}  # model -> input file -> ids
        if self.path.exists():
            text = self.path.read_text(encoding="utf-8")
            if text and not text.endswith("\n"):  # a line cut short: the next starts anew
                with self.path.open("a", encoding="utf-8") as f:
                    f.write("\n")
            for line in text.splitlines():
                try:
                    entry = json.loads(line)
                    model, items = str(entry["model"]), list(map(str, entry["items"]))
                    if "intent" in entry:  # an input file about to become a batch
                        self.intents.setdefault(model, {})[str(entry["intent"])] = items
                        continue
                    self.known.setdefault(model, {}).update(
                        dict.fromkeys(items, str(entry["batch"])))
                    if entry.get("file"):
                        self.forget(model, str(entry["file"]))
                except (ValueError, KeyError, TypeError):  # a line cut short by a kill
                    log.warning("%s: skipping an unreadable line", self.path)

    def _append(self, entry: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as f:  # one write, on disk before we go on
            f.write(json.dumps(entry) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def intend(self, model: str, input_file: str, custom_ids: Sequence[str]) -> None:
        """Append an uploaded input file about to be made a batch.

        If the process dies before :meth:`record`, a re-run asks the provider whether
        the batch was made.
        """
        self._append({"intent": input_file, "model": model, "items": list(custom_ids),
                      "at": time.time()})
        self.intents.setdefault(model, {})[input_file] = list(custom_ids)

    def forget(self, model: str, input_file: str) -> None:
        """Drop an intent: its batch was recorded, or it never became one."""
        self.intents.get(model, {}).pop(input_file, None)

    def record(self, model: str, batch_id: str, custom_ids: Sequence[str],
               input_file: str | None = None) -> None:
        """Append one submitted batch (on disk before anyone waits on it)."""
        self._append({"batch": batch_id, "model": model, "items": list(custom_ids),
                      "file": input_file, "at": time.time()})
        if input_file is not None:
            self.forget(model, input_file)
        self.known.setdefault(model, {}).update(dict.fromkeys(custom_ids, batch_id))


class BatchingModel(Closeable):
    """A :class:`ChatModel` whose calls go out in batches (see the module docstring).

    Args:
        name: the model's name, as the synchronous backend names it (the cache key
            is the same, so a synchronous re-run replays a batch run and the reverse).
        body: ``(messages, params) -> request body`` of one call.
        parse: ``response body -> Completion``.
        client: the provider's batch endpoints (:class:`OpenAIBatches`).
        policy: when to submit and how to poll.

    """

    batched = True
    """Tells :func:`debate.models.wrap`: no in-flight cap, no per-attempt timeout, batch
    prices."""

    def __init__(self, name: str, body: Callable[[Sequence[Message], SamplingParams],
                                                 dict[str, Any]],
                 parse: Callable[[dict[str, Any]], Completion], client: BatchAPI,
                 policy: BatchPolicy | None = None, *, direct: ChatModel | None = None,
                 journal: BatchJournal | None = None) -> None:
        self.name = name
        self.policy = policy or BatchPolicy()
        self.journal = journal
        self._body = body
        self._parse = parse
        self._client = client
        self._direct = direct  # the synchronous backend, for retries with retry="sync"
        self._queued: dict[str, _Item] = {}
        self._queued_bytes = 0
        self.max_items: int = self.policy.max_items or int(
            getattr(client, "max_items", OpenAIBatches.max_items))
        """Most requests in one batch (the policy's, else the provider's)."""
        self.max_bytes: int = self.policy.max_bytes or int(
            getattr(client, "max_bytes", OpenAIBatches.max_bytes))
        """Most bytes of requests in one batch."""
        self._two_steps: TwoStepBatchAPI | None = (
            cast(TwoStepBatchAPI, client) if getattr(client, "two_steps", False) else None)
        """The client again, when it makes a batch in two steps (else ``None``)."""
        self._timer: asyncio.TimerHandle | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._watched: dict[str, dict[str, list[asyncio.Future[Completion]]]] = {}
        self._ended: dict[str, dict[str, Outcome]] = {}  # batch id -> its items' outcomes
        self._spent: set[str] = set()  # items whose batch answered with an error
        self._intended: dict[str, str] | None = None  # custom_id -> input file (a killed run's)
        self._finding: dict[str, asyncio.Task[str | None]] = {}  # input file -> its batch
        self.batches_submitted = 0
        """Batches sent to the provider by this process."""
        self.items_submitted = 0
        """Requests in them."""
        self.items_done = 0
        """Items answered from batches (this process's or a killed run's)."""

    @property
    def pending_batches(self) -> int:
        """Batches being waited for now."""
        return len(self._watched)

    async def generate(self, messages: Sequence[Message], params: SamplingParams) -> Completion:
        """Queue the call for the next batch; return its reply once that batch has ended."""
        body = self._body(messages, params)
        encoded = orjson.dumps([body, call_position.get()])
        custom_id = hashlib.sha256(encoded).hexdigest()
        if custom_id in self._spent and self.policy.retry == "sync" and self._direct is not None:
            return await self._direct.generate(messages, params)  # full price, no wait
        future: asyncio.Future[Completion] = asyncio.get_running_loop().create_future()
        pending = self.journal.known.get(self.name, {}).get(custom_id) if self.journal else None
        if pending is None and self.journal is not None and custom_id not in self._spent:
            input_file = self._intent_of(custom_id)
            if input_file is not None:  # a killed run uploaded it: was the batch made?
                pending = await self._batch_of(input_file)
        if pending is not None and custom_id not in self._spent:  # sent by a killed run
            self._attach(pending, custom_id, future)
            return await future
        queued = self._queued.get(custom_id)
        if queued is None:
            size = len(encoded) + _LINE_OVERHEAD
            if (len(self._queued) + 1 > self.max_items
                    or self._queued_bytes + size > self.max_bytes):
                self._submit()  # full: this call starts the next batch
            self._queued[custom_id] = (body, [future])
            self._queued_bytes += size
        else:  # the same request from the same place: one item, both callers answered
            queued[1].append(future)
        self._arm()
        return await future

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(self.policy.window, self._submit)

    def _submit(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        queued, self._queued, self._queued_bytes = self._queued, {}, 0
        if not queued:
            return
        task = asyncio.get_running_loop().create_task(self._run(queued))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _run(self, queued: dict[str, _Item]) -> None:
        items = [(cid, body) for cid, (body, _) in queued.items()]
        journal, two_steps = self.journal, self._two_steps
        input_file: str | None = None
        try:
            if two_steps is not None and journal is not None:  # upload, journal, then create
                input_file = str(await two_steps.upload(items))
                journal.intend(self.name, input_file, list(queued))
                batch_id = await self._create(two_steps, input_file)
            else:
                batch_id = await self._client.submit(items)
        except Exception as exc:  # refused, or no reply: every caller retries
            if input_file is not None and journal is not None:
                journal.forget(self.name, input_file)
            self._settle({cid: futures for cid, (_, futures) in queued.items()},
                         dict.fromkeys(queued, _retryable(exc, self.name)))
            return
        self.batches_submitted += 1
        self.items_submitted += len(queued)
        if self.journal is not None:
            self.journal.record(self.name, batch_id, list(queued), input_file)
        log.info("%s: batch %s submitted (%d requests)", self.name, batch_id, len(queued))
        self._watched[batch_id] = {cid: futures for cid, (_, futures) in queued.items()}
        await self._watch(batch_id)

    async def _create(self, client: TwoStepBatchAPI, input_file: str) -> str:
        """Make the batch of an uploaded file.

        If the reply is lost, the provider is asked whether the batch was made before
        anyone sends its requests again.
        """
        try:
            return str(await client.create(input_file))
        except RetryableError:
            found = await self._find(input_file)
            if found is None:
                raise
            return found

    def _intent_of(self, custom_id: str) -> str | None:
        """The input file a killed run uploaded this request in, without a batch recorded."""
        if self._intended is None:
            assert self.journal is not None
            self._intended = {cid: input_file for input_file, ids
                              in self.journal.intents.get(self.name, {}).items()
                              for cid in ids}
        return self._intended.get(custom_id)

    async def _batch_of(self, input_file: str) -> str | None:
        """The batch a killed run made of ``input_file`` (asked once per file), or ``None``."""
        task = self._finding.get(input_file)
        if task is None:
            task = self._finding[input_file] = asyncio.ensure_future(self._adopt(input_file))
        return await asyncio.shield(task)

    async def _adopt(self, input_file: str) -> str | None:
        assert self.journal is not None
        ids = self.journal.intents.get(self.name, {}).get(input_file, [])
        batch_id = await self._find(input_file)
        if batch_id is None:  # never made: its requests go into a new batch
            self.journal.forget(self.name, input_file)
            log.info("%s: %s never became a batch; its %d requests are sent", self.name,
                     input_file, len(ids))
        else:
            log.info("%s: batch %s (of %s, made by a killed run) is waited for",
                     self.name, batch_id, input_file)
            self.journal.record(self.name, batch_id, ids, input_file)
        return batch_id

    async def _find(self, input_file: str) -> str | None:
        """The batch made of ``input_file`` according to the provider (3 tries)."""
        if self._two_steps is None:
            return None
        find = self._two_steps.find
        for attempt in range(3):
            try:
                found: str | None = await find(input_file)
                return found
            except RetryableError as exc:
                log.warning("%s: cannot list batches (%s)", self.name, exc)
                await asyncio.sleep(self.policy.poll_initial * (attempt + 1))
        log.warning("%s: could not tell whether %s became a batch; its requests are sent "
                    "again", self.name, input_file)
        return None

    def _attach(self, batch_id: str, custom_id: str, future: asyncio.Future[Completion]) -> None:
        """Wait for an item of a batch submitted before (by a killed run)."""
        ended = self._ended.get(batch_id)
        if ended is not None:
            self._settle({custom_id: [future]}, ended)
            return
        watched = self._watched.get(batch_id)
        if watched is None:
            watched = self._watched[batch_id] = {}
            task = asyncio.get_running_loop().create_task(self._watch(batch_id))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        watched.setdefault(custom_id, []).append(future)

    async def _watch(self, batch_id: str) -> None:
        """Poll a batch until it ends; answer everyone waiting on it.

        A transient failure to read the batch (a 5xx, a lost connection) is polled
        through: the batch was paid for, so its items are never sent again for that.
        """
        delay = self.policy.poll_initial
        outcomes: dict[str, Outcome] | None = None
        missing: Outcome | None = None
        while outcomes is None:
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, self.policy.poll_max)
            try:
                ended, batch = await self._client.state(batch_id)
                if ended:
                    outcomes = await self._client.results(batch)
                    failure = getattr(self._client, "failure", None)  # optional
                    why = failure(batch) if failure is not None else ""
                    missing = RetryableError(
                        f"batch {batch_id} ended without this item" + (f" ({why})" if why
                                                                       else ""),
                        endpoint=self.name, retry_after=0.0)
            except FatalTransportError as exc:
                if exc.status == 404:  # gone (deleted, archived): its items go out again
                    log.warning("%s: batch %s no longer exists (%s); its items are sent "
                                "again", self.name, batch_id, exc)
                    lost = RetryableError(f"batch {batch_id} no longer exists ({exc})",
                                          endpoint=self.name, retry_after=0.0)
                    outcomes = dict.fromkeys(self._watched.get(batch_id, {}), lost)
                else:  # refused (401, 403): its callers get it, and the run stops
                    outcomes = dict.fromkeys(self._watched.get(batch_id, {}), exc)
                break
            except Exception as exc:  # a lost connection, a reply it cannot read: poll on
                log.warning("%s: batch %s: %s; polling on", self.name, batch_id, exc)
        else:
            self._ended[batch_id] = outcomes
        self._settle(self._watched.pop(batch_id, {}), outcomes, missing)

    def _settle(self, waiting: dict[str, list[asyncio.Future[Completion]]],
                outcomes: dict[str, Outcome], missing: Outcome | None = None) -> None:
        for custom_id, futures in waiting.items():
            outcome: Outcome | Exception | None = outcomes.get(custom_id) or missing
            if outcome is None:
                outcome = RetryableError("batch item missing from the batch's results",
                                         endpoint=self.name, retry_after=0.0)
            if isinstance(outcome, dict):
                try:
                    completion = self._parse(outcome)
                except Exception as exc:  # what the same reply would raise synchronously
                    outcome = exc
            if isinstance(outcome, TransportError):
                self._spent.add(custom_id)  # its retry goes to a new batch (or sync)
            elif not isinstance(outcome, Exception):
                self.items_done += 1
            for future in futures:
                if future.done():  # its caller was cancelled
                    continue
                if isinstance(outcome, Exception):
                    future.set_exception(outcome)
                else:
                    future.set_result(completion.model_copy())

    async def aclose(self) -> None:
        """Stop watching batches (their callers are cancelled) and close the client."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)
        await self._client.aclose()
        if self._direct is not None:
            await close_model(self._direct)


_Item = tuple[dict[str, Any], list[asyncio.Future[Completion]]]
"""A queued request: its body and the callers waiting for its reply."""

_LINE_OVERHEAD = 200
"""Bytes a request takes in a batch beyond its body (its id, method, URL, JSON)."""


def _retryable(exc: Exception, name: str) -> TransportError:
    """What the callers of a batch that failed as a whole get.

    A transport error as it is (a fatal one stops the run), anything else retryable.
    """
    if isinstance(exc, TransportError):
        return exc
    return RetryableError(f"batch failed: {type(exc).__name__}: {exc}", endpoint=name)


def batching(model: Any, policy: BatchPolicy | None = None,
             journal: BatchJournal | None = None, *, limits: Limits | None = None,
             timeout: float | None = None) -> BatchingModel:
    """Batch the calls of an OpenAI or Anthropic backend.

    ``model`` also makes the retries of failed items when ``policy.retry`` is ``sync``,
    under ``limits`` (the run's in-flight cap and rates) and ``timeout`` per call.
    """
    from debate.models.anthropic_backend import ANTHROPIC_URL, AnthropicModel
    from debate.models.middleware import Limited

    direct: ChatModel = _Timed(model, timeout) if timeout is not None else model
    if limits is not None:
        direct = Limited(direct, limits)

    if isinstance(model, AnthropicModel):
        def params(messages: Sequence[Message], sampling: SamplingParams) -> dict[str, Any]:
            typed, extra = model.request(messages, sampling)
            return {**typed, **extra}

        def message(data: dict[str, Any]) -> Completion:
            completion = model.completion(data)
            completion.batch = True
            return completion

        client = AnthropicBatches(model.base_url or ANTHROPIC_URL, model.api_key,
                                  model.endpoint)
        return BatchingModel(model.name, params, message, client, policy, direct=direct,
                             journal=journal)
    return _openai_batching(model, policy, journal, direct)


class _Timed:
    """A synchronous call that gives up after ``timeout`` seconds.

    Its ``TimeoutError`` is counted and retried by the retry layer, as any timeout;
    the wait for a slot (``Limited``, outside this) is not timed.
    """

    def __init__(self, model: ChatModel, timeout: float) -> None:
        self.model = model
        self.name = model.name
        self.timeout = timeout

    async def generate(self, messages: Sequence[Message], params: SamplingParams) -> Completion:
        return await asyncio.wait_for(self.model.generate(messages, params), self.timeout)

    async def aclose(self) -> None:
        await close_model(self.model)


def _openai_batching(model: Any, policy: BatchPolicy | None, journal: BatchJournal | None,
                     direct: ChatModel) -> BatchingModel:
    """Batch the calls of an :class:`~debate.models.openai_backend.OpenAIModel`."""
    from debate.models.openai_backend import parse_response, request_body

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
