"""The scheduler of a batch run: :class:`BatchingModel`, a model whose calls go out in batches.

A debate is multi-turn, so a batch carries one *step* of many debates: every
unfinished debate advances to its next model calls, those calls go out as one batch,
the replies come back, and the debates advance again. :class:`BatchingModel` does this
in the model layer, so every protocol works unchanged. Its ``generate`` only queues the
call; once no new call has come for :attr:`~debate.models.batch.BatchPolicy.window`
seconds (every debate is waiting on a reply) the queued calls are submitted as one batch
(split at ``max_items``), polled with backoff, and each caller gets its reply, or a
:class:`~debate.errors.RetryableError` for an item that failed or expired, which the
retry layer sends again (into the next batch). A call's ``custom_id`` is a hash of its
request and its position in the debate, the same on every run.

Every provider's batch is made the same way: its requests are prepared, an intent
naming them is journaled (:class:`~debate.models.batch.BatchJournal`), the batch is
created, and the batch is journaled. If the create request raises (a lost reply, a
timeout, a 5xx) or the run is killed between the two lines, the provider's batches are
searched for it (how, for each provider: :mod:`debate.models.batch.api`) before any of
its requests is sent again: a batch is never paid for twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, ClassVar

import orjson

from debate.errors import BatchRefusedError, FatalTransportError, RetryableError, TransportError
from debate.models.batch.api import BatchAPI, Intent, Outcome
from debate.models.batch.journal import BatchJournal
from debate.models.batch.policy import BatchPolicy
from debate.models.batch.recovery import IntentLookups
from debate.models.cache import call_position
from debate.models.types import (
    Capabilities,
    ChatModel,
    Closeable,
    Completion,
    Message,
    SamplingParams,
    close_model,
)

__all__ = ["BatchingModel"]

log = logging.getLogger(__name__)


class BatchingModel(Closeable):
    """A :class:`ChatModel` whose calls go out in batches (see the module docstring).

    Args:
        name: the model's name, as the synchronous backend names it (the cache key
            is the same, so a synchronous re-run replays a batch run and the reverse).
        body: ``(messages, params) -> request body`` of one call.
        parse: ``response body -> Completion``.
        client: the provider's batch endpoints
            (:class:`~debate.models.openai_batch.OpenAIBatches`,
            :class:`~debate.models.anthropic_batch.AnthropicBatches`).
        policy: when to submit and how to poll.
        direct: the synchronous backend, for retries with ``policy.retry == "sync"``.
        journal: the run's :class:`BatchJournal`; by default one kept in memory.

    """

    capabilities: ClassVar[Capabilities] = Capabilities(batched=True)
    """Tells :func:`debate.models.wrap`: no in-flight cap, no per-attempt timeout."""

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
        self.max_items: int = self.policy.max_items or client.max_items
        """Most requests in one batch (the policy's, else the provider's)."""
        self.max_bytes: int = self.policy.max_bytes or client.max_bytes
        """Most bytes of requests in one batch."""
        self._timer: asyncio.TimerHandle | None = None
        self._running: set[asyncio.Future[Any]] = set()
        self._watched: dict[str, dict[str, list[asyncio.Future[Completion]]]] = {}
        self._ended: dict[str, dict[str, Outcome]] = {}  # batch id -> its items' outcomes
        self._spent: set[str] = set()  # items whose batch answered with an error
        self._lookups = IntentLookups(name, client, self.policy, self._start)
        """Who asks the provider what became of an unsettled intent."""
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
                pending = await self._lookups.resolve(intent, self.journal)
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
                found = await self._lookups.resolve(intent, self.journal)
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
                    why = self._client.failure(batch)
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

def _retryable(exc: Exception, name: str) -> TransportError:
    """What the callers of a batch that failed as a whole get.

    A transport error as it is (a fatal one stops the run), anything else retryable.
    """
    if isinstance(exc, TransportError):
        return exc
    return RetryableError(f"batch failed: {type(exc).__name__}: {exc}", endpoint=name)
