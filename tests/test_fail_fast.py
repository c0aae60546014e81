"""Nothing listening at a model's address: the run stops within seconds, with one line.

An endpoint that has never answered in this run and refuses the connection is tried
a few times in turns (not every call six times) and given up; one that has answered
is retried as before, so a server restarted mid-run does not stop the run.
Timings run on the virtual clock (``virtual_time``) against real closed ports.
"""

import asyncio
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from debate.cli import app
from debate.errors import RetryableError, UnreachableError, connection_error
from debate.models import (
    CallStats,
    Completion,
    Limits,
    Message,
    RetryPolicy,
    SamplingParams,
    create_backend,
    wrap,
)
from debate.models.pool import EndpointPool, PoolPolicy
from debate.testing import MockServer

MSGS = [Message(role="user", content="What is 2+2?")]
PARAMS = SamplingParams()
# no jitter: the backoffs are exactly 1 s and 2 s, so the tries are at 0, 1 and 3 s
EXACT = RetryPolicy(jitter=0.0)


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 that refuses connections: bound (so nobody else takes it),
    never listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture
def closed_ports() -> Iterator[tuple[int, int]]:
    with socket.socket() as first, socket.socket() as second:
        first.bind(("127.0.0.1", 0))
        second.bind(("127.0.0.1", 0))
        yield first.getsockname()[1], second.getsockname()[1]


async def gather_errors(model, calls: int) -> list[BaseException]:
    results = await asyncio.gather(*(model.generate(MSGS, PARAMS) for _ in range(calls)),
                                   return_exceptions=True)
    assert all(isinstance(r, BaseException) for r in results)
    return [r for r in results if isinstance(r, BaseException)]


def test_calls_to_a_closed_port_stop_after_three_tries_in_three_seconds(virtual_time,
                                                                       closed_port):
    url = f"http://127.0.0.1:{closed_port}/v1"
    stats = CallStats()

    async def ten_calls():
        async with wrap(create_backend(f"openai:m@{url}"), stats=stats, retry=EXACT) as model:
            return await gather_errors(model, 10)

    errors = virtual_time.run(ten_calls())
    assert virtual_time.time() == 3.0  # not the 6 attempts x backoff of every call
    message = (f"cannot connect to {url} (connection refused): 3 attempts over 3.0 s; "
               f"is the server running? [openai:m@{url}]")
    assert [str(e) for e in errors] == [message] * 10  # one message, whichever call raises
    assert all(type(e) is UnreachableError for e in errors)
    # the ten first attempts, then one try at a time: two more requests, not 50 retries
    assert (stats.requests, stats.retries, stats.errors) == (12, 2, {"connection": 12})


def test_connect_attempts_sets_how_many_tries(virtual_time, closed_port):
    url = f"http://127.0.0.1:{closed_port}/v1"
    policy = RetryPolicy(jitter=0.0, connect_attempts=1)

    async def one_call():
        async with wrap(create_backend(f"openai:m@{url}"), stats=CallStats(),
                        retry=policy) as model:
            return await gather_errors(model, 1)

    [error] = virtual_time.run(one_call())
    assert virtual_time.time() == 0.0
    assert "(connection refused): 1 attempt over 0.0 s; is the server running?" in str(error)


class Restarting:
    """A server that answered, went down (connections refused) and came back."""

    name = "openai:m"

    def __init__(self, outcomes: list[str]) -> None:
        self.outcomes = outcomes
        self.times: list[float] = []

    async def generate(self, messages, params):
        self.times.append(asyncio.get_running_loop().time())
        if self.outcomes.pop(0) == "refused":
            raise connection_error("http://127.0.0.1:9/v1", ConnectionRefusedError(111, "no"),
                                   endpoint=self.name)
        return Completion(text="ok")


def test_an_endpoint_that_has_answered_is_retried_as_before_when_it_restarts(virtual_time):
    server = Restarting(["ok", *["refused"] * 4, "ok"])

    async def two_calls():
        model = wrap(server, stats=CallStats(), retry=EXACT)
        await model.generate(MSGS, PARAMS)
        return await model.generate(MSGS, SamplingParams(seed=1))  # not a cache hit

    assert virtual_time.run(two_calls()).text == "ok"
    # the usual backoff (1, 2, 4, 8 s) through four refusals, well past three tries
    assert server.times == [0.0, 0.0, 1.0, 3.0, 7.0, 15.0]


def test_an_endpoint_that_has_answered_gives_up_after_max_attempts(virtual_time):
    server = Restarting(["ok", *["refused"] * 6])

    async def two_calls():
        model = wrap(server, stats=CallStats(), retry=EXACT)
        await model.generate(MSGS, PARAMS)
        await model.generate(MSGS, SamplingParams(seed=1))

    with pytest.raises(RetryableError, match=r"^gave up after 6 attempts: cannot connect"):
        virtual_time.run(two_calls())


def test_a_call_refused_before_the_first_answer_goes_on_once_the_endpoint_answers(
        virtual_time):
    """Two calls refused at the start: the one whose turn it is gets through, and the
    other, waiting for its turn, is sent as soon as the endpoint has answered."""
    server = Restarting(["refused", "refused", "ok", "ok"])

    async def two_calls():
        model = wrap(server, stats=CallStats(), retry=EXACT)
        return await asyncio.gather(model.generate(MSGS, PARAMS),
                                    model.generate(MSGS, SamplingParams(seed=1)))

    assert [c.text for c in virtual_time.run(two_calls())] == ["ok", "ok"]
    assert server.times == [0.0, 0.0, 1.0, 1.0]


# --- endpoint pools ------------------------------------------------------------------------


def test_a_pool_whose_replicas_never_answered_fails_fast_naming_them_all(virtual_time,
                                                                         closed_ports):
    urls = [f"http://127.0.0.1:{port}/v1" for port in closed_ports]
    stats = CallStats()
    pool = create_backend(f"openai:m@{','.join(urls)}")
    assert isinstance(pool, EndpointPool)

    async def five_calls():
        async with wrap(pool, stats=stats, retry=EXACT) as model:
            return await gather_errors(model, 5)

    errors = virtual_time.run(five_calls())
    assert virtual_time.time() == 3.0  # not the pool's outage wait (300 s)
    assert str(errors[0]) == (
        f"cannot connect to any endpoint of the pool: {urls[0]} (connection refused), "
        f"{urls[1]} (connection refused): 3 attempts over 3.0 s; are the servers running? "
        "[openai:m]")
    # no replica known to work: none was taken out of rotation to wait for
    assert [(r.ejections, r.in_rotation) for r in pool.report()] == [(0, True)] * 2
    assert stats.requests == 5 + 2  # an attempt tries both replicas


class Replica:
    name = "openai:m"

    def __init__(self, refuses: bool) -> None:
        self.refuses = refuses
        self.calls = 0

    async def generate(self, messages, params):
        self.calls += 1
        if self.refuses:
            raise connection_error("http://127.0.0.1:9/v1", ConnectionRefusedError(111, "no"),
                                   endpoint=self.name)
        return Completion(text="ok")


async def test_a_refusing_replica_is_taken_out_only_once_another_has_answered():
    dead, live = Replica(refuses=True), Replica(refuses=False)
    # one failure takes a replica out; a cooldown so short the dead one is soon tried again
    pool = EndpointPool([("http://dead/v1", dead), ("http://live/v1", live)],
                        [Limits(), Limits()], PoolPolicy(affinity=False, failures=1,
                                                         cooldown=1e-6))
    model = wrap(pool, stats=CallStats())
    assert (await model.generate(MSGS, PARAMS)).text == "ok"  # refused there, then sent on
    dead_report = pool.report()[0]
    assert (dead_report.errors, dead_report.ejections) == (1, 0)  # nothing had answered yet
    for seed in range(1, 4):
        assert (await model.generate(MSGS, SamplingParams(seed=seed))).text == "ok"
    dead_report = pool.report()[0]
    assert dead_report.ejections == 1 and not dead_report.in_rotation


# --- through the command line ----------------------------------------------------------------


def test_debate_run_against_a_closed_port_stops_with_one_line_and_keeps_the_summary(
        tmp_path: Path, closed_port):
    data = tmp_path / "q.jsonl"
    data.write_text("".join(json.dumps({"id": f"q{i}", "question": f"What is {i} + 1?",
                                        "answer": i + 1}) + "\n" for i in range(2)))
    url = f"http://127.0.0.1:{closed_port}/v1"
    result = CliRunner().invoke(app, ["run", "--dataset", str(data), "--model", f"openai:x@{url}",
                                      "--out", str(tmp_path), "--name", "run", "--concurrency",
                                      "2", "--no-progress"])
    assert result.exit_code == 1
    stderr = " ".join(result.stderr.split())  # rich wraps long lines at 80 columns
    assert stderr.startswith(f"run stopped: cannot connect to {url} (connection refused): "
                             "3 attempts over ")
    assert f"s; is the server running? [openai:x@{url}]" in stderr
    assert "Traceback" not in result.output and "gave up after" not in result.output
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["protocol"] == "du" and summary["models"] == ["openai:x"]
    assert summary["stopped"].startswith(f"cannot connect to {url}")
    # 2 debates x 3 debaters refused at once, then two tries: not 6 attempts a call
    assert summary["requests"] == 6 + 2 and summary["errors"] == {"connection": 8}
    table = " ".join(result.stdout.split())
    assert "protocol │ du" in table and "models │ openai:x" in table


def test_a_run_against_a_server_that_answers_is_not_stopped(tmp_path: Path):
    """The fail-fast rule leaves a healthy run alone (a sanity check on its bookkeeping)."""
    data = tmp_path / "q.jsonl"
    data.write_text(json.dumps({"id": "q", "question": "What is 1 + 1?", "answer": 2}) + "\n")
    with MockServer() as server:
        result = CliRunner().invoke(app, ["run", "--dataset", str(data), "--model",
                                          f"openai:mock@{server.url}", "--out", str(tmp_path),
                                          "--name", "run", "--no-progress"])
    assert result.exit_code == 0, result.output
