"""Endpoint pools: one model served by several replicas, kept busy and healthy.

A lab serving one model with several ``vllm serve`` replicas names them all::

    openai:Qwen/Qwen2.5-7B-Instruct@http://a:8000/v1,http://b:8000/v1

or lists them, each with its own limits, under ``endpoints:`` in an experiment
config. The pool is one :class:`~debate.models.ChatModel` to everything above
it: the response cache, the traces and the model's name (``openai:MODEL``) do
not depend on which replica served a call, so a re-run replays the cache
whatever replicas it has, and adding or removing one changes no result.

Routing, per call:

1. **Affinity.** Every call of one conversation (one agent in one debate,
   :data:`route_key`) goes to the replica its first call went to, so the chat
   that grows round by round is found in that replica's prefix cache.
2. **Load.** A conversation's first call goes to the replica with the least
   work in flight (relative to its ``max_in_flight``); ties go round-robin.
   Affinity yields to load: when the pinned replica has ``saturation`` x its
   ``max_in_flight`` calls in flight and another has room, the call goes there
   (the conversation stays pinned where it was).
3. **Health.** A replica that fails ``failures`` calls in a row with a
   connection error, a 5xx or a timeout is taken out of rotation (a circuit
   breaker). The failed call is retried at once on another replica (through
   :class:`~debate.models.middleware.Retrying`, so every attempt is counted
   once); after ``cooldown`` seconds one call probes the replica (half-open):
   success puts it back, failure takes it out for twice as long (up to
   ``max_cooldown``). With every replica out, a call waits for the first probe.

:meth:`EndpointPool.report` gives per-replica calls, errors, failovers, times
taken out and seconds out of rotation (``summary.json``'s ``endpoints``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from contextvars import ContextVar
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from debate.errors import ConfigError, RetryableError
from debate.models.middleware import Limited, Limits, attempt_expired
from debate.models.types import (
    ChatModel,
    Closeable,
    Completion,
    Message,
    SamplingParams,
    close_model,
)

__all__ = ["Endpoint", "EndpointPool", "EndpointReport", "PoolPolicy", "route_key"]

route_key: ContextVar[str] = ContextVar("debatelab_route", default="")
"""The conversation the running call belongs to (``debate id/agent name``, set by
:meth:`debate.agents.Agent.act`); a pool keeps it on one replica. Empty outside a
debate: the call's first message stands in."""


class Endpoint(Limits):
    """One replica of a pool and its limits (unset limits: the run's ``limits``)."""

    model_config = ConfigDict(extra="forbid")

    url: str
    """The replica's base URL, ``http(s)://HOST:PORT/v1``."""


class PoolPolicy(BaseModel):
    """How a pool routes calls and takes failing replicas out of rotation."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    affinity: bool = True
    """Keep each conversation (an agent in a debate) on one replica while it is healthy."""
    saturation: float = Field(default=1.0, gt=0)
    """Affinity yields when the pinned replica has this share of its ``max_in_flight``
    in flight and another replica has room."""
    failures: int = Field(default=3, ge=1)
    """Failed calls in a row (connection error, 5xx, timeout) that take a replica out."""
    cooldown: float = Field(default=5.0, gt=0)
    """Seconds out of rotation before a probe call; doubled after a failed probe."""
    max_cooldown: float = Field(default=60.0, gt=0)
    """Upper bound on the cooldown."""
    pins: int = Field(default=100_000, ge=1)
    """Conversations remembered for affinity (the oldest are forgotten first)."""


class EndpointReport(BaseModel):
    """What one replica of a pool did in a run."""

    url: str
    """The replica's base URL."""
    calls: int = 0
    """Calls it answered."""
    errors: int = 0
    """Calls that failed there (connection errors, 5xx, timeouts, 429s)."""
    failovers: int = 0
    """Failed calls that were sent on to another replica."""
    ejections: int = 0
    """Times it was taken out of rotation."""
    out_of_rotation: float = 0.0
    """Seconds it spent out of rotation."""
    in_rotation: bool = True
    """Whether it was in rotation when the run ended."""


class _Member:
    """One replica: its limited model, its load and its health."""

    __slots__ = ("capacity", "cooldown", "failures", "model", "open_since", "probing",
                 "report", "reopen_at", "load")

    def __init__(self, model: ChatModel, url: str, capacity: int | None,
                 cooldown: float) -> None:
        self.model = model
        self.capacity = capacity
        self.load = 0  # calls sent here and not yet finished (queued for a permit included)
        self.failures = 0  # in a row
        self.open_since: float | None = None  # out of rotation since (monotonic), or None
        self.reopen_at = 0.0
        self.probing = False
        self.cooldown = cooldown
        self.report = EndpointReport(url=url)

    def ratio(self) -> float:
        return self.load / self.capacity if self.capacity else float(self.load)


class EndpointPool(Closeable):
    """Several replicas of one model behind one :class:`ChatModel` (see the module).

    Args:
        members: ``(url, model)`` per replica: each model is a backend for that URL,
            already wrapped in its :class:`~debate.models.middleware.Limited`.
        capacities: each replica's ``max_in_flight`` (``None``: uncapped).
        policy: routing and health settings.

    Build one with :meth:`create` (or a multi-URL spec in
    :func:`debate.models.create_backend`); :func:`debate.models.wrap` adds retries and
    the cache around it but no limits of its own (each replica has its own).

    """

    limits_each_endpoint = True
    """Tells :func:`debate.models.wrap` that the limits are inside, per replica."""

    def __init__(self, members: Sequence[tuple[str, ChatModel]],
                 capacities: Sequence[int | None], policy: PoolPolicy | None = None) -> None:
        if not members:
            raise ConfigError("an endpoint pool needs at least one endpoint")
        names = {model.name for _, model in members}
        if len(names) > 1:
            raise ConfigError(f"an endpoint pool serves one model, not {sorted(names)}")
        self.policy = policy or PoolPolicy()
        self.name = members[0][1].name
        self._members = [_Member(model, url, cap, self.policy.cooldown)
                         for (url, model), cap in zip(members, capacities, strict=True)]
        self._pins: dict[str, _Member] = {}
        self._turn = 0  # round-robin start among equally loaded replicas

    @classmethod
    def create(cls, spec: Any, endpoints: Sequence[Endpoint], *,
               policy: PoolPolicy | None = None, **options: Any) -> EndpointPool:
        """A pool of ``spec``'s model (a :class:`~debate.models.ModelSpec`) at ``endpoints``.

        ``options`` go to each replica's backend (as in :func:`create_backend`).
        """
        from debate.models.spec import create_backend

        urls = [e.url for e in endpoints]
        if len(set(urls)) < len(urls):
            raise ConfigError(f"{spec}: an endpoint is listed twice in {urls}")
        members: list[tuple[str, ChatModel]] = []
        for endpoint in endpoints:  # a backend opens nothing before its first call
            backend = create_backend(spec.model_copy(update={"base_url": endpoint.url,
                                                             "pool": []}), **options)
            members.append((endpoint.url, Limited(backend, endpoint)))
        return cls(members, [e.max_in_flight for e in endpoints], policy)

    # routing

    def _choose(self, key: str, now: float) -> _Member | None:
        """The replica for the next call of conversation ``key`` (``None``: all out)."""
        pinned = self._pins.get(key) if self.policy.affinity else None
        if pinned is not None and pinned.open_since is None and not self._saturated(pinned):
            return pinned
        for member in self._members:  # a replica whose cooldown is over gets one probe
            if member.open_since is not None and not member.probing and now >= member.reopen_at:
                member.probing = True
                return member
        best: _Member | None = None
        count = len(self._members)
        start, self._turn = self._turn, (self._turn + 1) % count
        for i in range(count):
            member = self._members[(start + i) % count]
            if member.open_since is None and (best is None or member.ratio() < best.ratio()):
                best = member
        if best is None:
            return None
        if pinned is not None and pinned.open_since is None and best.ratio() >= pinned.ratio():
            return pinned  # saturated, but no one has more room
        if self.policy.affinity and (pinned is None or pinned.open_since is not None):
            self._pin(key, best)
        return best

    def _saturated(self, member: _Member) -> bool:
        return member.capacity is not None and (
            member.load >= self.policy.saturation * member.capacity)

    def _pin(self, key: str, member: _Member) -> None:
        pins = self._pins
        pins.pop(key, None)
        pins[key] = member
        if len(pins) > self.policy.pins:
            del pins[next(iter(pins))]  # the oldest conversation

    # health

    def _failed(self, member: _Member, now: float) -> None:
        member.report.errors += 1
        member.failures += 1
        if member.probing:  # the probe failed: out again, for longer
            member.probing = False
            member.cooldown = min(member.cooldown * 2, self.policy.max_cooldown)
            member.reopen_at = now + member.cooldown
        elif member.open_since is None and member.failures >= self.policy.failures:
            member.open_since = now
            member.reopen_at = now + member.cooldown
            member.report.ejections += 1

    def _succeeded(self, member: _Member, now: float) -> None:
        member.report.calls += 1
        member.failures = 0
        if member.open_since is not None:  # a probe (or a call from before) came back
            member.report.out_of_rotation += now - member.open_since
            member.open_since = None
            member.probing = False
            member.cooldown = self.policy.cooldown

    async def generate(self, messages: Sequence[Message], params: SamplingParams) -> Completion:
        """Send the call to the replica :meth:`_choose` picks (see the module)."""
        key = route_key.get() or (messages[0].content if messages else "")
        now = time.monotonic()
        member = self._choose(key, now)
        if member is None:  # wait for the next probe (or, with every probe out, a cooldown)
            due = [m.reopen_at for m in self._members if not m.probing]
            wait = min(due) - now if due else self.policy.cooldown
            raise RetryableError("every endpoint of the pool is out of rotation",
                                 endpoint=self.name, retry_after=max(wait, 0.0))
        member.load += 1
        try:
            completion = await member.model.generate(messages, params)
        except RetryableError as exc:
            if exc.status is not None and exc.status < 500:  # 429, 408, 409: busy, not down
                member.report.errors += 1
                member.probing = False
                raise
            self._failed(member, time.monotonic())
            other = self._fail_over(key, member)
            if other is None:
                raise
            member.report.failovers += 1
            raise RetryableError(f"{exc.args[0] if exc.args else exc} (sent on to {other})",
                                 endpoint=exc.endpoint, status=exc.status,
                                 retry_after=0.0) from exc
        except asyncio.CancelledError:
            if attempt_expired():  # the attempt's timeout: a hung replica
                self._failed(member, time.monotonic())
                self._fail_over(key, member)
            else:
                member.probing = False
            raise
        except BaseException:
            member.probing = False
            raise
        finally:
            member.load -= 1
        self._succeeded(member, time.monotonic())
        return completion

    def _fail_over(self, key: str, failed: _Member) -> str | None:
        """Re-pin ``key`` to another replica in rotation; its URL, or ``None`` if none."""
        others = [m for m in self._members if m is not failed and m.open_since is None]
        if not others:
            return None
        best = min(others, key=_Member.ratio)
        if self.policy.affinity:
            self._pin(key, best)
        return best.report.url

    def report(self) -> list[EndpointReport]:
        """Per-replica counts so far (seconds out of rotation up to now)."""
        now = time.monotonic()
        reports = []
        for member in self._members:
            report = member.report.model_copy()
            if member.open_since is not None:
                report.out_of_rotation += now - member.open_since
                report.in_rotation = False
            reports.append(report)
        return reports

    async def aclose(self) -> None:
        """Close every replica's backend."""
        await asyncio.gather(*(close_model(m.model) for m in self._members))

