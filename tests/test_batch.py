"""Batch runs (debate/models/batch.py) against the mock server's Batch API.

A batch run computes what a synchronous run computes (same trace ids, answers
and call counts), one batch per step of every unfinished debate, at half the
price; failed and expired items are sent again in the next batch.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from debate import ExperimentConfig, arun_experiment
from debate.errors import ConfigError
from debate.models.batch.api import DEFAULT_MAX_BYTES, DEFAULT_MAX_ITEMS
from debate.testing.mock_batches import BatchSettings
from debate.testing.mock_server import MockServer
from debate.trace import read_traces

FAST = {"window": 0.05, "poll_initial": 0.02, "poll_max": 0.05}
PRICES = {"mock": {"input": 1.0, "output": 2.0}}


def config(tmp_path: Path, url: str, n: int, name: str, **kw: Any) -> ExperimentConfig:
    path = tmp_path / "q.jsonl"
    path.write_text("".join(json.dumps({"id": f"q{i}", "question": f"What is {i} + 0?",
                                        "answer": i}) + "\n" for i in range(n)))
    base: dict[str, Any] = {"protocol": "du", "models": [f"openai:mock@{url}"],
                            "dataset": str(path), "output_dir": str(tmp_path), "name": name,
                            "temperature": None, "prices": PRICES}
    return ExperimentConfig(**(base | kw))


def outcome(run: str | None) -> dict[str, Any]:
    return {t.id: (t.final.answer, [(turn.id, turn.answer) for turn in t.turns], t.totals.calls)
            for t in read_traces(Path(run or "") / "traces.jsonl")}


# du: 3 answer rounds; peer-review: solve, one review after the other (2 peers), revise
@pytest.mark.parametrize(("protocol", "steps"), [("du", 3), ("peer-review", 4)])
def test_a_batch_run_computes_what_a_synchronous_run_does_one_batch_per_step(
        tmp_path: Path, protocol: str, steps: int) -> None:
    with MockServer() as server:
        sync = asyncio.run(arun_experiment(
            config(tmp_path, server.url, 12, "sync", protocol=protocol), progress=False))
        synchronous_requests = server.requests
        batch = asyncio.run(arun_experiment(
            config(tmp_path, server.url, 12, "batch", protocol=protocol, batch=True,
                   batch_options=FAST), progress=False))
        assert server.requests == synchronous_requests  # nothing went the synchronous way
        answered = server.stats()["batches"]["items_answered"]
    assert outcome(batch.run) == outcome(sync.run) and len(outcome(sync.run)) == 12
    assert batch.batches == steps and sync.batches is None
    assert answered == batch.requests == sync.requests == batch.calls
    assert sync.cost is not None and batch.cost == pytest.approx(sync.cost / 2)
    assert f"| batches | {steps} submitted" in (Path(batch.run or "") / "report.md").read_text()


def test_failed_and_expired_items_go_again_in_the_next_batch(tmp_path: Path) -> None:
    settings = BatchSettings(failure_rate=0.2, expire_rate=0.1, seed=5)
    with MockServer(batches=settings) as server:
        sync = asyncio.run(arun_experiment(config(tmp_path, server.url, 10, "sync"),
                                           progress=False))
        batch = asyncio.run(arun_experiment(
            config(tmp_path, server.url, 10, "batch", batch=True, batch_options=FAST,
                   retry={"initial_delay": 0.01}), progress=False))
    assert outcome(batch.run) == outcome(sync.run) and not batch.failed
    assert batch.batches is not None and batch.batches > 3  # the retries' batches
    assert batch.retries > 0 and batch.errors


def test_batch_needs_an_openai_model(tmp_path: Path) -> None:
    cfg = config(tmp_path, "http://127.0.0.1:9/v1", 1, "x", models=["scripted:echo"],
                 batch=True)
    with pytest.raises(ConfigError, match="batch: true"):
        asyncio.run(arun_experiment(cfg, progress=False))
    assert not (tmp_path / "x").exists()


def test_an_anthropic_batch_run_computes_what_a_synchronous_run_does(tmp_path: Path) -> None:
    with MockServer() as server:
        model = f"anthropic:mock@{server.url.removesuffix('/v1')}"
        sync = asyncio.run(arun_experiment(config(tmp_path, server.url, 8, "sync",
                                                  models=[model]), progress=False))
        batch = asyncio.run(arun_experiment(
            config(tmp_path, server.url, 8, "batch", models=[model], batch=True,
                   batch_options=FAST), progress=False))
        answered = server.stats()["batches"]["items_answered"]
    assert outcome(batch.run) == outcome(sync.run) and len(outcome(sync.run)) == 8
    assert batch.batches == 3 and answered == batch.calls == 8 * 9


def test_with_retry_sync_failed_items_are_called_at_once_at_the_full_price(
        tmp_path: Path) -> None:
    with MockServer(batches=BatchSettings(failure_rate=0.25, seed=2)) as server:
        batch = asyncio.run(arun_experiment(
            config(tmp_path, server.url, 10, "batch", batch=True,
                   batch_options=FAST | {"retry": "sync"}, retry={"initial_delay": 0.01}),
            progress=False))
        synchronous = server.requests
    assert batch.debates == 10 and not batch.failed
    assert batch.batches == 3 and synchronous > 0  # no batch for the retries
    turns = [t for trace in read_traces(Path(batch.run or "") / "traces.jsonl")
             for t in trace.turns]
    assert sum(not t.batch for t in turns) == synchronous  # priced in full
    assert sum(t.batch for t in turns) + synchronous == 10 * 9


def test_a_run_killed_while_a_batch_is_pending_waits_for_that_batch_on_the_rerun(
        tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    with MockServer(batches=BatchSettings(delay=1.5)) as server:
        cfg = config(tmp_path, server.url, 12, "killed", batch=True,
                     batch_options=FAST | {"poll_initial": 0.1, "poll_max": 0.1})
        spec = tmp_path / "spec.yaml"
        spec.write_text(json.dumps(cfg.model_dump(mode="json", exclude_defaults=True)))
        run = subprocess.Popen([sys.executable, "-m", "debate.cli.main", "run", str(spec),
                                "--no-progress"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while server.stats()["batches"]["submitted"] < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        journal = tmp_path / "killed" / "batches.jsonl"
        while not journal.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        run.send_signal(signal.SIGKILL)  # the first step's batch is still in progress
        run.wait(30)
        assert server.stats()["batches"] == {"submitted": 1, "items_received": 12 * 3,
                                             "items_answered": 0}
        summary = asyncio.run(arun_experiment(cfg, progress=False))
        stats = server.stats()["batches"]
    assert summary.debates == 12 and not summary.failed
    # the pending batch was collected, not sent again: 3 batches for 3 steps in all
    assert stats == {"submitted": 3, "items_received": 12 * 9, "items_answered": 12 * 9}
    assert summary.batches == 2 and server.requests == 0
    batches = [line for line in journal.read_text().splitlines() if '"batch"' in line]
    assert len(batches) == 3  # beside each, the line of its upload ("intent")


def model_of(provider: str, url: str) -> str:
    return f"openai:mock@{url}" if provider == "openai" else (
        f"anthropic:mock@{url.removesuffix('/v1')}")


# issue 26: a lost create reply made Anthropic runs send the same items in a second batch
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize("fault", ["dropped", "error", "unavailable"])
def test_a_create_request_without_a_reply_pays_for_no_item_twice(
        tmp_path: Path, provider: str, fault: str) -> None:
    # dropped, error: the first step's batch is made, its id never arrives (the batch
    # still runs when the client looks for it); unavailable: a 503, no batch made
    with MockServer(batches=BatchSettings(delay=0.3, create_faults=[fault])) as server:
        summary = asyncio.run(arun_experiment(
            config(tmp_path, server.url, 6, "lost", models=[model_of(provider, server.url)],
                   batch=True, batch_options=FAST, retry={"initial_delay": 0.01}),
            progress=False))
        stats, received = server.stats()["batches"], server.batch_store.received
    assert summary.debates == 6 and not summary.failed
    assert stats["submitted"] == summary.batches == 3  # one batch a step (du: 3 rounds)
    assert stats["items_received"] == 6 * 9 and max(received.values()) == 1


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_batch_listed_late_after_a_lost_create_reply_is_not_made_twice(
        tmp_path: Path, provider: str) -> None:
    # the first listing after the lost reply does not show the batch yet: "none was made"
    # is believed only when a second listing, a poll later, agrees
    settings = BatchSettings(delay=0.3, create_faults=["dropped"], list_lag=1)
    with MockServer(batches=settings) as server:
        summary = asyncio.run(arun_experiment(
            config(tmp_path, server.url, 4, "late", models=[model_of(provider, server.url)],
                   batch=True, batch_options=FAST, retry={"initial_delay": 0.01}),
            progress=False))
        stats, received = server.stats()["batches"], server.batch_store.received
    assert summary.debates == 4 and not summary.failed
    assert stats["submitted"] == summary.batches == 3
    assert stats["items_received"] == 4 * 9 and max(received.values()) == 1


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_run_killed_during_the_create_request_waits_for_that_batch_on_the_rerun(
        tmp_path: Path, provider: str) -> None:
    import signal
    import subprocess
    import sys
    import time

    with MockServer(batches=BatchSettings(delay=0.5, create_faults=["hang"])) as server:
        cfg = config(tmp_path, server.url, 12, "killed", models=[model_of(provider, server.url)],
                     batch=True, batch_options=FAST | {"poll_initial": 0.1, "poll_max": 0.1})
        spec = tmp_path / "spec.yaml"
        spec.write_text(json.dumps(cfg.model_dump(mode="json", exclude_defaults=True)))
        run = subprocess.Popen([sys.executable, "-m", "debate.cli.main", "run", str(spec),
                                "--no-progress"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while server.stats()["batches"]["submitted"] < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        run.send_signal(signal.SIGKILL)  # the batch is made; its create reply is held back
        run.wait(30)
        summary = asyncio.run(arun_experiment(cfg, progress=False))
        stats, received = server.stats()["batches"], server.batch_store.received
    assert summary.debates == 12 and not summary.failed
    # the killed run's batch was found and collected: 3 batches for 3 steps, no item twice
    assert stats == {"submitted": 3, "items_received": 12 * 9, "items_answered": 12 * 9}
    assert max(received.values()) == 1 and summary.batches == 2
    lines = [json.loads(line) for line in
             (tmp_path / "killed" / "batches.jsonl").read_text().splitlines()]
    assert "batch" not in lines[0] and len(lines[0]["items"]) == 12 * 3  # the intent, first
    assert lines[1]["intent"] == lines[0]["intent"]  # then its batch, found by the re-run


def test_progress_shows_batches_pending_items_done_and_the_money_saved(tmp_path: Path) -> None:
    import io

    from rich.console import Console

    shown = io.StringIO()
    console = Console(file=shown, force_terminal=True, width=150)
    with MockServer(batches=BatchSettings(delay=0.6)) as server:
        summary = asyncio.run(arun_experiment(
            config(tmp_path, server.url, 4, "progress", batch=True, batch_options=FAST,
                   prices={"mock": {"input": 5000.0, "output": 10000.0}}),
            progress=True, console=console))
    text = shown.getvalue()
    assert "1 batches pending · 0 items done" in text  # while the first step waits
    assert summary.cost is not None and summary.cost > 1
    assert f"saved ${summary.cost:.2f}" in text  # at half price, the saving is the cost


async def test_a_batch_refused_as_a_whole_is_fatal_not_retried_forever() -> None:
    from debate.errors import FatalTransportError
    from debate.models import CallStats, Completion, Message, SamplingParams, wrap
    from debate.models.batch import BatchingModel, BatchPolicy

    class Refusing:
        submitted = 0
        max_items, max_bytes = DEFAULT_MAX_ITEMS, DEFAULT_MAX_BYTES

        async def prepare(self, items: Any) -> str:
            return "file-1"

        async def create(self, key: str, items: Any) -> str:
            Refusing.submitted += 1
            raise FatalTransportError("HTTP 413: file too large", endpoint="openai:m", status=413)

        async def find(self, intent: Any, journaled: Any) -> Any:
            raise AssertionError("a refused batch was never made: nothing to look for")

        async def state(self, batch_id: str) -> Any:
            raise AssertionError("never reached")

        async def results(self, batch: Any) -> Any:
            raise AssertionError("never reached")

        async def aclose(self) -> None:
            pass

    model = BatchingModel("openai:m", lambda m, p: {"messages": [x.content for x in m]},
                          lambda data: Completion(text=""), Refusing(),
                          BatchPolicy(window=0.01))
    stats = CallStats()
    with pytest.raises(FatalTransportError, match="413"):
        await wrap(model, stats=stats).generate([Message(role="user", content="hi")],
                                                SamplingParams())
    assert Refusing.submitted == 1 and stats.requests == 1


def test_batch_with_ray_is_refused_at_load(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="batch: true runs in one process"):
        config(tmp_path, "http://127.0.0.1:9/v1", 1, "x", batch=True, executor="ray")


async def test_a_batch_that_cannot_be_read_for_a_while_is_polled_through_not_sent_again() -> None:
    from debate.errors import RetryableError
    from debate.models import CallStats, Completion, Message, SamplingParams, wrap
    from debate.models.batch import BatchingModel, BatchPolicy

    class Flaky:
        submitted, reads, items = 0, 0, [""]
        max_items, max_bytes = DEFAULT_MAX_ITEMS, DEFAULT_MAX_BYTES

        def failure(self, batch: Any) -> str:
            return ""

        async def prepare(self, items: Any) -> str:
            return "file-1"

        async def create(self, key: str, items: Any) -> str:
            Flaky.submitted += 1
            Flaky.items = [custom_id for custom_id, _ in items]
            return "b1"

        async def find(self, intent: Any, journaled: Any) -> Any:
            raise AssertionError("create answered: nothing to look for")

        async def state(self, batch_id: str) -> Any:
            Flaky.reads += 1
            if Flaky.reads <= 2:  # a 503 and a lost connection while it runs
                raise RetryableError("HTTP 503", endpoint="openai:m", status=503)
            return True, {"id": batch_id}

        async def results(self, batch: Any) -> Any:
            return {Flaky.items[0]: {"text": "paid once"}}

        async def aclose(self) -> None:
            pass

    model = BatchingModel("openai:m", lambda m, p: {"messages": [x.content for x in m]},
                          lambda data: Completion(text=data["text"]), Flaky(),
                          BatchPolicy(window=0.01, poll_initial=0.01, poll_max=0.02))
    reply = await wrap(model, stats=CallStats()).generate([Message(role="user", content="hi")],
                                                          SamplingParams())
    assert reply.text == "paid once" and Flaky.submitted == 1 and Flaky.reads == 3


def test_a_synchronous_rerun_of_a_batch_runs_folder_warns_that_it_pays_again(
        tmp_path: Path) -> None:
    import io

    from rich.console import Console

    with MockServer() as server:
        cfg = config(tmp_path, server.url, 2, "switch")
        first = asyncio.run(arun_experiment(cfg, progress=False))
        run = Path(first.run or "")
        (run / "traces.jsonl").unlink()  # as if killed before any debate finished
        (run / "batches.jsonl").write_text(json.dumps(
            {"batch": "batch_1", "model": "openai:mock", "items": ["x"], "at": 0}) + "\n")
        out = io.StringIO()
        asyncio.run(arun_experiment(cfg, progress=False,
                                    console=Console(file=out, width=200)))
    said = " ".join(out.getvalue().split())
    assert "paid for again by this synchronous run" in said and "--batch" in said


@pytest.mark.timeout(60)  # without the timeout the hung call never returns
def test_synchronous_retries_keep_the_runs_in_flight_cap_and_timeout(tmp_path: Path) -> None:
    # every batch item fails, so every call is retried synchronously (retry: sync)
    with MockServer(latency=0.05, batches=BatchSettings(failure_rate=1.0, seed=1),
                    faults=["hang"]) as server:  # and the first synchronous call hangs
        summary = asyncio.run(arun_experiment(
            config(tmp_path, server.url, 6, "sync-retries", batch=True,
                   batch_options=FAST | {"retry": "sync"}, limits={"max_in_flight": 2},
                   retry={"initial_delay": 0.01, "timeout": 0.5}), progress=False))
        peak = server.peak_in_flight
    assert summary.debates == 6 and not summary.failed
    assert summary.errors.get("timeout") == 1  # the hung call was given up and made again
    assert peak <= 2 + 1  # the run's cap (and the hung call the server still holds), not 18


# issue 27 (review): a whole batch refused at create (4 du debates x 3 agents: 12 requests) is
# the run's error, not 4 failed debates
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_batch_refused_at_create_stops_the_run(tmp_path: Path, provider: str) -> None:
    with MockServer(batches=BatchSettings(delay=0.3, create_faults=["invalid"])) as server:
        summary = asyncio.run(arun_experiment(
            config(tmp_path, server.url, 4, "refused", models=[model_of(provider, server.url)],
                   batch=True, batch_options=FAST), progress=False))
    assert summary.stopped is not None and "batch of 12 requests refused" in summary.stopped
    assert "HTTP 400" in summary.stopped and summary.debates == 0
