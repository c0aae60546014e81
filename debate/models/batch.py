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

Every provider's batch is made the same way: its requests are prepared, an intent
naming them is journaled (:class:`BatchJournal`), the batch is created, and the
batch is journaled. If the create request raises (a lost reply, a timeout, a 5xx)
or the run is killed between the two lines, the provider's batches are searched
for it (how, for each provider: :mod:`debate.models.batch_clients`) before any of
its requests is sent again: a batch is never paid for twice.

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
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import Field, field_validator

from debate.errors import BatchRefusedError, FatalTransportError, RetryableError, TransportError
from debate.models.batch_clients import (
    AnthropicBatches,
    BatchAPI,
    Intent,
    Lookup,
    OpenAIBatches,
    Outcome,
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
from debate.settings import Settings, not_below

__all__ = ["AnthropicBatches", "BatchAPI", "BatchJournal", "BatchPolicy", "BatchingModel",
           "Intent", "Lookup", "OpenAIBatches", "batching"]

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

    _poll_max = field_validator("poll_max")(not_below("poll_initial"))


class BatchJournal:
    """The batches a run submitted, appended to ``batches.jsonl`` in its folder.

    One line per batch, written as soon as it is submitted: ``{"batch", "model",
    "items": [custom_id...], "intent", "at"}``. A re-run reads it back: a call whose
    ``custom_id`` is in a batch it lists waits for that batch's results instead of
    going into a new batch, so a killed run pays for none of its pending calls again.
    Before each batch is created, an ``{"intent": key, "model", "items", "at"}`` line
    names its requests (the key: OpenAI's uploaded input file, else a local id); the
    batch's line settles it. A call in an intent left unsettled (the create request got
    no reply, or the run was killed during it) asks the provider whether that batch
    was made (:meth:`~debate.models.batch_clients.BatchAPI.find`), and waits for it,
    before its request is ever sent again.

    With no ``path`` it is kept in memory only: a lost reply is still recovered from,
    a kill is not.
    """

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path is not None else None
        self.known: dict[str, dict[str, str]] = {}  # model -> custom_id -> batch id
        self.batches: set[str] = set()
        """Every batch journaled (any model's): none of them is an intent's unsettled batch."""
        self.intents: dict[str, dict[str, Intent]] = {}  # model -> key -> unsettled intent
        self._intended: dict[str, dict[str, str]] = {}  # model -> custom_id -> intent key
        if self.path is None or not self.path.exists():
            return
        # bytes that are not UTF-8 spoil only their line (skipped below), never the journal
        text = self.path.read_bytes().decode("utf-8", errors="replace")
        if text and not text.endswith("\n"):  # a line cut short: the next starts anew
            with self.path.open("a", encoding="utf-8") as f:
                f.write("\n")
        for number, line in enumerate(text.splitlines(), start=1):
            try:
                entry = json.loads(line)
                model, items = str(entry["model"]), tuple(map(str, entry["items"]))
                if "batch" not in entry:  # an intent: its batch about to be created
                    self._intend(model, Intent(str(entry["intent"]), items,
                                               float(entry.get("at") or 0.0)))
                    continue
                self._know(model, str(entry["batch"]), items)
                settled = entry.get("intent") or entry.get("file")  # "file": older journals
                if settled:
                    self.forget(model, str(settled))
            except (ValueError, KeyError, TypeError):  # a line cut short by a kill
                log.warning("%s:%d: skipping an unreadable line", self.path, number)

    def _append(self, entry: dict[str, Any]) -> None:
        if self.path is None:
            return
        with self.path.open("a", encoding="utf-8") as f:  # one write, on disk before we go on
            f.write(json.dumps(entry) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def _intend(self, model: str, intent: Intent) -> None:
        self.intents.setdefault(model, {})[intent.key] = intent
        self._intended.setdefault(model, {}).update(dict.fromkeys(intent.items, intent.key))

    def _know(self, model: str, batch_id: str, custom_ids: Sequence[str]) -> None:
        self.known.setdefault(model, {}).update(dict.fromkeys(custom_ids, batch_id))
        self.batches.add(batch_id)

    def intend(self, model: str, intent: Intent) -> None:
        """Append a batch about to be created (on disk before the create request is sent)."""
        self._append({"intent": intent.key, "model": model, "items": list(intent.items),
                      "at": intent.at})
        self._intend(model, intent)

    def intent_of(self, model: str, custom_id: str) -> Intent | None:
        """The unsettled intent whose requests include ``custom_id``, if any."""
        key = self._intended.get(model, {}).get(custom_id)
        return None if key is None else self.intents[model][key]

    def forget(self, model: str, key: str) -> None:
        """Settle an intent: its batch was recorded, or it never became one."""
        intent = self.intents.get(model, {}).pop(key, None)
        if intent is None:
            return
        intended = self._intended[model]
        for custom_id in intent.items:
            if intended.get(custom_id) == key:
                del intended[custom_id]

    def record(self, model: str, batch_id: str, custom_ids: Sequence[str],
               intent: str | None = None) -> None:
        """Append one submitted batch (on disk before anyone waits on it) and settle its intent."""
        self._append({"batch": batch_id, "model": model, "items": list(custom_ids),
                      "intent": intent, "at": time.time()})
        if intent is not None:
            self.forget(model, intent)
        self._know(model, batch_id, custom_ids)


class BatchingModel(Closeable):
    """A :class:`ChatModel` whose calls go out in batches (see the module docstring).

    Args:
        name: the model's name, as the synchronous backend names it (the cache key
            is the same, so a synchronous re-run replays a batch run and the reverse).
        body: ``(messages, params) -> request body`` of one call.
        parse: ``response body -> Completion``.
        client: the provider's batch endpoints (:class:`OpenAIBatches`,
            :class:`AnthropicBatches`).
        policy: when to submit and how to poll.
        direct: the synchronous backend, for retries with ``policy.retry == "sync"``.
        journal: the run's :class:`BatchJournal`; by default one kept in memory.

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
        self.journal: BatchJournal = journal if journal is not None else BatchJournal(None)
        """Where batches and intents are written down (replaced by the run's)."""
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
        self._timer: asyncio.TimerHandle | None = None
        self._running: set[asyncio.Future[Any]] = set()
        self._watched: dict[str, dict[str, list[asyncio.Future[Completion]]]] = {}
        self._ended: dict[str, dict[str, Outcome]] = {}  # batch id -> its items' outcomes
        self._spent: set[str] = set()  # items whose batch answered with an error
        self._lookups: dict[str, asyncio.Task[str | None]] = {}  # intent key -> its lookup
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
        if custom_id not in self._spent:
            pending = self.journal.known.get(self.name, {}).get(custom_id)
            intent = self.journal.intent_of(self.name, custom_id) if pending is None else None
            if intent is not None:  # its batch may have been made: never pay twice
                pending = await self._resolve(intent)
            if pending is not None:  # sent before (by a killed run, or a lost reply)
                self._attach(pending, {custom_id: [future]})
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
        self._start(self._run(queued))

    def _start(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``work`` in the background until it ends or :meth:`aclose` cancels it."""
        task = asyncio.get_running_loop().create_task(work)
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return task

    async def _run(self, queued: dict[str, _Item]) -> None:
        """Make one batch of ``queued`` (prepare, intent, create, record); hand it to a watcher."""
        items = [(cid, body) for cid, (body, _) in queued.items()]
        waiting = {cid: futures for cid, (_, futures) in queued.items()}
        try:
            key = await self._client.prepare(items)
        except Exception as exc:  # nothing was made: every caller retries
            self._settle(waiting, dict.fromkeys(queued, _retryable(exc, self.name)))
            return
        intent = Intent(key, tuple(queued), time.time())
        self.journal.intend(self.name, intent)  # on disk before the batch can exist
        try:
            batch_id = await self._client.create(key, items)
        except FatalTransportError as exc:  # refused (400, 401, 413): no batch was made
            self.journal.forget(self.name, key)
            refused = BatchRefusedError(f"batch of {len(queued)} requests refused: "
                                        f"{exc.args[0] if exc.args else exc}",
                                        endpoint=exc.endpoint, status=exc.status)
            self._settle(waiting, dict.fromkeys(queued, refused))  # the run's, not an item's
            return
        except Exception as exc:  # no reply, or a 5xx: the batch may exist all the same
            log.warning("%s: no batch id for %d requests (%s); asking whether it was made",
                        self.name, len(queued), exc)
            try:
                found = await self._resolve(intent)
            except Exception as undecided:  # cannot tell: held back, not sent again
                self._fail(waiting, _retryable(undecided, self.name))
                return
            if found is None:  # never made: every caller retries
                self._settle(waiting, dict.fromkeys(queued, _retryable(exc, self.name)))
                return
            batch_id = found
        else:
            self.journal.record(self.name, batch_id, list(queued), key)
        self.batches_submitted += 1
        self.items_submitted += len(queued)
        log.info("%s: batch %s submitted (%d requests)", self.name, batch_id, len(queued))
        self._attach(batch_id, waiting)

    async def _resolve(self, intent: Intent) -> str | None:
        """The batch made of an unsettled ``intent``, or ``None`` if none was.

        One lookup per intent, however many callers ask.
        """
        task = self._lookups.get(intent.key)
        if task is None:
            task = self._lookups[intent.key] = self._start(self._lookup(intent))

            def done(task: asyncio.Task[str | None]) -> None:
                self._lookups.pop(intent.key, None)  # a failed lookup is made again
                if not task.cancelled():
                    task.exception()  # retrieved, even if every caller went away

            task.add_done_callback(done)
        return await asyncio.shield(task)

    async def _lookup(self, intent: Intent) -> str | None:
        """Ask the provider until it can tell whether ``intent`` became a batch; settle it.

        A batch that may be the intent's but still runs is waited for (polled with the
        policy's backoff), never paid for again. "None was made" is believed only when two
        listings a poll apart say so: a list that shows a just-made batch late must not
        lead to paying for it twice. A provider that cannot be asked
        (:data:`_LOOKUP_TRIES` retryable failures in a row) gives a
        :class:`RetryableError`: the intent stays, and a retried call asks again.
        """
        delay, failures, absent = self.policy.poll_initial, 0, 0
        while True:
            try:
                found = await self._client.find(intent, self.journal.batches)
            except RetryableError as exc:
                failures += 1
                if failures >= _LOOKUP_TRIES:
                    raise RetryableError(
                        f"cannot tell whether the batch of {len(intent.items)} requests "
                        f"({intent.key}) was made ({exc}); they are not sent again until "
                        "it can be told", endpoint=self.name) from exc
                log.warning("%s: cannot list batches (%s)", self.name, exc)
            else:
                failures = 0
                if found.batch is not None:
                    log.info("%s: batch %s (of %s) found and waited for", self.name,
                             found.batch, intent.key)
                    self.journal.record(self.name, found.batch, intent.items, intent.key)
                    return found.batch
                if not found.undecided:
                    absent += 1
                    if absent >= _ABSENT_LISTINGS:
                        log.info("%s: %s never became a batch; its %d requests are sent",
                                 self.name, intent.key, len(intent.items))
                        self.journal.forget(self.name, intent.key)
                        return None
                else:
                    absent = 0
                    log.info("%s: batches %s may be the one of %s; waiting for them to end",
                             self.name, ", ".join(found.undecided), intent.key)
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, self.policy.poll_max)

    def _attach(self, batch_id: str,
                waiting: dict[str, list[asyncio.Future[Completion]]]) -> None:
        """Answer ``waiting`` from batch ``batch_id`` (watched once, however many wait)."""
        ended = self._ended.get(batch_id)
        if ended is not None:
            self._settle(waiting, ended)
            return
        watched = self._watched.get(batch_id)
        if watched is None:
            watched = self._watched[batch_id] = {}
            self._start(self._watch(batch_id))
        for custom_id, futures in waiting.items():
            watched.setdefault(custom_id, []).extend(futures)

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

    def _fail(self, waiting: dict[str, list[asyncio.Future[Completion]]],
              exc: Exception) -> None:
        """Fail every caller with ``exc``, their items unspent (a retry asks about them again)."""
        for futures in waiting.values():
            for future in futures:
                if not future.done():
                    future.set_exception(exc)

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

_LOOKUP_TRIES = 3
"""Failures in a row to list the provider's batches before a lookup gives up for now."""
_ABSENT_LISTINGS = 2
"""Listings in a row, a poll apart, without the intent's batch before it counts as never made."""


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
