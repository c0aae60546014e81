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
   breaker). A failed call is sent on at once to a replica it has not tried,
   preferring those whose last call did not fail; a hop is part of the same
   attempt (the next replica gets a fresh timeout), so dead replicas cannot
   use up a call's retries. Only when every replica in rotation has failed the
   call does :class:`~debate.models.middleware.Retrying` back off and retry.
   A 429 (busy, not down) is sent on the same way but counts nothing against
   the replica's health. After ``cooldown`` seconds one call probes an ejected
   replica (half-open): its success puts the replica back, its failure keeps it
   out for twice as long (up to ``max_cooldown``); calls that were sent there
   before it went out change nothing. With every replica out, calls wait for a
   probe (the wait is neither an attempt nor part of its timeout) and give up
   after ``outage`` seconds without any replica in rotation. A probe waits for
   a free slot like any call: keep a ``retry.timeout`` on a pool, or calls hung
   on a dead replica hold its slots and no probe ever reaches it.
4. **Nothing answers.** Until some replica has answered in this run, a replica
   that refuses the connection (refused, host not found, TLS failure) is not taken
   out: with no replica known to work there is nowhere better to send the call, and
   an outage wait would only hide a wrong address. A call every replica refused
   fails with one :class:`~debate.errors.UnreachableError` naming them all, which
   :class:`~debate.models.middleware.Retrying` gives up within seconds, as for one
   endpoint (:mod:`debate.models.reach`). Once one has answered, the rules above hold.

:meth:`EndpointPool.report` gives per-replica calls, errors, failovers, times
taken out and seconds out of rotation (``summary.json``'s ``endpoints``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from typing import Any, ClassVar

from pydantic import BaseModel, Field, field_validator

from debate.errors import (
    ConfigError,
    OutageError,
    RetryableError,
    TransportError,
    UnreachableError,
    hide_password,
)
from debate.models.backends_registry import BACKENDS, url_problem
from debate.models.deadlines import attempt_expired, queued, retry_at_once
from debate.models.middleware import Limited, Limits
from debate.models.types import (
    Capabilities,
    ChatModel,
    Closeable,
    Completion,
    Message,
    SamplingParams,
    capabilities_of,
    close_model,
)
from debate.settings import Settings, not_below

__all__ = ["Endpoint", "EndpointPool", "EndpointReport", "PoolPolicy", "route_key"]

route_key: ContextVar[str] = ContextVar("debatelab_route", default="")
"""The conversation the running call belongs to (``debate id/agent name``, set by
:meth:`debate.agents.Agent.act`); a pool keeps it on one replica. Empty outside a
debate: the call's first message stands in."""


class Endpoint(Limits):
    """One replica of a pool and its limits (unset limits: the run's ``limits``)."""

    url: str
    """The replica's base URL, ``http(s)://HOST:PORT/v1``."""

    @field_validator("url")
    @classmethod
    def _usable(cls, url: str) -> str:
        problem = url_problem(url)
        if problem is not None:
            raise ValueError(problem)
        return url


class PoolPolicy(Settings):
    """How a pool routes calls and takes failing replicas out of rotation."""

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
    _max_cooldown = field_validator("max_cooldown")(not_below("cooldown"))
    outage: float = Field(default=300.0, gt=0)
    """Seconds calls wait while every replica is out of rotation before they give up
    (the run then stops, keeping every finished debate, and resumes on a re-run)."""
    pins: int = Field(default=100_000, ge=1)
    """Conversations remembered for affinity (the least recently used are forgotten first)."""


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


_probe: ContextVar[bool] = ContextVar("debatelab_pool_probe", default=False)
"""Whether the running call is its replica's half-open probe (see :class:`_Gate`)."""


class _Ejected(Exception):
    """A call queued for a replica's slot while the replica was taken out."""


class _Gate:
    """The backend of one replica, behind its limits.

    It turns away calls that queued for a slot while the replica was taken out of
    rotation, so that they go elsewhere.
    """

    __slots__ = ("backend", "member", "name")

    def __init__(self, backend: ChatModel, member: _Member) -> None:
        self.backend = backend
        self.member = member
        self.name = backend.name

    @property
    def capabilities(self) -> Capabilities:
        """The replica's backend's capabilities."""
        return capabilities_of(self.backend)

    async def generate(self, messages: Sequence[Message], params: SamplingParams) -> Completion:
        if self.member.open_since is not None and not _probe.get():
            raise _Ejected
        return await self.backend.generate(messages, params)

    async def aclose(self) -> None:
        await close_model(self.backend)


class _Member:
    """One replica: its limited model, its load and its health."""

    __slots__ = ("capacity", "cooldown", "epoch", "failures", "load", "model", "open_since",
                 "probing", "reopen_at", "report", "suspect_until")

    def __init__(self, backend: ChatModel, url: str, limits: Limits, cooldown: float) -> None:
        self.model: ChatModel = Limited(_Gate(backend, self), limits)
        self.capacity = limits.max_in_flight
        self.load = 0  # calls sent here and not yet finished (queued for a permit included)
        self.failures = 0  # in a row
        self.open_since: float | None = None  # out of rotation since (monotonic), or None
        self.reopen_at = 0.0
        self.probing = False  # a probe call is in flight
        self.suspect_until = 0.0  # its last call failed: new work goes elsewhere until then
        self.epoch = 0  # ejections so far: a call sent in an earlier epoch has no say
        self.cooldown = cooldown
        self.report = EndpointReport(url=hide_password(url))

    def ratio(self) -> float:
        return self.load / self.capacity if self.capacity else float(self.load)

    def rank(self, now: float) -> tuple[bool, float]:
        """Replicas whose last call failed within a cooldown come last; then by load."""
        return (self.failures > 0 and now < self.suspect_until, self.ratio())


class EndpointPool(Closeable):
    """Several replicas of one model behind one :class:`ChatModel` (see the module).

    Args:
        members: ``(url, backend)`` per replica: a backend for that URL.
        limits: each replica's limits (its in-flight cap, rate and token budget); the
            pool puts each backend behind its own
            :class:`~debate.models.middleware.Limited`.
        policy: routing and health settings.

    Build one with :meth:`create` (or a multi-URL spec in
    :func:`debate.models.create_backend`); :func:`debate.models.wrap` adds retries and
    the cache around it but no limits of its own (each replica has its own).

    """

    capabilities: ClassVar[Capabilities] = Capabilities(limits_each_endpoint=True)
    """Tells :func:`debate.models.wrap` that the limits are inside, per replica."""

    def __init__(self, members: Sequence[tuple[str, ChatModel]],
                 limits: Sequence[Limits], policy: PoolPolicy | None = None) -> None:
        if not members:
            raise ConfigError("an endpoint pool needs at least one endpoint")
        names = {model.name for _, model in members}
        if len(names) > 1:
            raise ConfigError(f"an endpoint pool serves one model, not {sorted(names)}")
        self.policy = policy or PoolPolicy()
        self.name = members[0][1].name
        self._members = [_Member(model, url, lim, self.policy.cooldown)
                         for (url, model), lim in zip(members, limits, strict=True)]
        self._pins: dict[str, _Member] = {}
        self._turn = 0  # round-robin start among equally ranked replicas
        self._changed = asyncio.Event()  # set and replaced: a replica is back, or a probe failed
        self._answered = False  # some replica has answered: refusals take replicas out

    @classmethod
    def create(cls, spec: Any, endpoints: Sequence[Endpoint], *,
               create: Callable[..., ChatModel] | None = None,
               policy: PoolPolicy | None = None, **options: Any) -> EndpointPool:
        """A pool of ``spec``'s model (a :class:`~debate.models.ModelSpec`) at ``endpoints``.

        ``create(replica_spec, **options)`` builds each replica's backend (callers pass
        :func:`~debate.models.create_backend`); by default the backend its prefix names in
        :data:`~debate.models.backends_registry.BACKENDS`, which is what ``create_backend``
        builds for one URL. ``options`` go to each replica's backend.
        """
        urls = [e.url for e in endpoints]
        if len(set(urls)) < len(urls):
            raise ConfigError(f"{spec}: an endpoint is listed twice in "
                              f"{[hide_password(url) for url in urls]}")
        if create is None:
            create = BACKENDS.lookup(spec.backend).create
        members: list[tuple[str, ChatModel]] = []
        for endpoint in endpoints:  # a backend opens nothing before its first call
            members.append((endpoint.url, create(
                spec.model_copy(update={"base_url": endpoint.url, "pool": []}), **options)))
        return cls(members, endpoints, policy)

    # routing

    def _choose(self, key: str, now: float, tried: set[_Member]) -> tuple[_Member, bool] | None:
        """The replica for the next call of ``key``, and whether that call is its probe.

        ``None`` when every replica is out of rotation or already tried by this call.
        """
        pinned = self._pins.get(key) if self.policy.affinity else None
        if pinned is not None and (pinned.open_since is not None or pinned in tried):
            pinned = None  # out of rotation, or it failed this call: the conversation moves
        if pinned is not None and not self._saturated(pinned):
            self._pins[key] = self._pins.pop(key)  # recently used: forgotten last
            return pinned, False
        for member in self._members:  # a replica whose cooldown is over gets one probe
            if (member.open_since is not None and not member.probing
                    and now >= member.reopen_at and member not in tried):
                member.probing = True
                return member, True
        best: _Member | None = None
        count = len(self._members)
        start, self._turn = self._turn, (self._turn + 1) % count
        for i in range(count):
            member = self._members[(start + i) % count]
            if (member.open_since is None and member not in tried
                    and (best is None or member.rank(now) < best.rank(now))):
                best = member
        if best is None:
            return None
        if pinned is not None:  # saturated: overflow only to a replica with more room
            return (pinned if best.rank(now) >= pinned.rank(now) else best), False
        if self.policy.affinity:
            self._pin(key, best)
        return best, False

    def _saturated(self, member: _Member) -> bool:
        return member.capacity is not None and (
            member.load >= self.policy.saturation * member.capacity)

    def _pin(self, key: str, member: _Member) -> None:
        pins = self._pins
        pins.pop(key, None)
        pins[key] = member
        if len(pins) > self.policy.pins:
            del pins[next(iter(pins))]  # the least recently used conversation

    # health

    def _failed(self, member: _Member, now: float, probe: bool, epoch: int,
                eject: bool = True) -> None:
        member.report.errors += 1
        if not probe and epoch != member.epoch:
            return  # sent before it went out: its failure is old news
        member.failures += 1
        member.suspect_until = now + self.policy.cooldown
        if probe:  # the probe failed: out again, for longer
            member.probing = False
            member.cooldown = min(member.cooldown * 2, self.policy.max_cooldown)
            member.reopen_at = now + member.cooldown
            self._change()
        elif eject and member.open_since is None and member.failures >= self.policy.failures:
            member.open_since = now
            member.reopen_at = now + member.cooldown
            member.report.ejections += 1
            member.epoch += 1

    def _back(self, member: _Member, now: float) -> None:
        """A probe came back: the replica is in rotation again, with a clean slate."""
        member.probing = False
        member.failures = 0
        member.suspect_until = 0.0
        if member.open_since is not None:
            member.report.out_of_rotation += now - member.open_since
            member.open_since = None
            member.cooldown = self.policy.cooldown
        self._change()

    def _change(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_for_rotation(self, now: float) -> None:
        """Wait, with every replica out, until a probe is due or one's outcome is known."""
        # the last one went out (``or`` would take a clock's 0.0 for "not out")
        since = max(now if m.open_since is None else m.open_since for m in self._members)
        left = since + self.policy.outage - now
        if left <= 0:
            raise OutageError(
                f"every endpoint of the pool has been out of rotation for {now - since:.0f}s "
                f"({', '.join(m.report.url for m in self._members)})", endpoint=self.name)
        due = [m.reopen_at - now for m in self._members if not m.probing]
        wait = min(min(due, default=left), left)
        changed = self._changed
        with queued():  # not part of the attempt's timeout
            try:
                await asyncio.wait_for(changed.wait(), max(wait, 0.0))
            except TimeoutError:
                pass

    async def generate(self, messages: Sequence[Message], params: SamplingParams) -> Completion:
        """Send the call to the replica :meth:`_choose` picks (see the module)."""
        key = route_key.get() or (messages[0].content if messages else "")
        tried: set[_Member] = set()
        error: RetryableError | None = None  # the last failure of this call
        refused: list[UnreachableError] = []  # its replicas that never connected
        sent_from: _Member | None = None  # the replica it last failed on
        while True:
            now = time.monotonic()
            choice = self._choose(key, now, tried)
            if choice is None:
                if any(m.open_since is None for m in self._members):
                    if error is not None and not self._answered and refused:
                        raise self._unreachable(refused)  # nothing answers: Retrying decides
                    if error is not None:
                        raise error  # every replica in rotation failed it: Retrying backs off
                else:
                    await self._wait_for_rotation(now)
                tried.clear()
                continue
            member, probe = choice
            if sent_from is not None:
                sent_from.report.failovers += 1
                sent_from = None
                with queued():  # the next replica gets the attempt's whole timeout
                    pass
            member.load += 1
            epoch = member.epoch
            token = _probe.set(probe)
            try:
                completion = await member.model.generate(messages, params)
            except _Ejected:  # it went out while this call waited for a slot there
                tried.add(member)
                continue
            except RetryableError as exc:
                never = isinstance(exc, UnreachableError)
                if isinstance(exc, UnreachableError):
                    refused.append(exc)
                else:
                    self._answered = True
                if exc.status is not None and exc.status < 500:  # 429, 408, 409: busy, not down
                    member.report.errors += 1
                    if probe:
                        self._back(member, time.monotonic())  # it answered: it is up
                else:
                    self._failed(member, time.monotonic(), probe, epoch,
                                 eject=self._answered or not never)
                tried.add(member)
                error, sent_from = exc, member
                continue
            except asyncio.CancelledError:
                if attempt_expired():  # the attempt's timeout: a hung replica
                    self._failed(member, time.monotonic(), probe, epoch)
                    if self.policy.affinity and self._pins.get(key) is member:
                        del self._pins[key]  # the retry starts elsewhere
                    retry_at_once()
                elif probe:  # cancelled: the probe is owed to the next call
                    member.probing = False
                    self._change()
                raise
            except BaseException as exc:  # a fatal answer (401...) or a bug: the replica is up
                self._answered = self._answered or isinstance(exc, TransportError)
                if probe:
                    self._back(member, time.monotonic())
                raise
            finally:
                member.load -= 1
                _probe.reset(token)
            member.report.calls += 1
            self._answered = True
            if probe:
                self._back(member, time.monotonic())
            elif epoch == member.epoch:
                member.failures = 0
            return completion

    def _unreachable(self, refused: Sequence[UnreachableError]) -> UnreachableError:
        """One error for a call that no replica connected to (each replica named once)."""
        if len(refused) == 1:
            return refused[0]
        seen = {e.url: e for e in refused}
        listed = ", ".join(f"{url} ({e.reason})" for url, e in seen.items())
        return UnreachableError(
            f"cannot connect to any endpoint of the pool: {listed}", endpoint=self.name,
            url=",".join(seen), reason="; ".join(e.reason for e in seen.values()),
            hint="are the servers running?")

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
