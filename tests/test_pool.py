"""Endpoint pools: one model on several replicas (debate/models/pool.py).

The rules, as the issue states them: each conversation (an agent in a debate)
stays on one replica while it is healthy; load decides where a conversation
starts and where a call goes when its replica is saturated; a replica that
keeps failing is taken out, its calls finished elsewhere, and probed back in;
the cache and the traces do not depend on the replica.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from debate import ExperimentConfig, arun_experiment
from debate.analysis.report import print_summary
from debate.errors import ConfigError, RetryableError
from debate.experiment.identity import fingerprint
from debate.models import (
    CallStats,
    Completion,
    Endpoint,
    EndpointPool,
    Limited,
    Limits,
    Message,
    PoolPolicy,
    RetryPolicy,
    SamplingParams,
    create_backend,
    parse_model_spec,
    route_key,
    wrap,
)
from debate.models.middleware import reserved_tokens
from debate.testing.mock_server import MockServer
from debate.trace import read_traces

PARAMS = SamplingParams()


def questions(tmp_path: Path, n: int) -> str:
    path = tmp_path / "q.jsonl"
    path.write_text("".join(json.dumps({"id": f"q{i}", "question": f"What is {i} + 0?",
                                        "answer": i}) + "\n" for i in range(n)))
    return str(path)


def tagged(tag: str) -> Any:
    """A mock server policy that signs each reply with the server's tag."""
    def reply(messages: list[dict[str, Any]]) -> str:
        first = re.search(r"-?\d+", str(messages[0]["content"]))
        return f"[{tag}] The answer is \\boxed{{{first.group() if first else 0}}}."
    return reply


def config(tmp_path: Path, model: str, n: int, **kw: Any) -> ExperimentConfig:
    base: dict[str, Any] = {"protocol": "du", "rounds": 2, "models": [model],
                            "dataset": questions(tmp_path, n), "output_dir": str(tmp_path),
                            "name": "pool", "concurrency": 8, "temperature": None}
    return ExperimentConfig(**(base | kw))


# --- a fake replica: a named model that can fail, hang or be slow ---------------------


class Replica:
    """A backend for one URL: replies with its tag, or raises what it is told to."""

    def __init__(self, tag: str, latency: float = 0.0) -> None:
        self.name = "openai:m"  # every replica serves the same model
        self.tag = tag
        self.latency = latency
        self.fail: BaseException | None = None
        self.hang = False
        self.calls: list[str] = []  # the route key of each call it got
        self.in_flight = 0
        self.peak = 0

    async def generate(self, messages: Any, params: SamplingParams) -> Completion:
        self.calls.append(route_key.get())
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            if self.hang:
                await asyncio.sleep(3600)
            if self.latency:
                await asyncio.sleep(self.latency)
            if self.fail is not None:
                raise self.fail
            return Completion(text=self.tag)
        finally:
            self.in_flight -= 1


def pool_of(*replicas: Replica, caps: tuple[int | None, ...] | None = None,
            **policy: Any) -> EndpointPool:
    caps = caps or tuple(None for _ in replicas)
    return EndpointPool([(f"http://{r.tag}/v1", r) for r in replicas],
                        [Limits(max_in_flight=c) for c in caps], PoolPolicy(**policy))


async def call(model: Any, key: str) -> str:
    token = route_key.set(key)
    try:
        return (await model.generate([Message(role="user", content="hi")], PARAMS)).text
    finally:
        route_key.reset(token)


def down(status: int | None = None) -> RetryableError:
    return RetryableError("connection refused" if status is None else f"HTTP {status}",
                          endpoint="openai:m", status=status)


# --- spec and config ------------------------------------------------------------------


def test_a_spec_with_several_urls_is_a_pool_named_as_the_model_without_urls() -> None:
    pool = create_backend("openai:m@http://127.0.0.1:1/v1,http://127.0.0.1:2/v1")
    assert isinstance(pool, EndpointPool)
    assert pool.name == "openai:m"  # the cache key and the traces never see a replica
    assert [r.url for r in pool.report()] == ["http://127.0.0.1:1/v1", "http://127.0.0.1:2/v1"]
    # wrap adds retries and the cache but no limit over the pool: each replica has its own
    stack = wrap(pool, stats=CallStats())
    assert stack.inner.inner is pool  # type: ignore[attr-defined]


def test_endpoints_in_a_config_take_their_own_limits_and_the_rest_from_limits(
        tmp_path: Path) -> None:
    cfg = config(tmp_path, "openai:m", 1, limits={"max_in_flight": 8, "requests_per_second": 5},
                 endpoints={"openai:m": [{"url": "http://a/v1", "max_in_flight": 128},
                                         {"url": "http://b/v1", "tokens_per_minute": 1000}]})
    a, b = cfg.endpoints_of("openai:m")
    assert (a.url, a.max_in_flight, a.requests_per_second) == ("http://a/v1", 128, 5)
    assert (b.max_in_flight, b.requests_per_second, b.tokens_per_minute) == (8, 5, 1000)
    plain = config(tmp_path, "openai:m@http://a/v1,http://b/v1", 1)
    assert [e.url for e in plain.endpoints_of(plain.models[0])] == ["http://a/v1", "http://b/v1"]
    assert config(tmp_path, "openai:m@http://a/v1", 1).endpoints_of("openai:m@http://a/v1") == []


@pytest.mark.parametrize(("endpoints", "message"), [
    ({"openai:other": [{"url": "http://a/v1"}]}, "'openai:other' is not one of the models"),
    ({"openai:m@http://a/v1": [{"url": "http://a/v1"}]}, "without a URL"),
    ({"openai:m": []}, "lists no endpoint"),
    ({"openai:m": [{"url": "http://a/v1", "max_inflight": 3}]}, "max_inflight"),
])
def test_bad_endpoints_are_located_errors(tmp_path: Path, endpoints: dict[str, Any],
                                          message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        config(tmp_path, "openai:m", 1, endpoints=endpoints)


def test_replicas_and_pool_settings_do_not_change_the_experiment(tmp_path: Path) -> None:
    one = config(tmp_path, "openai:m@http://a/v1", 1)
    three = config(tmp_path, "openai:m", 1, pool={"cooldown": 1.0},
                   endpoints={"openai:m": [{"url": "http://a/v1"}, {"url": "http://b/v1"}]})
    assert fingerprint(one).identity == fingerprint(three).identity


def test_a_url_listed_twice_is_refused() -> None:
    with pytest.raises(ConfigError, match="listed twice"):
        EndpointPool.create(parse_model_spec("openai:m"),
                            [Endpoint(url="http://a/v1"), Endpoint(url="http://a/v1")])


# --- routing --------------------------------------------------------------------------


def test_a_conversation_stays_on_its_replica_and_new_ones_go_to_the_least_loaded(
        virtual_time) -> None:
    async def scenario() -> None:
        a, b, c = Replica("a", latency=0.01), Replica("b", latency=0.01), Replica("c", latency=0.01)
        pool = pool_of(a, b, c)
        # 9 conversations start together: three on each replica (the least loaded first)
        await asyncio.gather(*(call(pool, f"d{i}/agent") for i in range(9)))
        assert (len(a.calls), len(b.calls), len(c.calls)) == (3, 3, 3)
        # later calls of each conversation go where its first went, whatever the load
        for _ in range(3):
            await asyncio.gather(*(call(pool, f"d{i}/agent") for i in range(9)))
        for replica in (a, b, c):
            assert all(Counter(replica.calls)[key] == 4 for key in set(replica.calls))

    virtual_time.run(scenario())


def test_affinity_yields_to_load_when_the_replica_is_saturated(
        virtual_time) -> None:
    async def scenario() -> None:
        a, b = Replica("a", latency=0.05), Replica("b", latency=0.05)
        pool = pool_of(a, b, caps=(2, 2))
        assert await call(pool, "x") == "a"  # pinned to a
        # four calls of x at once: two fill a, two overflow to b, which has room
        assert sorted(await asyncio.gather(*(call(pool, "x") for _ in range(4)))) == [
            "a", "a", "b", "b"]
        # with both full, a fifth waits for its own replica rather than overflow
        assert sorted(await asyncio.gather(*(call(pool, "x") for _ in range(5)))) == [
            "a", "a", "a", "b", "b"]
        # the conversation is still pinned where it started
        assert await call(pool, "x") == "a"

    virtual_time.run(scenario())


def test_without_affinity_every_call_goes_to_the_least_loaded(
        virtual_time) -> None:
    async def scenario() -> None:
        a, b = Replica("a", latency=0.01), Replica("b", latency=0.01)
        pool = pool_of(a, b, affinity=False)
        replies = await asyncio.gather(*(call(pool, "same") for _ in range(4)))
        assert sorted(replies) == ["a", "a", "b", "b"]

    virtual_time.run(scenario())


# --- health ---------------------------------------------------------------------------


def test_a_failing_replica_is_taken_out_its_calls_sent_on_and_probed_back(
        virtual_time) -> None:
    async def scenario() -> None:
        a, b = Replica("a"), Replica("b")
        pool = pool_of(a, b, failures=2, cooldown=0.2)
        stats = CallStats()
        model = wrap(pool, stats=stats, retry=RetryPolicy(initial_delay=10.0, timeout=None))
        assert [await call(model, key) for key in ("x", "y", "w")] == ["a", "b", "a"]
        a.fail = down()
        # x's call fails on a and is sent on to b within the same attempt: no backoff
        start = virtual_time.time()
        assert await call(model, "x") == "b"
        assert virtual_time.time() == start
        assert (stats.requests, stats.retries) == (4, 0)
        # a failed last: a new conversation goes to b, though a has less load
        assert await call(model, "z") == "b"
        assert await call(model, "w") == "b"  # w's second failure on a takes a out
        report = {r.url: r for r in pool.report()}
        assert report["http://a/v1"].ejections == 1 and not report["http://a/v1"].in_rotation
        assert report["http://a/v1"].errors == 2 and report["http://a/v1"].failovers == 2
        # out of rotation: nothing goes to a until its cooldown ends
        before = len(a.calls)
        await asyncio.gather(*(call(model, f"n{i}") for i in range(5)))
        assert len(a.calls) == before
        # after the cooldown one call probes a; it fails, so a stays out for longer
        await asyncio.sleep(0.25)
        assert await call(model, "p1") == "b"
        assert len(a.calls) == before + 1
        await asyncio.gather(*(call(model, f"m{i}") for i in range(5)))
        assert len(a.calls) == before + 1  # 0.4 s out now
        # healthy again: the next probe succeeds and a is back in rotation
        a.fail = None
        await asyncio.sleep(0.45)
        assert await call(model, "p2") == "a"
        report = {r.url: r for r in pool.report()}
        assert report["http://a/v1"].in_rotation
        assert report["http://a/v1"].out_of_rotation == pytest.approx(0.25 + 0.45)
        assert report["http://b/v1"].errors == 0
        assert stats.retries == 0  # no call needed a second attempt

    virtual_time.run(scenario())


async def test_dead_replicas_do_not_use_up_a_calls_retries() -> None:
    dead = [Replica(tag) for tag in "abc"]
    for replica in dead:
        replica.fail = down()  # refused at once: no load ever builds up there
    live = Replica("d")
    pool = pool_of(*dead, live, failures=100)  # never taken out: only routing protects
    stats = CallStats()
    model = wrap(pool, stats=stats, retry=RetryPolicy(max_attempts=1, timeout=None))
    replies = [await call(model, f"q{i}") for i in range(30)]
    assert replies == ["d"] * 30  # one attempt each, however many dead replicas it met
    assert stats.retries == 0
    # a replica that just failed gets no new conversations: each dead one is met once
    assert [len(r.calls) for r in dead] == [1, 1, 1]


async def test_busy_is_not_down_a_429_is_sent_on_but_counts_nothing_against_health(
        ) -> None:
    a, b = Replica("a"), Replica("b")
    pool = pool_of(a, b, failures=1)
    assert await call(pool, "x") == "a"
    a.fail = down(429)
    assert await call(pool, "x") == "b"
    report = {r.url: r for r in pool.report()}
    assert report["http://a/v1"].errors == 1 and report["http://a/v1"].in_rotation
    b.fail = down(429)  # everyone busy: Retrying's backoff (and the server's Retry-After)
    with pytest.raises(RetryableError, match="429"):
        await call(pool, "y")
    assert all(r.in_rotation for r in pool.report())


def test_a_hung_replica_is_taken_out_by_the_attempt_timeout_and_left_at_once(
        virtual_time) -> None:
    async def scenario() -> None:
        a, b = Replica("a"), Replica("b")
        pool = pool_of(a, b, failures=1)
        stats = CallStats()
        model = wrap(pool, stats=stats,
                     retry=RetryPolicy(timeout=0.1, initial_delay=5.0, max_attempts=3))
        assert await call(model, "x") == "a"
        a.hang = True
        start = virtual_time.time()
        assert await call(model, "x") == "b"  # timed out on a, then sent to b: no backoff
        assert virtual_time.time() - start == pytest.approx(0.1)  # a's timeout, no backoff
        assert stats.errors.get("timeout") == 1
        assert not {r.url: r for r in pool.report()}["http://a/v1"].in_rotation

    virtual_time.run(scenario())


def test_with_every_replica_out_calls_wait_for_a_probe_not_use_up_retries(
        virtual_time) -> None:
    async def scenario() -> None:
        a, b = Replica("a"), Replica("b")
        pool = pool_of(a, b, failures=1, cooldown=0.1)
        stats = CallStats()
        model = wrap(pool, stats=stats, retry=RetryPolicy(max_attempts=1, timeout=0.05))
        a.fail = b.fail = down(503)

        async def recover() -> None:
            await asyncio.sleep(0.5)  # a few failed probes later
            b.fail = None

        healer = asyncio.ensure_future(recover())
        start = virtual_time.time()
        # both out after one call; the wait (past the 0.05 s timeout) and the failed
        # probes are no attempts: a single attempt is enough once b is back
        assert await asyncio.gather(*(call(model, k) for k in ("x", "y", "z"))) == ["b"] * 3
        # probes at 0.1 and 0.3 fail (the cooldown doubles), the one at 0.7 finds b back
        assert virtual_time.time() - start == pytest.approx(0.7)
        assert stats.requests == 3 and stats.retries == 0
        await healer
        reports = {r.url: r for r in pool.report()}
        assert reports["http://b/v1"].in_rotation and not reports["http://a/v1"].in_rotation

    virtual_time.run(scenario())


def test_an_outage_longer_than_the_policy_allows_gives_up(virtual_time) -> None:
    async def scenario() -> None:
        a, b = Replica("a"), Replica("b")
        pool = pool_of(a, b, failures=1, cooldown=0.05, outage=0.3)
        a.fail = b.fail = down()
        start = virtual_time.time()
        with pytest.raises(RetryableError, match="out of rotation for"):
            await call(wrap(pool, stats=CallStats(), retry=RetryPolicy(max_attempts=1)), "x")
        assert virtual_time.time() - start == pytest.approx(0.3)

    virtual_time.run(scenario())


class Controlled:
    """A replica whose every call waits until the test settles it."""

    def __init__(self, tag: str) -> None:
        self.name = "openai:m"
        self.tag = tag
        self.pending: list[asyncio.Future[None]] = []

    async def generate(self, messages: Any, params: SamplingParams) -> Completion:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending.append(future)
        await future
        return Completion(text=self.tag)


def test_a_call_queued_for_a_replica_that_goes_out_is_sent_elsewhere(
        virtual_time) -> None:
    async def scenario() -> None:
        a, b = Controlled("a"), Controlled("b")
        pool = pool_of(a, b, caps=(1, 1), failures=1)  # type: ignore[arg-type]
        first = asyncio.ensure_future(call(pool, "x"))  # x on a, filling it
        busy = asyncio.ensure_future(call(pool, "y"))  # y on b, filling it
        await asyncio.sleep(0.01)
        queued_on_a = asyncio.ensure_future(call(pool, "x"))  # both full: waits for a slot on a
        await asyncio.sleep(0.01)
        a.pending[0].set_exception(down())  # a is out; its slot frees
        await asyncio.sleep(0.01)
        assert len(a.pending) == 1  # the queued call did not go to the ejected replica
        b.pending[0].set_result(None)
        while len(b.pending) < 3:
            await asyncio.sleep(0.01)
            for future in b.pending[1:]:
                if not future.done():
                    future.set_result(None)
        assert await asyncio.gather(first, busy, queued_on_a) == ["b", "b", "b"]

    virtual_time.run(scenario())


def test_only_the_probe_decides_whether_an_ejected_replica_comes_back(
        virtual_time) -> None:
    async def scenario() -> None:
        a, b = Controlled("a"), Replica("b")
        pool = pool_of(a, b, failures=1, cooldown=0.05)  # type: ignore[arg-type]
        old = [asyncio.ensure_future(call(pool, "x")) for _ in range(3)]  # x: pinned to a
        await asyncio.sleep(0.01)
        a.pending[0].set_exception(down())  # a is out; that call goes on to b
        assert await old[0] == "b"
        await asyncio.sleep(0.06)
        probe = asyncio.ensure_future(call(pool, "p"))  # the cooldown is over: one probe
        await asyncio.sleep(0.01)
        assert len(a.pending) == 4
        a.pending[1].set_result(None)  # a call from before it went out succeeds ...
        assert await old[1] == "a"
        a.pending[2].set_exception(down())  # ... and one fails: neither is the probe
        assert await old[2] == "b"
        assert not {r.url: r for r in pool.report()}["http://a/v1"].in_rotation
        assert await call(pool, "q") == "b"  # still one probe in flight, no second one
        assert len(a.pending) == 4
        a.pending[3].set_result(None)  # the probe's success brings it back
        assert await probe == "a"
        assert {r.url: r for r in pool.report()}["http://a/v1"].in_rotation

    virtual_time.run(scenario())


async def test_affinity_forgets_the_least_recently_used_conversation() -> None:
    a, b = Replica("a"), Replica("b")
    pool = pool_of(a, b, pins=2)
    assert [await call(pool, k) for k in ("x", "y", "x", "z")] == ["a", "b", "a", "a"]
    assert set(pool._pins) == {"x", "z"}  # y was used least recently, not x


async def test_a_fatal_error_is_not_a_health_problem_and_is_not_retried() -> None:
    from debate.errors import FatalTransportError

    a, b = Replica("a"), Replica("b")
    pool = pool_of(a, b, failures=1)
    a.fail = FatalTransportError("HTTP 401", endpoint="openai:m", status=401)
    with pytest.raises(FatalTransportError):
        await call(wrap(pool, stats=CallStats()), "x")
    assert all(r.in_rotation and r.errors == 0 for r in pool.report())


# --- limits ---------------------------------------------------------------------------


def test_tokens_per_minute_reserves_prompt_and_max_tokens(virtual_time) -> None:
    async def scenario() -> None:
        message = Message(role="user", content="x" * 400)  # ~100 tokens + 4
        assert reserved_tokens([message], SamplingParams(max_tokens=96)) == 200
        replica = Replica("a")
        limited = Limited(replica, Limits(max_in_flight=None, tokens_per_minute=1000))
        params = SamplingParams(max_tokens=96)
        tasks = [asyncio.ensure_future(limited.generate([message], params)) for _ in range(8)]
        await asyncio.sleep(0.1)
        assert len(replica.calls) == 5  # 5 x 200 = the minute's 1000 tokens
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    virtual_time.run(scenario())


def test_per_endpoint_limits_hold_in_a_run(tmp_path: Path) -> None:
    servers = [MockServer(latency=0.05, policy=tagged(t)).start() for t in "abc"]
    try:
        caps = [2, 3, 4]
        cfg = config(tmp_path, "openai:mock", 12, concurrency=12, endpoints={
            "openai:mock": [{"url": s.url, "max_in_flight": cap}
                            for s, cap in zip(servers, caps, strict=True)]})
        summary = asyncio.run(arun_experiment(cfg, progress=False))
    finally:
        for server in servers:
            server.stop()
    assert summary.debates == 12 and not summary.failed
    assert [s.peak_in_flight for s in servers] == caps  # full, never over
    reports = summary.endpoints["openai:mock"]
    assert [r.calls for r in reports] == [s.served["ok"] for s in servers]
    assert sum(r.calls for r in reports) == summary.calls == 12 * 3 * 3


# --- end to end, against real servers -------------------------------------------------


def served_by(raw: str) -> str:
    found = re.match(r"\[(\w+)\]", raw)
    assert found, raw
    return found.group(1)


def test_each_agent_of_each_debate_stays_on_one_server_and_the_cache_ignores_which(
        tmp_path: Path) -> None:
    servers = [MockServer(latency=0.01, policy=tagged(t)).start() for t in "abc"]
    try:
        urls = ",".join(s.url for s in servers)
        cfg = config(tmp_path, f"openai:mock@{urls}", 12, concurrency=6)
        summary = asyncio.run(arun_experiment(cfg, progress=False))
        assert summary.debates == 12 and summary.requests == 12 * 9
        by_conversation: dict[tuple[str, str], set[str]] = defaultdict(set)
        for trace in read_traces(Path(summary.run or "") / "traces.jsonl"):
            for turn in trace.turns:
                by_conversation[trace.question.id, turn.agent].add(served_by(turn.raw))
                assert turn.model == "openai:mock"
        assert len(by_conversation) == 36
        assert all(len(tags) == 1 for tags in by_conversation.values())
        assert all(s.served["ok"] > 0 for s in servers)  # the load was spread
        # the same experiment on one of the replicas: the same run, replayed from the cache
        again = asyncio.run(arun_experiment(
            config(tmp_path, f"openai:mock@{servers[1].url}", 12, concurrency=6),
            progress=False))
        assert again.requests == 0 and again.debates == 12
    finally:
        for server in servers:
            server.stop()


class Process:
    """The mock server as a process, to be killed for real."""

    def __init__(self, latency: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "debate.testing.mock_server", "--port", "0",
             "--latency", str(latency)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True)
        assert self.process.stdout is not None
        self.url: str = json.loads(self.process.stdout.readline())["url"]

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url.removesuffix("/v1") + "/stats", timeout=5) as r:
            return dict(json.loads(r.read()))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        assert self.process.stdout is not None
        self.process.stdout.close()


def test_a_replica_killed_mid_run_loses_no_debate_and_pays_for_no_call_twice(
        tmp_path: Path) -> None:
    servers = [Process(latency=0.05) for _ in range(3)]
    victim = servers[1]

    def kill_when_busy() -> None:
        deadline = time.monotonic() + 60
        while victim.stats()["outcomes"].get("ok", 0) < 40 and time.monotonic() < deadline:
            time.sleep(0.01)
        victim.process.kill()  # SIGKILL: its in-flight calls never get an answer

    killer = threading.Thread(target=kill_when_busy)
    try:
        killer.start()
        cfg = config(tmp_path, "openai:mock", 40, concurrency=12,
                     retry={"initial_delay": 0.05},
                     endpoints={"openai:mock": [{"url": s.url} for s in servers]})
        summary = asyncio.run(arun_experiment(cfg, progress=False))
        killer.join()
        survivors = [s.stats()["outcomes"].get("ok", 0) for s in (servers[0], servers[2])]
    finally:
        for server in servers:
            server.stop()
    assert summary.debates == 40 and not summary.failed and summary.stopped is None
    ids = [t.question.id for t in read_traces(Path(summary.run or "") / "traces.jsonl")]
    assert sorted(ids) == sorted(f"q{i}" for i in range(40))  # each once
    reports = {r.url: r for r in summary.endpoints["openai:mock"]}
    dead = reports[victim.url]
    assert dead.errors >= 1 and dead.failovers >= 1 and dead.ejections == 1
    assert not dead.in_rotation and dead.out_of_rotation > 0
    # every call was answered once: the victim's share before it died plus the survivors'
    assert sum(r.calls for r in reports.values()) == summary.calls == 40 * 9
    assert [reports[s.url].calls for s in (servers[0], servers[2])] == survivors
    assert 0 < dead.calls < 60 and sum(survivors) > 300  # its share (about 120) moved
    # report.md and the console show the same per-endpoint counts
    report = (Path(summary.run or "") / "report.md").read_text()
    row = f"| openai:mock | {victim.url} | {dead.calls} | {dead.errors} | {dead.failovers} | 1 |"
    assert "## Endpoints" in report and row in report and report.count(victim.url) == 1
    console = Console(width=80, record=True)
    print_summary(summary, console)
    shown = console.export_text()
    assert "endpoints of openai:mock" in shown and victim.url.removeprefix("http://") in shown


def test_the_readmes_pool_example_is_a_valid_spec(tmp_path: Path) -> None:
    import yaml

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    (block,) = [b for b in re.findall(r"```yaml\n(.*?)```", readme, flags=re.S)
                if "endpoints:" in b]
    cfg = ExperimentConfig(**yaml.safe_load(block), dataset=questions(tmp_path, 1))
    a, b = cfg.endpoints_of("openai:Qwen/Qwen2.5-7B-Instruct")
    assert (a.max_in_flight, b.max_in_flight, b.tokens_per_minute) == (128, 64, 2_000_000)
    assert cfg.pool.cooldown == 5


def test_a_probe_that_is_cancelled_hands_the_probe_to_a_waiting_call_at_once(
        virtual_time) -> None:
    async def scenario() -> None:
        a = Controlled("a")
        pool = pool_of(a, failures=1, cooldown=0.05, outage=3.0)  # type: ignore[arg-type]
        probe = asyncio.ensure_future(call(pool, "x"))
        await asyncio.sleep(0.01)
        a.pending[0].set_exception(down(503))  # a is out: the call waits, then probes it
        await asyncio.sleep(0.1)
        assert len(a.pending) == 2
        waiting = asyncio.ensure_future(call(pool, "w"))
        await asyncio.sleep(0.01)
        probe.cancel()  # its debate was cancelled: the waiting call is the next probe
        start = virtual_time.time()
        while len(a.pending) < 3 and virtual_time.time() - start < 5.0:
            await asyncio.sleep(0.01)
        assert virtual_time.time() - start == pytest.approx(0.01)  # not the outage's 3 s
        a.pending[2].set_result(None)
        assert await waiting == "a"

    virtual_time.run(scenario())


def test_a_call_from_before_an_ejection_has_no_say_after_the_probe(
        virtual_time) -> None:
    async def scenario() -> None:
        a, b = Controlled("a"), Replica("b")
        pool = pool_of(a, b, failures=1, cooldown=0.05)  # type: ignore[arg-type]
        old = [asyncio.ensure_future(call(pool, "x")) for _ in range(2)]
        await asyncio.sleep(0.01)
        a.pending[0].set_exception(down(503))  # a is out; old[1] is still in flight there
        assert await old[0] == "b"
        await asyncio.sleep(0.06)
        probe = asyncio.ensure_future(call(pool, "p"))
        await asyncio.sleep(0.01)
        a.pending[2].set_result(None)
        assert await probe == "a"  # back in rotation
        a.pending[1].set_exception(down(503))  # the call from before it went out fails now
        assert await old[1] == "b"
        report = {r.url: r for r in pool.report()}["http://a/v1"]
        assert report.in_rotation and report.ejections == 1 and report.errors == 2

    virtual_time.run(scenario())


def test_a_replica_a_probe_brings_back_starts_with_a_clean_slate(
        virtual_time) -> None:
    async def scenario() -> None:
        a, b = Replica("a"), Replica("b")
        pool = pool_of(a, b, failures=3, cooldown=0.05)
        assert [await call(pool, k) for k in ("x", "y", "w")] == ["a", "b", "a"]
        a.fail = down(503)
        assert await call(pool, "x") == "b"  # failures 1, 2 ...
        await asyncio.sleep(0.06)  # (past a's suspect time, so w still starts on a)
        assert await call(pool, "w") == "b"
        await asyncio.sleep(0.06)
        pool._pin("v", pool._members[0])
        assert await call(pool, "v") == "b"  # ... 3: out
        assert not {r.url: r for r in pool.report()}["http://a/v1"].in_rotation
        await asyncio.sleep(0.06)
        a.fail = down(429)  # the probe is answered, busy: a is up
        assert await call(pool, "p") == "b"
        assert {r.url: r for r in pool.report()}["http://a/v1"].in_rotation
        a.fail = down(503)
        pool._pin("u", pool._members[0])
        assert await call(pool, "u") == "b"  # one failure is not three
        assert {r.url: r for r in pool.report()}["http://a/v1"].in_rotation

    virtual_time.run(scenario())


def test_two_pools_of_one_model_are_reported_apart(tmp_path: Path) -> None:
    from debate.experiment.session import ModelSet

    ab, cd = "http://127.0.0.1:9/v1,http://127.0.0.2:9/v1", ["http://127.0.0.3:9/v1",
                                                            "http://127.0.0.4:9/v1"]
    cfg = config(tmp_path, f"openai:m@{ab}", 1, models=[f"openai:m@{ab}", "openai:m"],
                 endpoints={"openai:m": [{"url": url} for url in cd]})
    models = ModelSet()
    models.build(cfg, CallStats())
    reports = models.endpoint_reports()
    assert len(reports) == 2
    assert sorted(r.url for rs in reports.values() for r in rs) == [
        *ab.split(","), *cd]
    asyncio.run(models.aclose())
