"""Middleware that wraps any :class:`ChatModel`: limits, retries, cache, accounting.

Each layer is itself a ``ChatModel`` around an ``inner`` one, so a stack is
composed explicitly and reads from the outside in::

    Cached(Retrying(Limited(backend)))

- ``Cached``  replays a stored completion (no limits, no cost) and merges
  identical calls (same content and position) in flight at the same time;
- ``Retrying`` applies a per-attempt timeout and retries transient failures
  with exponential backoff and jitter, honouring ``Retry-After``; an endpoint
  that refuses every connection before it has ever answered is given up within
  seconds (:mod:`debate.models.reach`). Waiting in
  a queue (``Limited``'s cap, an embedded model's free slot) is not timed:
  code that waits for its turn does it inside
  :func:`~debate.models.deadlines.queued`;
- ``Limited`` caps requests in flight per endpoint and, behind that cap,
  requests per second over windows of 0.1 s (asyncio-throttle polls every
  10 ms, so only a few callers ever wait on it; the rest wait on a semaphore,
  which costs nothing).

All layers count into one shared :class:`CallStats`. :func:`wrap` builds the
usual stack. Closing a layer (``aclose()``, ``async with``) closes the model
it wraps, down to the backend; a cache passed to ``Cached`` stays open (it
belongs to whoever made it).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from aiolimiter import AsyncLimiter
from asyncio_throttle.throttler import Throttler
from pydantic import Field

from debate.errors import RetryableError, TransportError, UnreachableError
from debate.models.accounting import PriceTable
from debate.models.cache import ResponseCache, cache_key, call_position
from debate.models.deadlines import CURRENT_ATTEMPT, AttemptTimeout, Deadlines, queued
from debate.models.fifo import FifoSemaphore
from debate.models.reach import Reach
from debate.models.types import (
    Capabilities,
    ChatModel,
    Closeable,
    Completion,
    Message,
    SamplingParams,
    capabilities_of,
    close_model,
    size_model,
)
from debate.settings import Settings

__all__ = ["CallStats", "Cached", "Limited", "Limits", "RetryPolicy", "Retrying",
           "reserved_tokens", "wrap"]

_THROTTLE_POLLERS = 8

@dataclass
class CallStats:
    """Counters shared by the layers of one or more stacks (one per run)."""

    calls: int = 0
    """Completions returned to callers (cache hits included)."""
    requests: int = 0
    """Requests actually sent to a backend (retries included)."""
    retries: int = 0
    """Requests that were retries of a failed one."""
    cache_hits: int = 0
    """Calls answered from the response cache or merged with an identical one."""
    answered: int = 0
    """Calls a backend answered (not the cache): what tells an endpoint that is up."""
    prompt_tokens: int = 0
    """Prompt tokens of calls that were paid for (not cache hits)."""
    completion_tokens: int = 0
    """Completion tokens of calls that were paid for."""
    cost: float = 0.0
    """Dollars spent on calls whose model has a known price."""
    unpriced_calls: int = 0
    """Paid calls whose model has no price in the table."""
    batch_cost: float = 0.0
    """Dollars of the calls made through a Batch API (at the batch price; part of ``cost``)."""
    errors: dict[str, int] = field(default_factory=dict)
    """Failed attempts by kind: ``HTTP 429``..., ``timeout``, ``connection`` (no reply),
    ``malformed`` (a reply that is not the JSON expected)."""

    def record_error(self, kind: str) -> None:
        """Count one failed attempt of the given kind."""
        self.errors[kind] = self.errors.get(kind, 0) + 1


class Limits(Settings):
    """Per-endpoint request limits. ``None`` means unlimited."""

    max_in_flight: int | None = Field(default=64, ge=1)
    """Most requests in flight at once to this endpoint."""
    requests_per_second: float | None = Field(default=None, gt=0)
    """Most requests started per second."""
    tokens_per_minute: int | None = Field(default=None, ge=1)
    """Most tokens per minute, counted as providers reserve them when a request starts:
    the prompt (about 4 characters a token) plus ``max_tokens``."""


class RetryPolicy(Settings):
    """How transient failures are retried. Input errors (4xx) never are."""

    max_attempts: int = Field(default=6, ge=1)
    """Attempts in all, the first included."""
    connect_attempts: int = Field(default=3, ge=1)
    """Tries of an endpoint that has never answered in this run and refuses the
    connection (refused, host not found, TLS failure) before the run stops, about 2 s
    (:mod:`debate.models.reach`); once it has answered, connection failures are retried
    up to ``max_attempts`` like others. At most ``max_attempts`` are made."""
    initial_delay: float = Field(default=1.0, ge=0)
    """Seconds before the first retry."""
    max_delay: float = Field(default=60.0, ge=0)
    """Upper bound on one backoff (and on an honoured ``Retry-After``)."""
    multiplier: float = Field(default=2.0, ge=1)
    """Backoff growth per attempt."""
    jitter: float = Field(default=0.5, ge=0, le=1)
    """Each delay is scaled by a uniform factor in ``[1 - jitter, 1]``."""
    timeout: float | None = Field(default=120.0, gt=0)
    """Seconds one attempt may take before it counts as a retryable timeout, counted
    from when it leaves debatelab's queues (see :func:`queued`). In-process backends
    (the embedded model, in-process vLLM) have no timeout unless this is set
    explicitly: their calls cannot hang on a network, and a slow generation would
    only be redone."""

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based)."""
        if retry_after is not None:
            return min(retry_after, self.max_delay)
        base = min(self.max_delay, self.initial_delay * self.multiplier ** (attempt - 1))
        return base * (1.0 - self.jitter * random.random())



class _Layer(Closeable):
    """A middleware layer: it closes, reports the capabilities of and sizes its inner model.

    See :class:`~debate.models.types.Capabilities`.
    """

    inner: ChatModel

    @property
    def capabilities(self) -> Capabilities:
        """The wrapped model's capabilities (its backend's, through any layers)."""
        return capabilities_of(self.inner)

    def size_for(self, users: int) -> None:
        """Tell the wrapped model how many agents use it (see ``sized_to_users``)."""
        size_model(self.inner, users)

    async def aclose(self) -> None:
        """Close the wrapped model."""
        await close_model(self.inner)


class Limited(_Layer):
    """Caps in-flight requests and requests per second to one endpoint."""

    def __init__(self, inner: ChatModel, limits: Limits) -> None:
        self.inner = inner
        self.name = inner.name
        cap = limits.max_in_flight
        self._in_flight = FifoSemaphore(cap) if cap else None
        rps = limits.requests_per_second
        self._throttler = None
        if rps:
            # a window of a tenth of a second: a waiter only sleeps (asyncio-throttle polls
            # every 10 ms) when the window is full, so polling never caps the rate
            burst = max(1, round(rps * 0.1))
            self._throttler = Throttler(rate_limit=burst, period=burst / rps)
        self._pollers = asyncio.Semaphore(_THROTTLE_POLLERS)
        tpm = limits.tokens_per_minute
        self._tokens = AsyncLimiter(tpm, 60.0) if tpm else None
        self._paced = self._throttler is not None or self._tokens is not None

    async def generate(self, messages: Sequence[Message], params: SamplingParams) -> Completion:
        """Wait for an in-flight permit (and rate and token budget), then call the inner model."""
        permits = self._in_flight
        if permits is None:
            if self._paced:
                with queued():
                    await self._pace(messages, params)
            return await self.inner.generate(messages, params)
        if permits.free() and not self._paced:  # the common case: no wait at all
            await permits.acquire()
        else:
            with queued():  # the wait for a turn is not part of the attempt's timeout
                await permits.acquire()
        try:
            if self._paced:
                with queued():
                    await self._pace(messages, params)
            return await self.inner.generate(messages, params)
        finally:
            permits.release()  # also when cancelled while waiting for a rate token

    async def _pace(self, messages: Sequence[Message], params: SamplingParams) -> None:
        if self._throttler is not None:
            async with self._pollers, self._throttler:
                pass
        if self._tokens is not None:
            need = reserved_tokens(messages, params)
            await self._tokens.acquire(min(need, self._tokens.max_rate))


def reserved_tokens(messages: Sequence[Message], params: SamplingParams) -> int:
    """The tokens a provider counts against a tokens-per-minute limit when a call starts.

    The prompt, estimated at 4 characters a token plus 4 per message (OpenAI's rule of
    thumb), and the completion's whole ``max_tokens``, as providers reserve it.
    """
    prompt = sum(len(m.content) for m in messages) // 4 + 4 * len(messages)
    return prompt + (params.max_tokens or 0)


class Retrying(_Layer):
    """Per-attempt timeout plus retries of :class:`RetryableError` with backoff.

    The timeout does not count waits inside :func:`queued` (a queue for a turn).
    """

    def __init__(self, inner: ChatModel, policy: RetryPolicy, stats: CallStats) -> None:
        self.inner = inner
        self.name = inner.name
        self.policy = policy
        self.stats = stats
        self.reach = Reach(min(policy.connect_attempts, policy.max_attempts))
        """Whether the endpoint has answered yet (until then, refusals fail fast)."""
        self._deadlines: Deadlines | None = None

    async def _timed(self, messages: Sequence[Message], params: SamplingParams) -> Completion:
        """One attempt under the policy's timeout (``TimeoutError`` when it runs out)."""
        deadlines = self._deadlines
        if deadlines is None or deadlines.timeout != self.policy.timeout:
            assert self.policy.timeout is not None
            deadlines = self._deadlines = Deadlines(self.policy.timeout)
        attempt = deadlines.start()
        cancelling = attempt.task.cancelling()
        token = CURRENT_ATTEMPT.set(attempt)
        try:
            return await self.inner.generate(messages, params)
        except asyncio.CancelledError:
            if attempt.expired:
                attempt.expired = False  # our cancel is taken back once
                if attempt.task.uncancel() <= cancelling:  # and it was the only one
                    raise AttemptTimeout(attempt.at_once) from None
            raise
        finally:
            attempt.done = True
            CURRENT_ATTEMPT.reset(token)
            if attempt.expired:  # expired, but it ended otherwise: take our cancel back
                attempt.task.uncancel()

    async def generate(self, messages: Sequence[Message], params: SamplingParams) -> Completion:
        """Call the inner model, retrying transient failures; re-raise the last one.

        Refused connections of an endpoint that has never answered take turns and are
        given up within seconds (:class:`~debate.models.reach.Reach`).
        """
        policy, reach = self.policy, self.reach
        attempt = 0
        turn = False  # this attempt is the refused endpoint's next try (see Reach)
        while True:
            attempt += 1
            self.stats.requests += 1
            if attempt > 1:
                self.stats.retries += 1
            try:
                try:
                    if policy.timeout is None:
                        completion = await self.inner.generate(messages, params)
                    else:
                        completion = await self._timed(messages, params)
                finally:
                    if turn:
                        reach.release()
                reach.answered = True
                return completion
            except TimeoutError as exc:
                self.stats.record_error("timeout")
                error = RetryableError(f"no reply within {policy.timeout}s", endpoint=self.name,
                                       retry_after=0.0 if getattr(exc, "at_once", False) else None)
            except UnreachableError as exc:
                self.stats.record_error(exc.kind)
                if not reach.answered:
                    turn = await reach.refused(exc, lambda n: policy.delay(n, None), turn)
                    continue
                error = exc
            except RetryableError as exc:
                reach.answered = True  # a status, a malformed body, a broken connection
                self.stats.record_error(exc.kind)
                error = exc
            except TransportError:
                reach.answered = True
                raise
            turn = False
            if attempt >= policy.max_attempts:
                reason = error.args[0] if error.args else str(error)  # no endpoint/status twice
                raise RetryableError(
                    f"gave up after {attempt} attempts: {reason}",
                    endpoint=error.endpoint or self.name,
                    status=error.status,
                ) from error
            await asyncio.sleep(policy.delay(attempt, error.retry_after))


class _OwnerCancelled(Exception):
    """The caller that made a merged call was cancelled; those waiting for it call again."""


class Cached(_Layer):
    """Replays completions from a :class:`ResponseCache` and accounts usage and cost.

    Identical calls (same key) in flight at the same time are sent once.
    """

    def __init__(
        self,
        inner: ChatModel,
        cache: ResponseCache | None,
        stats: CallStats,
        prices: PriceTable | None = None,
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.cache = cache
        self.stats = stats
        self.prices = prices or PriceTable()
        self._pending: dict[str, asyncio.Future[Completion]] = {}

    async def generate(self, messages: Sequence[Message], params: SamplingParams) -> Completion:
        """Return the stored completion for this call, or make the call and store it."""
        self.stats.calls += 1
        cache, key, future = self.cache, "", None
        if cache is not None:
            key = cache_key(self.name, messages, params, call_position.get())
            hit = cache.get(key)
            if hit is not None:
                self.stats.cache_hits += 1
                return hit
            pending = self._pending.get(key)
            if pending is not None:
                try:
                    shared = await asyncio.shield(pending)
                except _OwnerCancelled:  # whoever made the call went away: make it ourselves
                    self.stats.calls -= 1
                    return await self.generate(messages, params)
                self.stats.cache_hits += 1
                return shared.model_copy(update={"cached": True})
            future = asyncio.get_running_loop().create_future()
            self._pending[key] = future
        start = time.perf_counter()
        try:
            completion = await self.inner.generate(messages, params)
            if not completion.latency:  # a fresh object from the backend: set it in place
                completion.latency = time.perf_counter() - start
            self._account(completion)
            if cache is not None and future is not None:
                await cache.put(key, completion)  # on disk before anyone sees it
                future.set_result(completion)
            return completion
        except BaseException as exc:
            if future is not None:
                # a cancelled caller (a client that went away) cancels only its own wait:
                # the others waiting for this call make it again
                cancelled = isinstance(exc, asyncio.CancelledError)
                future.set_exception(_OwnerCancelled() if cancelled else exc)
                future.exception()  # mark retrieved: nobody else may be waiting
            raise
        finally:
            if future is not None:
                del self._pending[key]

    def _account(self, completion: Completion) -> Completion:
        stats = self.stats
        stats.answered += 1
        stats.prompt_tokens += completion.usage.prompt_tokens
        stats.completion_tokens += completion.usage.completion_tokens
        cost = self.prices.cost(self.name, completion.usage, completion.batch)
        if cost is None:
            stats.unpriced_calls += 1
        else:
            stats.cost += cost
            if completion.batch:
                stats.batch_cost += cost
        return completion


def wrap(
    backend: ChatModel,
    *,
    stats: CallStats,
    cache: ResponseCache | None = None,
    limits: Limits | None = None,
    retry: RetryPolicy | None = None,
    prices: PriceTable | None = None,
) -> ChatModel:
    """Compose the standard stack ``Cached(Retrying(Limited(backend)))``.

    The backend's declared :class:`~debate.models.types.Capabilities` decide the rest.
    One that ``limits_each_endpoint`` (an :class:`~debate.models.pool.EndpointPool`)
    gets no ``Limited`` here: ``Cached(Retrying(pool))``. A ``batched`` one
    (:mod:`debate.models.batch`) gets no ``Limited`` and no timeout, even one ``retry``
    sets (it is for synchronous calls; a batch is watched until it ends). An
    ``in_process`` one gets no per-attempt timeout unless ``retry`` sets one
    explicitly (see :attr:`RetryPolicy.timeout`).
    """
    retry = retry or RetryPolicy()
    can = capabilities_of(backend)
    if can.batched or (can.in_process and "timeout" not in retry.model_fields_set):
        retry = retry.model_copy(update={"timeout": None})
    model: ChatModel = backend
    if not (can.limits_each_endpoint or can.batched):
        model = Limited(backend, limits or Limits())
    model = Retrying(model, retry, stats)
    return Cached(model, cache, stats, prices)
