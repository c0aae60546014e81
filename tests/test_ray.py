"""The Ray executor (debate/experiment/ray_executor.py) in local mode, against a local mock server.

A Ray run computes what a local run computes (same trace ids, answers and call
counts); an actor killed mid-run is replaced and its shard finishes; a killed
driver loses no finished debate, and the re-run pays for no call twice.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from debate import ExperimentConfig, arun_experiment
from debate.experiment.identity import fingerprint
from debate.experiment.ray_executor import actor_name, shard_of
from debate.testing.mock_server import MockServer
from debate.trace import read_traces

if os.environ.get("CI") == "true":
    import ray  # CI installs the dev extra, which has Ray: fail, never skip, there
else:
    ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def cluster() -> Any:
    """One local Ray (2 CPUs) for the module; its GCS address for other processes."""
    context = ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                       configure_logging=False, namespace="debatelab")
    try:
        yield context.address_info["gcs_address"]
    finally:
        ray.shutdown()


def questions(tmp_path: Path, n: int) -> str:
    path = tmp_path / "q.jsonl"
    path.write_text("".join(json.dumps({"id": f"q{i}", "question": f"What is {i} + 0?",
                                        "answer": i}) + "\n" for i in range(n)))
    return str(path)


def config(tmp_path: Path, url: str, n: int, name: str, **kw: Any) -> ExperimentConfig:
    base: dict[str, Any] = {"protocol": "du", "rounds": 2, "models": [f"openai:mock@{url}"],
                            "dataset": questions(tmp_path, n), "output_dir": str(tmp_path),
                            "name": name, "concurrency": 4, "temperature": None}
    return ExperimentConfig(**(base | kw))


def outcome(run: str | None) -> dict[str, Any]:
    return {t.id: (t.final.answer, [turn.answer for turn in t.turns], t.totals.calls)
            for t in read_traces(Path(run or "") / "traces.jsonl")}


def bodies(server: MockServer) -> Counter[str]:
    return Counter(json.dumps(body, sort_keys=True) for body in server.bodies)


def test_shards_are_a_stable_hash_of_the_id() -> None:
    assert [shard_of(f"q{i}", 3) for i in range(6)] == [shard_of(f"q{i}", 3) for i in range(6)]
    sizes = Counter(shard_of(f"q{i}", 4) for i in range(400))
    assert len(sizes) == 4 and min(sizes.values()) > 60  # about even


def test_a_ray_run_computes_what_a_local_run_computes(cluster: str, tmp_path: Path) -> None:
    with MockServer(latency=0.01) as server:
        local = asyncio.run(arun_experiment(config(tmp_path, server.url, 24, "local"),
                                            progress=False))
        sharded = asyncio.run(arun_experiment(
            config(tmp_path, server.url, 24, "ray", executor="ray", ray={"shards": 3}),
            progress=False))
    assert outcome(sharded.run) == outcome(local.run) and len(outcome(local.run)) == 24
    for key in ("debates", "calls", "requests", "accuracy", "prompt_tokens", "completion_tokens"):
        assert getattr(sharded, key) == getattr(local, key), key
    run = Path(sharded.run or "")
    assert sorted(p.name for p in run.glob("cache*.sqlite")) == [
        "cache-shard-0.sqlite", "cache-shard-1.sqlite", "cache-shard-2.sqlite"]
    # resumed with another executor or shard count, every call replays from the shards' files
    (run / "traces.jsonl").unlink()
    again = asyncio.run(arun_experiment(
        config(tmp_path, server.url, 24, "ray", executor="ray", ray={"shards": 2}),
        progress=False))
    assert again.requests == 0 and again.debates == 24
    (run / "traces.jsonl").unlink()
    here = asyncio.run(arun_experiment(config(tmp_path, server.url, 24, "ray"), progress=False))
    assert here.requests == 0 and outcome(here.run) == outcome(local.run)


def test_an_actor_killed_mid_run_is_replaced_and_its_shard_finishes(
        cluster: str, tmp_path: Path) -> None:
    cfg = config(tmp_path, "URL", 40, "killed", executor="ray", ray={"shards": 2})
    killed: list[int] = []
    with MockServer(latency=0.05) as server:
        cfg = cfg.model_copy(update={"models": [f"openai:mock@{server.url}"]})
        run_dir = Path(cfg.output_dir) / cfg.run_name(fingerprint(cfg).identity)
        victim = actor_name(fingerprint(cfg).identity[:8], run_dir, 0, 0)

        def kill() -> None:
            server.wait_for_requests(60)
            ray.kill(ray.get_actor(victim, namespace="debatelab"))
            killed.append(server.served["ok"])

        killer = threading.Thread(target=kill)
        killer.start()
        summary = asyncio.run(arun_experiment(cfg, progress=False))
        killer.join()
        served = bodies(server)
    assert killed and killed[0] < 40 * 9 / 2  # shard 0 was far from done
    assert summary.debates == 40 and not summary.failed and summary.stopped is None
    short = fingerprint(cfg).identity[:8]
    assert sorted(outcome(summary.run)) == sorted(f"{short}:q{i}" for i in range(40))
    # every call made once, but those the dead actor had in flight (4 debates x 3 agents)
    assert len(served) == 40 * 9
    assert sum(served.values()) - len(served) <= 12


def test_a_killed_driver_loses_no_debate_and_the_rerun_pays_for_no_call_twice(
        cluster: str, tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    with MockServer(latency=0.05) as server:
        cfg = config(tmp_path, server.url, 60, "driver", executor="ray",
                     ray={"shards": 2, "address": cluster})
        spec.write_text(json.dumps(cfg.model_dump(mode="json", exclude_defaults=True)))
        driver = subprocess.Popen([sys.executable, "-m", "debate.cli.main", "run", str(spec),
                                   "--no-progress"], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        traces = tmp_path / "driver" / "traces.jsonl"
        deadline = time.monotonic() + 120
        while (not traces.exists() or traces.read_bytes().count(b"\n") < 10) and (
                time.monotonic() < deadline):
            time.sleep(0.05)
        driver.send_signal(signal.SIGKILL)
        driver.wait(30)
        finished = traces.read_bytes().count(b"\n")
        assert 10 <= finished < 60
        # its actors die with it (Ray kills what a dead driver owned): the server goes quiet
        quiet, last = 0, -1
        while quiet < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
            now = server.requests
            quiet, last = (quiet + 1, now) if now == last else (0, now)
        summary = asyncio.run(arun_experiment(cfg, progress=False))
        served = bodies(server)
    assert summary.debates == 60 and not summary.failed
    ids = [t.question.id for t in read_traces(traces)]
    assert sorted(ids) == sorted(f"q{i}" for i in range(60))  # none lost, none twice
    assert len(served) == 60 * 9
    assert sum(served.values()) - len(served) <= 2 * 4 * 3  # only what was in flight


def test_the_cli_runs_a_spec_on_ray(cluster: str, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from debate.cli.main import app

    with MockServer() as server:
        spec = tmp_path / "spec.yaml"
        spec.write_text(json.dumps(config(tmp_path, server.url, 6, "cli").model_dump(
            mode="json", exclude_defaults=True)))
        for args in (["run", str(spec), "--ray"], ["run", "--ray", str(spec), "--name", "b"],
                     ["run", str(spec), "--ray-address", cluster, "--name", "c"]):
            result = CliRunner().invoke(app, [*args, "--no-progress"])
            assert result.exit_code == 0, result.output
        stored = json.loads((tmp_path / "c" / "config.json").read_text())["config"]
    assert stored["executor"] == "ray" and stored["ray"]["address"] == cluster
    for name in ("cli", "b", "c"):
        assert sorted((tmp_path / name).glob("cache-shard-*.sqlite"))
        assert len(outcome(str(tmp_path / name))) == 6


def test_actors_elsewhere_get_absolute_card_and_plugin_paths(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from debate.experiment.ray_executor import _portable

    (tmp_path / "cards").mkdir()
    for name in ("preset.yaml", "critic.yaml", "mine.py"):
        (tmp_path / "cards" / name).write_text("")
    monkeypatch.chdir(tmp_path)
    cfg = ExperimentConfig.model_construct(
        **ExperimentConfig(dataset=questions(tmp_path, 1)).__dict__
        | {"protocol": "cards/preset.yaml", "plugins": ["cards/mine.py", "some.module"],
           "roles": ["cards/critic.yaml", "judge=cards/critic.yaml", "cards/missing.yaml"]})
    data = _portable(cfg)
    card = str(tmp_path / "cards" / "critic.yaml")
    assert data["protocol"] == str(tmp_path / "cards" / "preset.yaml")
    assert data["plugins"] == [str(tmp_path / "cards" / "mine.py"), "some.module"]
    assert data["roles"] == [card, f"judge={card}", "cards/missing.yaml"]


def test_a_relative_output_dir_keeps_the_shard_caches_in_the_run_folder(
        cluster: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the actors' working folder is another one
    with MockServer() as server:
        cfg = config(tmp_path, server.url, 6, "relative", executor="ray", ray={"shards": 2},
                     output_dir="out")
        summary = asyncio.run(arun_experiment(cfg, progress=False))
    run_dir = Path(summary.run or "")
    assert run_dir.resolve().parent == (tmp_path / "out").resolve()
    assert sorted(p.name for p in run_dir.glob("cache-shard-*.sqlite")) == [
        "cache-shard-0.sqlite", "cache-shard-1.sqlite"]


def test_one_shard_stopping_the_run_stops_the_others_from_starting_debates(
        cluster: str, tmp_path: Path) -> None:
    with MockServer(latency=0.02, faults=["ok"] * 20 + [401]) as server:
        cfg = config(tmp_path, server.url, 40, "halt", executor="ray", ray={"shards": 2},
                     concurrency=1)
        summary = asyncio.run(arun_experiment(cfg, progress=False))
        served = server.served["ok"]
    assert summary.stopped is not None and "401" in summary.stopped
    # the other shard finished the debate it had started, and began no other:
    # without the halt it would have debated its ~20 questions (~180 calls)
    assert served < 20 + 2 * 9 + 9
    assert summary.debates < 8


def test_actor_names_differ_between_run_folders_of_one_experiment(tmp_path: Path) -> None:
    assert actor_name("abc", tmp_path / "a", 0, 0) != actor_name("abc", tmp_path / "b", 0, 0)
    assert actor_name("abc", tmp_path / "a", 0, 0) == actor_name("abc", tmp_path / "a", 0, 0)


def test_endpoint_reports_count_every_actor_and_take_the_longest_time_out() -> None:
    from debate.experiment.ray_executor import _merge_endpoints, _Shard
    from debate.models import EndpointReport

    def rep(calls: int, out: float, up: bool = True) -> dict[str, list[EndpointReport]]:
        return {"openai:m": [EndpointReport(url="http://a/v1", calls=calls, errors=1,
                                            out_of_rotation=out, in_rotation=up)]}

    first, second = _Shard(0, {}), _Shard(1, {})
    first.endpoints = [rep(5, 2.0), rep(7, 3.0)]  # an actor that died, then its heir
    second.endpoints = [rep(11, 4.0, up=False)]
    first.reported_at, second.reported_at = 2.0, 1.0  # the first shard reported last
    (merged,) = _merge_endpoints([first, second])["openai:m"]
    # one shard's actors one after the other (2 + 3 s), the longest of the shards (5 > 4)
    assert (merged.calls, merged.errors, merged.out_of_rotation) == (23, 3, 5.0)
    assert merged.in_rotation  # as the last report saw it
    second.reported_at = 3.0
    assert not _merge_endpoints([first, second])["openai:m"][0].in_rotation


def test_a_question_the_server_always_fails_fails_alone_on_ray(
        cluster: str, tmp_path: Path) -> None:
    """Issue 27: a 500 for one prompt, after every retry, fails that debate on its shard;
    the shards go on (before: the run stopped)."""
    poison = "What is 3 + 0?"
    with MockServer(prompt_faults=lambda m: 500 if poison in json.dumps(m) else None) as server:
        cfg = config(tmp_path, server.url, 6, "poisoned", executor="ray", ray={"shards": 2},
                     retry={"initial_delay": 0.0, "max_delay": 0.0, "max_attempts": 2})
        summary = asyncio.run(arun_experiment(cfg, progress=False))
    assert summary.stopped is None and summary.debates == 5
    assert list(summary.failed) == ["q3"] and "HTTP 500" in summary.failed["q3"]
