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
from debate.errors import ConfigError, RetryableError
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
from debate.report import print_summary
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
    return EndpointPool([(f"http://{r.tag}/v1", Limited(r, Limits(max_in_flight=c)))
                         for r, c in zip(replicas, caps, strict=True)], caps,
                        PoolPolicy(**policy))


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
    assert one.identity() == three.identity()


def test_a_url_listed_twice_is_refused() -> None:
    with pytest.raises(ConfigError, match="listed twice"):
        EndpointPool.create(parse_model_spec("openai:m"),
                            [Endpoint(url="http://a/v1"), Endpoint(url="http://a/v1")])


# --- routing --------------------------------------------------------------------------


async def test_a_conversation_stays_on_its_replica_and_new_ones_go_to_the_least_loaded(
        ) -> None:
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


async def test_affinity_yields_to_load_when_the_replica_is_saturated() -> None:
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


async def test_without_affinity_every_call_goes_to_the_least_loaded() -> None:
    a, b = Replica("a", latency=0.01), Replica("b", latency=0.01)
    pool = pool_of(a, b, affinity=False)
    replies = await asyncio.gather(*(call(pool, "same") for _ in range(4)))
    assert sorted(replies) == ["a", "a", "b", "b"]


# --- health ---------------------------------------------------------------------------


async def test_a_failing_replica_is_taken_out_its_calls_sent_on_and_probed_back() -> None:
    a, b = Replica("a"), Replica("b")
    pool = pool_of(a, b, failures=2, cooldown=0.2)
    stats = CallStats()
    model = wrap(pool, stats=stats, retry=RetryPolicy(initial_delay=10.0, timeout=None))
    assert await call(model, "x") == "a"
    a.fail = down()
    # a's failure is retried at once on b (no backoff: retry_after 0), and x moves to b
    start = time.monotonic()
    assert await call(model, "x") == "b"
    assert time.monotonic() - start < 1.0
    assert (stats.requests, stats.retries) == (3, 1)  # every attempt counted, once
    assert await call(model, "y") in ("a", "b")
    assert await call(model, "z") in ("a", "b")
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
    assert 0.65 < report["http://a/v1"].out_of_rotation < 2.0
    assert report["http://b/v1"].errors == 0


async def test_busy_is_not_down_a_429_neither_fails_over_nor_counts_against_health() -> None:
    a, b = Replica("a"), Replica("b")
    pool = pool_of(a, b, failures=1)
    a.fail = down(429)
    with pytest.raises(RetryableError):
        await call(pool, "x")
    report = {r.url: r for r in pool.report()}
    assert report["http://a/v1"].errors == 1 and report["http://a/v1"].in_rotation


async def test_a_hung_replica_is_taken_out_by_the_attempt_timeout() -> None:
    a, b = Replica("a"), Replica("b")
    pool = pool_of(a, b, failures=1)
    model = wrap(pool, stats=CallStats(),
                 retry=RetryPolicy(timeout=0.1, initial_delay=0.01, max_attempts=3))
    assert await call(model, "x") == "a"
    a.hang = True
    assert await call(model, "x") == "b"  # timed out on a, then sent to b
    assert not {r.url: r for r in pool.report()}["http://a/v1"].in_rotation


async def test_with_every_replica_out_a_call_waits_for_the_first_probe() -> None:
    a, b = Replica("a"), Replica("b")
    pool = pool_of(a, b, failures=1, cooldown=0.3)
    a.fail = b.fail = down(503)
    for key in ("x", "y"):
        with pytest.raises(RetryableError):
            await call(pool, key)
    with pytest.raises(RetryableError, match="out of rotation") as caught:
        await call(pool, "z")
    assert caught.value.retry_after is not None and 0.1 < caught.value.retry_after <= 0.3
    a.fail = b.fail = None
    model = wrap(pool, stats=CallStats(), retry=RetryPolicy(timeout=None))
    assert await call(model, "z") in ("a", "b")  # Retrying waited for the probe


async def test_a_fatal_error_is_not_a_health_problem_and_is_not_retried() -> None:
    from debate.errors import FatalTransportError

    a, b = Replica("a"), Replica("b")
    pool = pool_of(a, b, failures=1)
    a.fail = FatalTransportError("HTTP 401", endpoint="openai:m", status=401)
    with pytest.raises(FatalTransportError):
        await call(wrap(pool, stats=CallStats()), "x")
    assert all(r.in_rotation and r.errors == 0 for r in pool.report())


# --- limits ---------------------------------------------------------------------------


async def test_tokens_per_minute_reserves_prompt_and_max_tokens() -> None:
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


async def test_while_the_only_probe_is_out_other_calls_wait_a_cooldown_not_spin() -> None:
    a = Replica("a", latency=0.3)
    pool = pool_of(a, failures=1, cooldown=0.2)
    a.fail = down(503)
    with pytest.raises(RetryableError):
        await call(pool, "x")  # a is out
    await asyncio.sleep(0.25)
    a.fail = None
    probe = asyncio.ensure_future(call(pool, "probe"))  # slow: 0.3 s
    await asyncio.sleep(0.01)
    with pytest.raises(RetryableError, match="out of rotation") as caught:
        await call(pool, "y")
    assert caught.value.retry_after == pytest.approx(0.2)  # not 0: no retry storm
    assert await probe == "a"
    assert await call(pool, "y") == "a"  # back in rotation
