import asyncio
import sqlite3

import pytest

from debate.errors import ConfigError, DebateError, FatalTransportError, RetryableError
from debate.models import (
    CallStats,
    Capabilities,
    Completion,
    Limits,
    Message,
    PriceTable,
    ResponseCache,
    RetryPolicy,
    SamplingParams,
    Usage,
    cache_key,
    wrap,
)
from debate.models.fifo import FifoSemaphore
from debate.models.middleware import Cached, Limited, Retrying
from debate.testing import ScriptedModel

MSGS = [Message(role="user", content="What is 2+2?")]
FAST = RetryPolicy(initial_delay=0.001, max_delay=0.01, timeout=1.0)


class Concurrency:
    """A model that records how many calls overlap."""

    name = "probe"

    def __init__(self, latency=0.02):
        self.latency = latency
        self.now = 0
        self.peak = 0
        self.starts: list[float] = []

    async def generate(self, messages, params):
        self.now += 1
        self.peak = max(self.peak, self.now)
        self.starts.append(asyncio.get_running_loop().time())
        await asyncio.sleep(self.latency)
        self.now -= 1
        return Completion(text="ok")


def test_in_flight_cap(virtual_time):
    async def scenario():
        probe = Concurrency()
        model = Limited(probe, Limits(max_in_flight=3))
        await asyncio.gather(*(model.generate(MSGS, SamplingParams()) for _ in range(20)))
        assert probe.peak == 3

    virtual_time.run(scenario())


def test_a_call_cancelled_while_waiting_for_a_rate_token_gives_its_slot_back(virtual_time):
    async def scenario():
        probe = Concurrency(latency=0)
        model = Limited(probe, Limits(max_in_flight=2, requests_per_second=1))
        first = await model.generate(MSGS, SamplingParams())  # the only token of the window
        assert first.text == "ok"
        waiting = asyncio.create_task(model.generate(MSGS, SamplingParams()))
        await asyncio.sleep(0.5)  # virtual: half the 1 s window, the token is still spent
        assert not waiting.done() and model._in_flight._free == 1  # holds a slot, waits
        assert len(probe.starts) == 1
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert model._in_flight.free() and model._in_flight._free == 2

    virtual_time.run(scenario())


def test_requests_per_second_limit(virtual_time):
    probe = Concurrency(latency=0)
    model = Limited(probe, Limits(max_in_flight=100, requests_per_second=50))

    async def eleven():
        await asyncio.gather(*(model.generate(MSGS, SamplingParams()) for _ in range(11)))

    virtual_time.run(eleven())
    # 11 requests at 50/s: windows of 0.1 s hold 5 each, so the last starts after 0.2 s
    starts = probe.starts
    assert len(starts) == 11 and starts[:5] == [0.0] * 5
    assert 0.2 < starts[-1] < 0.25  # not sooner, and not much later (10 ms polls)
    for i, t in enumerate(starts):
        assert sum(t <= s < t + 0.1 for s in starts[i:]) <= 5


async def test_retries_transient_errors_then_succeeds():
    stats = CallStats()
    inner = ScriptedModel("ok", failures=[RetryableError("busy", status=429),
                                          RetryableError("down", status=500)])
    model = Retrying(inner, FAST, stats)
    result = await model.generate(MSGS, SamplingParams())
    assert result.text == "ok"
    assert len(inner.calls) == 3
    assert (stats.requests, stats.retries) == (3, 2)
    assert stats.errors == {"HTTP 429": 1, "HTTP 500": 1}


def test_honours_retry_after(virtual_time):
    stats = CallStats()
    inner = ScriptedModel("ok", failures=[RetryableError("slow down", status=429,
                                                         retry_after=0.3)])
    model = Retrying(inner, RetryPolicy(initial_delay=0.001), stats)
    virtual_time.run(model.generate(MSGS, SamplingParams()))
    assert virtual_time.time() == pytest.approx(0.3)  # the server's 0.3 s, not the backoff


async def test_never_retries_input_errors():
    stats = CallStats()
    inner = ScriptedModel("ok", failures=[FatalTransportError("bad request", status=400)])
    model = Retrying(inner, FAST, stats)
    with pytest.raises(FatalTransportError):
        await model.generate(MSGS, SamplingParams())
    assert len(inner.calls) == 1 and stats.retries == 0


async def test_gives_up_after_max_attempts():
    stats = CallStats()
    inner = ScriptedModel("ok", failures=[RetryableError("x", status=503)] * 10)
    model = Retrying(inner, FAST.model_copy(update={"max_attempts": 3}), stats)
    with pytest.raises(RetryableError, match="gave up after 3 attempts"):
        await model.generate(MSGS, SamplingParams())
    assert len(inner.calls) == 3


def test_timeout_is_retried(virtual_time):
    async def scenario():
        stats = CallStats()

        class Hangs:
            name = "hangs"
            calls = 0

            async def generate(self, messages, params):
                Hangs.calls += 1
                if Hangs.calls == 1:
                    await asyncio.sleep(10)
                return Completion(text="late but fine")

        model = Retrying(Hangs(), RetryPolicy(timeout=0.05, initial_delay=0.001), stats)
        assert (await model.generate(MSGS, SamplingParams())).text == "late but fine"
        assert stats.errors == {"timeout": 1}

    virtual_time.run(scenario())


def test_the_timeout_counts_the_call_not_the_wait_for_a_turn(virtual_time):
    """Five 0.1 s calls through a cap of one: the last waits 0.4 s, longer than the
    0.25 s timeout, yet none times out, because only the call itself is timed."""
    stats = CallStats()
    probe = Concurrency(latency=0.1)
    model = wrap(probe, stats=stats, limits=Limits(max_in_flight=1),
                 retry=RetryPolicy(timeout=0.25, max_attempts=1))

    async def five():
        await asyncio.gather(*(model.generate(MSGS, SamplingParams(sampler=str(i)))
                               for i in range(5)))

    virtual_time.run(five())
    assert probe.starts == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4]) and stats.errors == {}
    slow = wrap(Concurrency(latency=0.5), stats=stats, limits=Limits(max_in_flight=1),
                retry=RetryPolicy(timeout=0.25, max_attempts=1))
    start = virtual_time.time()
    with pytest.raises(RetryableError, match="no reply within 0.25s"):
        virtual_time.run(slow.generate(MSGS, SamplingParams()))
    assert virtual_time.time() - start == pytest.approx(0.25)


class Sleeps:
    """A model whose n-th call takes ``latencies[n]`` seconds."""

    name = "sleeps"

    def __init__(self, *latencies):
        self.latencies = list(latencies)

    async def generate(self, messages, params):
        await asyncio.sleep(self.latencies.pop(0))
        return Completion(text="ok")


def test_each_attempt_times_out_at_its_own_deadline(virtual_time):
    """Calls started at 0, 0.1 and 0.2 s with a 0.25 s timeout: the slow ones time out
    at exactly 0.25 and 0.45 s, the quick one in between is answered."""
    stats = CallStats()
    model = Retrying(Sleeps(9, 0.05, 9), RetryPolicy(timeout=0.25, max_attempts=1), stats)
    ended: list[tuple[str, float]] = []

    async def call(delay):
        await asyncio.sleep(delay)
        try:
            ended.append(((await model.generate(MSGS, SamplingParams())).text,
                          virtual_time.time()))
        except RetryableError:
            ended.append(("timeout", virtual_time.time()))

    async def three():
        await asyncio.gather(call(0), call(0.1), call(0.2))

    virtual_time.run(three())
    assert ended == [("ok", pytest.approx(0.15)), ("timeout", pytest.approx(0.25)),
                     ("timeout", pytest.approx(0.45))]
    assert stats.errors == {"timeout": 2}


def test_a_layer_times_out_on_each_event_loop_it_runs_on():
    model = Retrying(Sleeps(9, 9), RetryPolicy(timeout=0.05, max_attempts=1), CallStats())
    for _ in range(2):  # the second asyncio.run: a new loop, the timer must follow it
        with pytest.raises(RetryableError, match="no reply within 0.05s"):
            asyncio.run(model.generate(MSGS, SamplingParams()))


def test_a_caller_cancelling_a_call_is_not_a_timeout(virtual_time):
    async def scenario():
        stats = CallStats()
        model = Retrying(Sleeps(9), RetryPolicy(timeout=5, max_attempts=3), stats)
        call = asyncio.create_task(model.generate(MSGS, SamplingParams()))
        await asyncio.sleep(0.01)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert stats.errors == {} and stats.requests == 1

    virtual_time.run(scenario())


def test_in_process_backends_get_no_timeout_unless_one_is_set():
    class InProcess(Concurrency):
        capabilities = Capabilities(in_process=True)

    def timeout(backend, retry=None):
        return wrap(backend, stats=CallStats(), retry=retry).inner.policy.timeout

    assert timeout(Concurrency()) == 120.0  # a server: the default timeout
    assert timeout(InProcess()) is None
    assert timeout(InProcess(), RetryPolicy(max_attempts=2)) is None
    assert timeout(InProcess(), RetryPolicy(timeout=30)) == 30  # asked for: applied


async def test_a_freed_slot_goes_to_the_waiting_call_that_continues_its_chat():
    from debate.models.llamacpp import _SlotPool

    pool = _SlotPool(1)
    chat = (("user", "What is 2 + 3?"),)
    slot = await pool.acquire(chat)
    other = asyncio.create_task(pool.acquire((("user", "Name a colour."),)))
    follow = asyncio.create_task(pool.acquire((*chat, ("assistant", "5"), ("user", "Sure?"))))
    await asyncio.sleep(0)  # both wait, the other chat first
    pool.release(slot, (*chat, ("assistant", "5")))
    async with asyncio.timeout(5):
        assert await follow == slot and not other.done()
        pool.release(slot, None)
        assert await other == slot  # then the oldest


def test_backoff_grows_with_jitter():
    policy = RetryPolicy(initial_delay=1, multiplier=2, max_delay=10, jitter=0.5)
    for attempt, full in [(1, 1), (2, 2), (3, 4), (6, 10)]:
        delay = policy.delay(attempt, None)
        assert full * 0.5 <= delay <= full
    assert policy.delay(1, 7.0) == 7.0
    assert policy.delay(1, 100.0) == 10


async def test_cache_hit_miss_and_slot_separation(tmp_path):
    stats = CallStats()
    inner = ScriptedModel(lambda m, p: f"sample for {p.sampler}")
    cache = ResponseCache(tmp_path / "cache.sqlite")
    model = Cached(inner, cache, stats)
    a = await model.generate(MSGS, SamplingParams(sampler="agent-0"))
    b = await model.generate(MSGS, SamplingParams(sampler="agent-1"))
    assert a.text != b.text and len(inner.calls) == 2  # same prompt, distinct samples
    again = await model.generate(MSGS, SamplingParams(sampler="agent-0"))
    assert again.text == a.text and again.cached and len(inner.calls) == 2
    other = await model.generate(MSGS, SamplingParams(sampler="agent-0", temperature=0.1))
    assert not other.cached and len(inner.calls) == 3
    assert stats.cache_hits == 1 and stats.calls == 4
    cache.close()
    # a re-run (new process, same file) replays exactly
    replay = Cached(ScriptedModel("must not be called"), ResponseCache(tmp_path / "cache.sqlite"),
                    CallStats())
    assert (await replay.generate(MSGS, SamplingParams(sampler="agent-1"))).text == b.text


async def test_a_completion_is_on_disk_before_the_caller_sees_it(tmp_path):
    inner = ScriptedModel(lambda m, p: f"reply {p.sampler}")
    cache = ResponseCache(tmp_path / "c.sqlite")
    model = Cached(inner, cache, CallStats())
    other_process = sqlite3.connect(tmp_path / "c.sqlite")

    def stored() -> int:
        return int(other_process.execute("SELECT COUNT(*) FROM calls").fetchone()[0])

    await model.generate(MSGS, SamplingParams(sampler="a"))
    assert stored() == 1  # a SIGKILL now loses nothing the caller has acted on
    # calls finishing in one loop iteration are committed together, each before its caller
    await asyncio.gather(*(model.generate(MSGS, SamplingParams(sampler=str(i))) for i in range(9)))
    assert stored() == 10
    cache.close()


async def test_a_returned_completion_replays_at_once_from_a_second_cache(tmp_path):
    first = Cached(ScriptedModel("paid for once"), ResponseCache(tmp_path / "c.sqlite"),
                   CallStats())
    await first.generate(MSGS, SamplingParams(sampler="a"))
    # right away, as another process would: a new connection to the same file
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        second = Cached(ScriptedModel([]), cache, CallStats())  # no reply to give
        replay = await second.generate(MSGS, SamplingParams(sampler="a"))
    assert replay.text == "paid for once" and replay.cached
    first.cache.close()


async def test_a_call_another_process_paid_for_replays_from_its_file_never_written(tmp_path):
    """A Ray shard (or a resume with another shard count) reads the run's other caches."""
    with ResponseCache(tmp_path / "cache-shard-0.sqlite") as shard:
        await Cached(ScriptedModel("paid by shard 0"), shard, CallStats()).generate(
            MSGS, SamplingParams(sampler="a"))
    (tmp_path / "empty.sqlite").write_bytes(b"")  # not a cache: warned about, skipped
    with ResponseCache(tmp_path / "cache.sqlite", fallbacks=[
            tmp_path / "cache-shard-0.sqlite", tmp_path / "empty.sqlite"]) as cache:
        model = Cached(ScriptedModel("paid here"), cache, CallStats())
        replay = await model.generate(MSGS, SamplingParams(sampler="a"))
        fresh = await model.generate(MSGS, SamplingParams(sampler="b"))
        assert (replay.text, replay.cached) == ("paid by shard 0", True)
        assert (fresh.text, fresh.cached) == ("paid here", False)
    # new replies go to the cache's own file only
    with ResponseCache(tmp_path / "cache-shard-0.sqlite") as shard:
        assert len(shard) == 1
    with ResponseCache(tmp_path / "cache.sqlite") as own:
        assert len(own) == 1


async def test_a_fallback_cache_that_cannot_be_read_is_a_miss_not_a_crash(tmp_path, caplog):
    import sqlite3

    with ResponseCache(tmp_path / "cache-shard-0.sqlite") as shard:
        for slot in ("a", "b"):
            await Cached(ScriptedModel("paid by shard 0"), shard, CallStats()).generate(
                MSGS, SamplingParams(sampler=slot))
    with ResponseCache(tmp_path / "cache.sqlite",
                       fallbacks=[tmp_path / "cache-shard-0.sqlite"]) as cache:
        other = sqlite3.connect(tmp_path / "cache-shard-0.sqlite")
        other.execute("DROP TABLE calls")  # the file changed under us (another process, NFS)
        other.commit()
        other.close()
        model = Cached(ScriptedModel("paid here"), cache, CallStats())
        for slot in ("a", "b"):
            reply = await model.generate(MSGS, SamplingParams(sampler=slot))
            assert (reply.text, reply.cached) == ("paid here", False)
    assert sum("cannot read a fallback" in r.message for r in caplog.records) == 1  # once


async def test_a_damaged_cache_entry_is_a_warned_miss_and_is_replaced(tmp_path, caplog):
    import sqlite3

    with ResponseCache(tmp_path / "cache.sqlite") as cache:
        await Cached(ScriptedModel("first"), cache, CallStats()).generate(MSGS, SamplingParams())
    db = sqlite3.connect(tmp_path / "cache.sqlite")
    db.execute("UPDATE calls SET completion = '{garbage'")
    db.commit()
    db.close()
    for expected in (("again", False), ("again", True)):  # made again once, then replayed
        with ResponseCache(tmp_path / "cache.sqlite") as cache:
            reply = await Cached(ScriptedModel("again"), cache, CallStats()).generate(
                MSGS, SamplingParams())
        assert (reply.text, reply.cached) == expected
    assert sum("cache.sqlite: the entry of a call is damaged" in r.getMessage()
               for r in caplog.records) == 1


def test_a_file_that_is_not_a_cache_is_refused_unchanged(tmp_path):
    import sqlite3

    path = tmp_path / "cache.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE notes (text)")
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(ConfigError, match=r"cache.sqlite: damaged response cache \(a SQLite "
                                          r"database of other tables \(notes\), not a cache\)"):
        ResponseCache(path)
    assert path.read_bytes() == before
    path.write_bytes(b"not sqlite at all" * 20)
    with pytest.raises(ConfigError, match=r"file is not a database\); move it away"):
        ResponseCache(path)


async def test_a_call_never_stored_costs_no_query_unless_the_file_is_shared(tmp_path):
    """The keys stored are read at open: a miss (every call of a fresh run) asks the file
    nothing; entries present at open and added since are found. A cache opened with
    ``shared=True`` asks the file each time, so it also sees another process's writes."""
    path = tmp_path / "c.sqlite"
    with ResponseCache(path) as earlier:
        await Cached(ScriptedModel("stored earlier"), earlier, CallStats()).generate(
            MSGS, SamplingParams(sampler="a"))
    cache, shared = ResponseCache(path), ResponseCache(path, shared=True)
    queries: list[str] = []
    cache._db.set_trace_callback(queries.append)
    model = Cached(ScriptedModel(lambda m, p: f"new {p.sampler}"), cache, CallStats())
    assert (await model.generate(MSGS, SamplingParams(sampler="b"))).text == "new b"
    assert not [q for q in queries if q.startswith("SELECT")]  # the miss asked nothing
    hit = await model.generate(MSGS, SamplingParams(sampler="a"))
    assert hit.text == "stored earlier" and hit.cached  # present at open: found
    again = await model.generate(MSGS, SamplingParams(sampler="b"))
    assert again.text == "new b" and again.cached  # added since: found
    other = Cached(ScriptedModel([]), shared, CallStats())
    assert (await other.generate(MSGS, SamplingParams(sampler="b"))).text == "new b"
    cache.close()
    shared.close()


async def test_commits_are_grouped_while_replies_keep_coming(tmp_path):
    """A put after a quiet spell is committed in its own iteration of the loop; puts made
    within ``commit_every`` of the last commit wait for one shared commit, no longer."""
    cache = ResponseCache(tmp_path / "c.sqlite", commit_every=0.2)
    commits: list[str] = []
    cache._writer.set_trace_callback(lambda q: commits.append(q) if q == "COMMIT" else None)
    loop = asyncio.get_running_loop()
    start = loop.time()
    await cache.put("first", Completion(text="1"))  # quiet before: no wait
    assert commits == ["COMMIT"] and loop.time() - start < 0.19

    async def put_later(key: str, delay: float) -> float:
        await asyncio.sleep(delay)
        await cache.put(key, Completion(text=key))
        return loop.time() - start

    done = await asyncio.gather(*(put_later(f"k{i}", 0.01 * i) for i in range(5)))
    assert commits == ["COMMIT"] * 2  # five puts in five iterations, one commit
    assert all(0.19 <= t < 2 for t in done)  # each waited for the window to end
    assert len(cache) == 6
    cache.close()
    with pytest.raises(ValueError, match="commit_every"):
        ResponseCache(tmp_path / "d.sqlite", commit_every=-1)


async def test_a_commit_waiting_on_the_file_never_blocks_the_event_loop(tmp_path):
    """Commits run on the cache's writer thread: while one waits for another process's
    write lock, the loop keeps serving every other debate, and the entry being
    committed is already found by lookups. The old in-loop commit froze the loop here,
    so the lock was never released in time and the commit failed."""
    cache = ResponseCache(tmp_path / "c.sqlite", timeout=5)
    other = sqlite3.connect(tmp_path / "c.sqlite", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    put = asyncio.create_task(cache.put("k", Completion(text="stored")))
    ticks = 0
    for _ in range(10):  # the loop runs on while the commit waits
        await asyncio.sleep(0.01)
        ticks += 1
    assert ticks == 10 and not put.done()
    assert (found := cache.get("k")) is not None and found.text == "stored"
    other.execute("ROLLBACK")  # released from the loop: only a free loop gets here
    await asyncio.wait_for(put, 4)
    with sqlite3.connect(tmp_path / "c.sqlite") as reader:
        assert reader.execute("SELECT COUNT(*) FROM calls").fetchone()[0] == 1
    reader.close()
    other.close()
    cache.close()


async def test_a_commit_that_fails_fails_the_call(tmp_path):
    inner = ScriptedModel(lambda m, p: f"reply {p.sampler}")
    cache = ResponseCache(tmp_path / "c.sqlite", timeout=0.05)
    model = Cached(inner, cache, CallStats())
    writer = sqlite3.connect(tmp_path / "c.sqlite", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    with pytest.raises(DebateError, match=r"response cache .*c\.sqlite: cannot commit"):
        await model.generate(MSGS, SamplingParams(sampler="a"))
    writer.execute("ROLLBACK")
    writer.close()
    await model.generate(MSGS, SamplingParams(sampler="b"))  # commits "a" too, now it can
    with sqlite3.connect(tmp_path / "c.sqlite") as other:
        assert other.execute("SELECT COUNT(*) FROM calls").fetchone()[0] == 2
    other.close()
    cache.close()


async def test_identical_calls_in_flight_are_sent_once(tmp_path):
    inner = ScriptedModel("once", latency=0.05)
    model = Cached(inner, ResponseCache(tmp_path / "c.sqlite"), CallStats())
    results = await asyncio.gather(*(model.generate(MSGS, SamplingParams()) for _ in range(5)))
    assert len(inner.calls) == 1
    assert [r.text for r in results] == ["once"] * 5


def test_the_cache_key_is_the_standard_librarys_json_for_every_character():
    """The key hashes compact, sorted, non-ASCII-preserving JSON. It is built with orjson
    for speed; for every code point the bytes must be those the standard library writes
    (keys of caches made before stay valid), and what neither can encode still fails."""
    import hashlib
    import json

    params = SamplingParams(sampler="agent-0", seed=3)
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode
    dumped = params.model_dump(mode="json")
    dumped["slot"] = dumped.pop("sampler")  # the key's name for the sampler (its former name)
    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    for i in range(0, len(chars), 4096):
        text = "".join(chars[i:i + 4096])
        messages = [Message(role="system", content="s"), Message(role="user", content=text)]
        blob = (f"[{encode('m')},{encode([['system', 's'], ['user', text]])},"
                f"{encode(dumped)},{encode('q/r0/x')}]")
        assert cache_key("m", messages, params, "q/r0/x") == \
            hashlib.sha256(blob.encode()).hexdigest()
    with pytest.raises(UnicodeEncodeError):
        cache_key("m", [Message(role="user", content="lone \ud800")], params)


async def test_cache_key_ignores_nothing_that_matters(tmp_path):
    inner = ScriptedModel(lambda m, p: m[-1].content)
    model = Cached(inner, ResponseCache(tmp_path / "c.sqlite"), CallStats())
    await model.generate([Message(role="user", content="a")], SamplingParams())
    await model.generate([Message(role="system", content="a")], SamplingParams())
    await model.generate([Message(role="user", content="a")], SamplingParams(max_tokens=5))
    assert len(inner.calls) == 3


async def test_cost_and_tokens_accounted_for_paid_calls_only(tmp_path):
    stats = CallStats()

    class Priced:
        name = "openai:gpt-4o-mini"

        async def generate(self, messages, params):
            return Completion(text="x", usage=Usage(prompt_tokens=1_000_000,
                                                    completion_tokens=1_000_000))

    model = wrap(Priced(), stats=stats, cache=ResponseCache(tmp_path / "c.sqlite"))
    await model.generate(MSGS, SamplingParams())
    await model.generate(MSGS, SamplingParams())  # cache hit: free
    assert stats.cost == pytest.approx(0.15 + 0.60)
    assert stats.prompt_tokens == 1_000_000 and stats.cache_hits == 1


def test_price_table_overrides_and_snapshots():
    from debate.models import Price

    table = PriceTable({"my-model": Price(input=1, output=2)})
    assert table.cost("openai:my-model", Usage(prompt_tokens=10**6)) == 1
    assert table.price("gpt-4o-mini-2024-07-18") == table.price("gpt-4o-mini")
    assert table.cost("llamacpp:smollm2", Usage(prompt_tokens=5)) == 0
    assert table.cost("openai:unknown-model", Usage()) is None


def test_a_plug_in_backend_that_runs_locally_is_free_and_others_are_priced_by_name():
    """Local is a property of the backend, not a list of prefixes: a plug-in that says its
    models run on the user's hardware costs 0; a hosted plug-in's model of unknown price
    is unknown (never 0), and one named in the table gets the table's price."""
    from debate.models import Price
    from debate.models.backends_registry import BACKENDS, backend

    @backend("my-gpu-box", local=True)
    def mine(spec, **options):
        return ScriptedModel("x")

    @backend("my-gateway")
    def gateway(spec, **options):
        return ScriptedModel("x")

    table = PriceTable({"gw-large": Price(input=1, output=2)})
    usage = Usage(prompt_tokens=10**6, completion_tokens=10**6)
    assert table.cost("my-gpu-box:any-model", usage) == 0
    assert table.cost("my-gateway:gw-unknown", usage) is None
    assert table.cost("my-gateway:gw-large", usage) == 3
    assert table.cost("vllm:meta-llama/Llama-3.1-8B-Instruct", usage) == 0
    assert table.cost("nosuchbackend:thing", usage) is None
    assert BACKENDS["my-gpu-box"].local and not BACKENDS["my-gateway"].local


def test_the_in_flight_cap_serves_in_arrival_order(virtual_time):
    async def scenario():
        slots = FifoSemaphore(2)
        running, peak, order = 0, 0, []

        async def job(i):
            nonlocal running, peak
            async with slots:
                order.append(i)
                running += 1
                peak = max(peak, running)
                await asyncio.sleep(0.01)
                running -= 1

        await asyncio.gather(*(job(i) for i in range(10)))
        assert peak == 2 and order == list(range(10))

    virtual_time.run(scenario())


async def test_a_cancelled_waiter_never_keeps_a_permit():
    slots = FifoSemaphore(1)
    async with slots:
        waiting = asyncio.ensure_future(slots.__aenter__())
        await asyncio.sleep(0)
        waiting.cancel()  # cancelled while queued
        handed = asyncio.ensure_future(slots.__aenter__())
        await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert handed.done() and not handed.cancelled()  # the slot went past the cancelled one
    handed2 = asyncio.ensure_future(slots.__aenter__())
    await asyncio.sleep(0)
    await slots.__aexit__()  # ``handed`` is done: its slot goes to handed2...
    handed2.cancel()  # ...which is cancelled before it runs: the slot must be passed on
    await asyncio.gather(handed2, return_exceptions=True)
    async with asyncio.timeout(1):
        async with slots:
            pass


async def test_a_cancelled_caller_cancels_only_its_own_wait_for_a_merged_call(tmp_path):
    """Found in review: two identical calls in flight share one; when the first caller was
    cancelled (a served client that went away), the second got its CancelledError and its
    debate died. Now the second makes the call itself and gets a reply."""
    release = asyncio.Event()

    async def slow(messages, params):
        await release.wait()
        return "the reply"

    inner = ScriptedModel(slow)
    stats = CallStats()
    model = Cached(inner, ResponseCache(tmp_path / "c.sqlite"), stats)
    first = asyncio.ensure_future(model.generate(MSGS, SamplingParams()))
    await asyncio.sleep(0)
    second = asyncio.ensure_future(model.generate(MSGS, SamplingParams()))
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.sleep(0)
    release.set()
    assert (await second).text == "the reply"
    assert first.cancelled() and len(inner.calls) == 2 and stats.calls == 2
