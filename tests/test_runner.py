"""The experiment runner: results, resume without paying twice, stops that keep work."""

import asyncio
import json
from collections import Counter
from pathlib import Path

import pytest

from debate import (
    ExperimentConfig,
    arun_experiment,
    load_run_summary,
    run_debate,
    run_experiment,
)
from debate.errors import ConfigError, FatalTransportError
from debate.models import Completion
from debate.testing import ScriptedModel, register_script
from debate.trace import read_traces

DATA = "experiments/data/arithmetic.jsonl"
TEXTS = [json.loads(line)["question"] for line in Path(DATA).read_text().splitlines()]
CALLS: Counter[str] = Counter()


RIGHT = {"Ava": 55, "Emma": 74, "Iris": 348}  # arith-00, -02 and -04: the even-numbered


def counting(messages, params):
    """Right on the even-numbered questions, 0 (wrong) on the others; counts every real call."""
    CALLS[params.sampler + "|" + "|".join(m.content for m in messages)] += 1
    question = messages[0].content
    answer = next((gold for name, gold in RIGHT.items() if name in question), 0)
    return f"The answer is \\boxed{{{answer}}}."


@pytest.fixture(autouse=True)
def counting_script(restored_registries):
    """``scripted:counting`` for each test (the registries are restored after it)."""
    register_script("counting", counting)


def config(tmp_path, **kw):
    base = {"dataset": {"path": DATA, "task": "numeric"}, "models": ["scripted:counting"],
            "output_dir": str(tmp_path), "name": "run", "concurrency": 4}
    return ExperimentConfig(**(base | kw))


async def test_experiment_writes_run_folder_and_summary(tmp_path):
    CALLS.clear()
    summary = await arun_experiment(config(tmp_path, limit=6), progress=False)
    run = tmp_path / "run"
    assert {p.name for p in run.iterdir()} >= {"config.json", "traces.jsonl", "cache.sqlite",
                                                 "summary.json", "report.md"}
    traces = list(read_traces(run / "traces.jsonl"))
    assert len(traces) == summary.debates == 6
    assert summary.calls == 6 * 9 and sum(CALLS.values()) == 54
    assert summary.accuracy == 0.5 and [r.round for r in summary.rounds] == [0, 1, 2]
    assert [r.majority_accuracy for r in summary.rounds] == [0.5, 0.5, 0.5]
    assert summary.consensus_rate == 1.0 and summary.cost == 0.0
    assert json.loads((run / "summary.json").read_text())["debates"] == 6
    assert "| final accuracy |" in (run / "report.md").read_text()
    assert load_run_summary(run).accuracy == summary.accuracy


async def test_rerun_replays_and_skips_finished(tmp_path):
    CALLS.clear()
    await arun_experiment(config(tmp_path, limit=4), progress=False)
    first = sum(CALLS.values())
    summary = await arun_experiment(config(tmp_path, limit=4), progress=False)
    assert sum(CALLS.values()) == first  # nothing paid twice
    assert summary.debates == 4 and summary.requests == 0
    await arun_experiment(config(tmp_path, limit=6), progress=False)  # extend the run
    assert sum(CALLS.values()) == first + 2 * 9
    assert len(list(read_traces(tmp_path / "run" / "traces.jsonl"))) == 6


async def test_a_resume_reports_this_invocation_and_the_totals(tmp_path):
    first = await arun_experiment(config(tmp_path, limit=4), progress=False)
    assert (first.invocations, first.requests, first.total_requests) == (1, 36, 36)
    second = await arun_experiment(config(tmp_path, limit=6), progress=False)  # 2 more debates
    assert (second.invocations, second.requests, second.total_requests) == (2, 18, 54)
    assert second.total_wall_time == pytest.approx(first.wall_time + second.wall_time)
    report = (tmp_path / "run" / "report.md").read_text()
    assert "18 (0 retries, last invocation); 54 over all 2 invocations" in report
    assert load_run_summary(tmp_path / "run").total_requests == 54


async def test_a_run_that_cannot_start_leaves_no_folder(tmp_path):
    with pytest.raises(ConfigError, match="needs an API key|blocked"):
        await arun_experiment(config(tmp_path, models=["anthropic:claude-x@http://127.0.0.1:9/v1",
                                                        "openai:gpt-4o-mini"]), progress=False)
    with pytest.raises(ConfigError, match="card.yaml: cannot read"):
        await arun_experiment(config(tmp_path, roles=["no/such/card.yaml"]), progress=False)
    assert list(tmp_path.iterdir()) == []


def test_a_run_folder_in_use_by_another_process_is_refused_until_it_is_free(tmp_path):
    """Two runs in one folder would interleave traces and share one cache: the second is
    refused, naming the first's pid, and nothing in the folder changes; once the first
    process is gone (killed: the lock goes with it) the run starts."""
    import subprocess
    import sys

    run = tmp_path / "run"
    run.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys\n"
         f"f = open({str(run / '.lock')!r}, 'a+')\n"
         "fcntl.flock(f, fcntl.LOCK_EX)\nf.write(str(os.getpid())); f.flush()\n"
         "print('locked', flush=True)\nsys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "locked\n"
        with pytest.raises(ConfigError, match=rf"run folder .*run is in use by another run "
                                              rf"\(pid {holder.pid}\)"):
            run_experiment(config(tmp_path, limit=2), progress=False)
        assert sorted(p.name for p in run.iterdir()) == [".lock"]  # nothing written
    finally:
        holder.kill()
        holder.wait()
        holder.stdin.close()
        holder.stdout.close()
    summary = run_experiment(config(tmp_path, limit=2), progress=False)
    assert summary.debates == 2


async def test_interrupted_run_resumes_every_debate_exactly_once(tmp_path):
    """Cancelled while each of the 3 workers waits in round 1 of a later question.

    A worker takes a new question only after writing its last one, so by then
    exactly the first 4 debates are written, and 3 others have their round 0
    answered (and cached): the re-run must replay those, not pay for them again.
    """
    CALLS.clear()
    gate, all_held, held = asyncio.Event(), asyncio.Event(), set()

    async def gated(messages, params):
        asked = next(i for i, text in enumerate(TEXTS) if text in messages[0].content)
        if asked >= 4 and len(messages) > 1 and not gate.is_set():  # round 1 on
            held.add(asked)
            if len(held) == 3:
                all_held.set()
            await gate.wait()
        return counting(messages, params)

    register_script("gated", gated)
    cfg = config(tmp_path, limit=12, concurrency=3, models=["scripted:gated"])
    task = asyncio.create_task(arun_experiment(cfg, progress=False))
    await asyncio.wait([task, asyncio.create_task(all_held.wait())], timeout=60,
                       return_when=asyncio.FIRST_COMPLETED)
    assert all_held.is_set() and not task.done()
    task.cancel()  # a kill in the middle of other debates
    with pytest.raises(asyncio.CancelledError):
        await task
    path = tmp_path / "run" / "traces.jsonl"
    assert [t.question.id for t in read_traces(path)] == [f"arith-0{i}" for i in range(4)]
    assert sum(CALLS.values()) == 4 * 9 + 3 * 3  # the held calls never completed
    gate.set()
    await arun_experiment(cfg, progress=False)
    ids = [t.question.id for t in read_traces(path)]
    assert len(ids) == len(set(ids)) == 12
    assert max(CALLS.values()) == 1  # no call that completed was ever made again
    assert sum(CALLS.values()) == 12 * 9


async def test_fatal_error_stops_run_keeps_finished_and_resumes(tmp_path):
    calls = {"n": 0}

    def flaky(messages, params):
        calls["n"] += 1
        if calls["n"] == 30:
            raise FatalTransportError("invalid API key", endpoint="openai:x", status=401)
        return "\\boxed{55}"

    register_script("dies-once", flaky)
    cfg = config(tmp_path, limit=8, concurrency=2).model_copy(update={
        "models": ["scripted:dies-once"]})
    summary = await arun_experiment(cfg, progress=False)
    assert summary.stopped and "401" in summary.stopped and "openai:x" in summary.stopped
    assert 1 <= summary.debates < 8
    summary = await arun_experiment(cfg, progress=False)
    assert summary.stopped is None and summary.debates == 8


async def test_a_failing_call_cancels_the_rest_of_its_round():
    started, cancelled, finished = [], [], []
    both_started, never = asyncio.Event(), asyncio.Event()

    class Waits:
        name = "scripted:waits"

        async def generate(self, messages, params):
            started.append(params.sampler)
            if len(started) == 2:
                both_started.set()
            try:
                await never.wait()  # only cancellation ends this call
            except asyncio.CancelledError:
                cancelled.append(params.sampler)
                raise
            finished.append(params.sampler)
            return Completion(text="\\boxed{1}")

    async def dies(messages, params):
        await both_started.wait()  # fail while the other two calls are in flight
        raise FatalTransportError("gone", endpoint="x")

    with pytest.raises(FatalTransportError):
        await run_debate("What is 1?", protocol="du", models=[ScriptedModel(dies), Waits(),
                                                               Waits()])
    # the other agents' calls were cancelled, and had ended, before the error came out
    assert sorted(cancelled) == sorted(started) == ["agent-1", "agent-2"] and finished == []


async def test_a_debate_that_fails_is_listed_and_retried_later(tmp_path):
    state = {"fail": True}

    def broken(messages, params):
        if state["fail"] and "Hugo" in messages[0].content:
            raise RuntimeError("boom")
        return "\\boxed{1}"

    register_script("broken", broken)
    cfg = config(tmp_path, limit=3).model_copy(update={"models": ["scripted:broken"]})
    summary = await arun_experiment(cfg, progress=False)
    assert list(summary.failed) == ["arith-01"] and "boom" in summary.failed["arith-01"]
    assert summary.debates == 2
    state["fail"] = False
    summary = await arun_experiment(cfg, progress=False)
    assert summary.failed == {} and summary.debates == 3


async def test_other_experiment_in_same_folder_is_refused(tmp_path):
    await arun_experiment(config(tmp_path, limit=1), progress=False)
    with pytest.raises(ConfigError, match="different experiment"):
        await arun_experiment(config(tmp_path, limit=1, rounds=1), progress=False)


async def test_models_and_roles_per_agent(tmp_path):
    cfg = config(tmp_path, limit=1, agents=2, rounds=0,
                 roles=["agents/debater.yaml", "agents/debater.yaml"])
    cfg = cfg.model_copy(update={"models": ["scripted:counting", "scripted:first-number"]})
    await arun_experiment(cfg, progress=False)
    trace = next(read_traces(tmp_path / "run" / "traces.jsonl"))
    assert [a.model for a in trace.agents] == ["scripted:counting", "scripted:first-number"]
    assert trace.turns[0].messages[0].role == "system"
    with pytest.raises(ConfigError, match="one per agent"):
        await arun_experiment(config(tmp_path, limit=1, name="other").model_copy(
            update={"models": ["scripted:echo"] * 2}), progress=False)


async def test_shortcut_option_the_protocol_lacks_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="has no option 'rounds'"):
        await arun_experiment(config(tmp_path, rounds=2).model_copy(
            update={"protocol": "single"}), progress=False)


async def test_run_debate_python_api():
    trace = await run_debate("What is 6 * 7? Reply 42.", protocol="du",
                             models=[ScriptedModel("\\boxed{42}") for _ in range(3)], rounds=1)
    assert trace.final.answer == "42" and len(trace.turns) == 6
    trace = await run_debate("2+2?", protocol="single", models="scripted:reply=\\boxed{4}")
    assert trace.final.answer == "4"


async def test_models_and_role_cards_bound_by_name_or_role(tmp_path):
    cfg = config(tmp_path, limit=1, rounds=1, protocol_options={"judge": "llm"},
                 models=["scripted:counting", "judge=scripted:reply={\"choice\": 1}"],
                 roles=["agent-2=agents/devils-advocate.yaml"])
    await arun_experiment(cfg, progress=False)
    trace = next(read_traces(tmp_path / "run" / "traces.jsonl"))
    models = {a.name: a.model for a in trace.agents}
    assert models == {"agent-0": "scripted:counting", "agent-1": "scripted:counting",
                      "agent-2": "scripted:counting", "judge": 'scripted:reply={"choice": 1}'}
    devil = next(t for t in trace.turns if t.id == "r1/agent-2/answer")
    assert "Argue against that answer" in devil.messages[-1].content
    plain = next(t for t in trace.turns if t.id == "r1/agent-0/answer")
    assert "Argue against" not in plain.messages[-1].content


def test_unknown_binding_key_is_an_error(tmp_path):
    from debate.experiment.binding import bind

    with pytest.raises(ConfigError, match=r"\['critic'\] name no agent or role"):
        bind(["agent-0"], ["debater"], [], {"critic": "x"}, "model")


@pytest.mark.usefixtures("unfrozen")
async def test_concurrent_runs_restore_the_garbage_collector(tmp_path):
    import gc

    before = gc.get_threshold()
    first = config(tmp_path, limit=4).model_copy(update={"name": "first"})
    second = config(tmp_path, limit=6).model_copy(update={"name": "second"})
    summaries = await asyncio.gather(arun_experiment(first, progress=False),
                                     arun_experiment(second, progress=False))
    assert [s.debates for s in summaries] == [4, 6]
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
