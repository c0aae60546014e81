"""debatelab benchmarks: one command, a table of ratios. Not part of the test run.

    python benchmarks/run.py            # every benchmark (about 12 minutes on 2 cores,
                                        # 8 of them real-model)
    python benchmarks/run.py overhead   # any of: overhead, throughput, efficiency, pool,
                                        # reference, ray, batch, resume, limiter, memory,
                                        # real-model
    python benchmarks/run.py --cpus 1 reference  # on a slower machine: see limit_cpus

Each benchmark runs in a fresh process of its own (``--one NAME``), as a
``debate run`` does, so none is measured on a heap or collector state the ones
before it left behind. The mock OpenAI-compatible server runs in its own
process too, so it never competes with the client for the interpreter lock.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from debate import ExperimentConfig, Summary, arun_experiment
from debate.experiment.gc_tuning import batch_gc
from debate.experiment.identity import fingerprint
from debate.testing import register_script

RESULTS: list[tuple[str, str, str, str]] = []


def report(name: str, measured: str, target: str, ok: bool) -> None:
    RESULTS.append((name, measured, target, "yes" if ok else "NO"))
    print(f"{name}: {measured} (target {target})", flush=True)


def questions(n: int) -> str:
    path = Path(tempfile.mkdtemp()) / "q.jsonl"
    path.write_text("".join(json.dumps({"id": f"q{i}", "question": f"What is {i} + 0?",
                                        "answer": i}) + "\n" for i in range(n)))
    return str(path)


class Server:
    """The mock server in a subprocess; it picks a free port and prints its URL."""

    def __init__(self, latency: float = 0.0) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "debate.testing.mock_server", "--port", "0",
             "--latency", str(latency)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True)
        if os.environ.get(SERVER_CGROUP):  # --cpus: the server gets a slow core of its own
            Path(os.environ[SERVER_CGROUP]).write_text(f"{self.process.pid}\n")
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # {"url": ...} once it listens
        if not line:
            raise RuntimeError(f"the mock server exited ({self.process.wait()}) before listening")
        self.url: str = json.loads(line)["url"]

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(10)


def experiment(model: str, n: int, out: str, name: str, **kw: object) -> ExperimentConfig:
    base = {"protocol": "du", "rounds": 2, "models": [model], "dataset": questions(n),
            "output_dir": out, "name": name, "concurrency": 256, "temperature": None,
            "limits": {"max_in_flight": 256}}  # 256 calls in flight, as the ideals assume
    return ExperimentConfig(**(base | kw))


def timed_run(cfg: ExperimentConfig) -> tuple[Summary, float]:
    """Run an experiment; its summary and wall seconds."""
    start = time.perf_counter()
    summary = asyncio.run(arun_experiment(cfg, progress=False))
    return summary, time.perf_counter() - start


def bench_overhead() -> None:
    register_script("zero", lambda m, p: "\\boxed{1}")
    out = tempfile.mkdtemp()
    # one debate first: LangGraph and the rest load on first use, not per call
    asyncio.run(arun_experiment(experiment("scripted:zero", 1, out, "warm-up"), progress=False))
    runs = []
    for attempt in range(3):  # noise only adds CPU time: the least of 3 is the cost (timeit)
        cfg = experiment("scripted:zero", 1000, out, f"overhead-{attempt}", concurrency=64)
        cpu = time.process_time()
        summary = asyncio.run(arun_experiment(cfg, progress=False))
        runs.append((time.process_time() - cpu) / summary.calls * 1000)
    per_call = min(runs)
    report("overhead: CPU per call (scripted, no HTTP, du 3x3, cache + traces), least of 3",
           f"{per_call:.3f} ms (runs: {' / '.join(f'{r:.3f}' for r in runs)})", "<= 0.25 ms",
           per_call <= 0.25)


async def bare_loop(url: str, calls: int, concurrency: int) -> float:
    import aiohttp

    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "What is 1?"}]})
    sem = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        async def one() -> None:
            async with sem, session.post(url + "/chat/completions", data=body,
                                         headers={"Content-Type": "application/json"}) as r:
                await r.read()

        start = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(calls)))
        return calls / (time.perf_counter() - start)


def bench_throughput() -> None:
    # the efficiency workload (500 du debates, 256 calls in flight) at zero latency; the
    # client and the server share 2 cores, so the sides alternate (bare, full, bare, full...),
    # best of 3 each, as in `reference`; one debate first: importing LangGraph is not
    # throughput (it took half the first full run's time)
    with Server(latency=0.0) as server:
        timed_run(experiment(f"openai:mock@{server.url}", 1, tempfile.mkdtemp(), "warm-up"))
        bare = full = 0.0
        for attempt in range(3):
            bare = max(bare, asyncio.run(bare_loop(server.url, 4500, 256)))
            summary, wall = timed_run(experiment(f"openai:mock@{server.url}", 500,
                                                 tempfile.mkdtemp(), f"throughput-{attempt}"))
            full = max(full, summary.calls / wall)
    report("mock server: bare aiohttp loop", f"{bare:.0f} calls/s", ">= 2000 calls/s",
           bare >= 2000)
    report("throughput ceiling: full stack / bare aiohttp loop", f"{full / bare:.2f}x "
           f"({full:.0f} calls/s)", ">= 0.5x", full / bare >= 0.5)


def bench_efficiency() -> None:
    with Server(latency=1.0) as server:
        out = tempfile.mkdtemp()
        # one debate first: importing LangGraph alone takes ~0.9 s of a fresh process here
        timed_run(experiment(f"openai:mock@{server.url}", 1, out, "warm-up"))
        # 256 calls in flight, as the ideal assumes (256 debates would put 768 in flight)
        cfg = experiment(f"openai:mock@{server.url}", 500, out, "efficiency")
        summary, wall = timed_run(cfg)
        ideal = max(3 * 1.0, summary.calls * 1.0 / 256)
        report("efficiency: 500 du debates at 1 s latency, 256 concurrent: wall / ideal",
               f"{wall / ideal:.3f} ({wall:.1f} s vs {ideal:.1f} s)", "<= 1.10",
               wall / ideal <= 1.10)
        replay, again = timed_run(cfg)
        report("replay: re-run of the finished experiment", f"{replay.requests} requests, "
               f"{wall / again:.0f}x faster", "0 requests, >= 10x",
               replay.requests == 0 and wall / again >= 10)


def bench_pool() -> None:
    # three replicas, each capped at 128 in flight, against one such server alone. 384
    # debates make 3456 calls, 9 full waves of 384: with every call taking 1 s, no
    # schedule beats calls / 384 seconds (with 300 debates the last wave would be part-full)
    servers = [Server(latency=1.0) for _ in range(3)]
    try:
        out = tempfile.mkdtemp()
        urls = [server.url for server in servers]
        limits = {"max_in_flight": 128}
        timed_run(experiment(f"openai:mock@{urls[0]}", 1, out, "warm-up"))
        pooled = experiment("openai:mock", 384, out, "pool", concurrency=384, limits=limits,
                            endpoints={"openai:mock": [{"url": url} for url in urls]})
        summary, wall = timed_run(pooled)
        ideal = max(3 * 1.0, summary.calls * 1.0 / 384)
        calls = [r.calls for r in summary.endpoints["openai:mock"]]
        single, alone = timed_run(experiment(f"openai:mock@{urls[1]}", 384, out, "single",
                                             concurrency=384, limits=limits))
    finally:
        for server in servers:
            server.__exit__()
    report("pool: 384 du debates at 1 s latency on 3 replicas capped at 128: wall / ideal "
           "for 384 in flight", f"{wall / ideal:.3f} ({wall:.1f} s vs {ideal:.1f} s; calls per "
           f"replica {' / '.join(map(str, calls))})", "<= 1.10", wall / ideal <= 1.10)
    speedup = (summary.calls / wall) / (single.calls / alone)
    report("pool: throughput of 3 replicas / 1 replica (same cap each)",
           f"{speedup:.2f}x ({summary.calls / wall:.0f} vs {single.calls / alone:.0f} calls/s)",
           ">= 2.7x", speedup >= 2.7)


def bench_ray() -> None:
    # CPU-bound work (a zero-latency scripted model): 2 Ray actors against 1 process, on the
    # 2 cores of this machine; the driver (parsing, writing, scoring every trace) shares them
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        out = tempfile.mkdtemp()
        model = "scripted:first-number"  # built in: the actors' processes know it too
        timed_run(experiment(model, 1, out, "warm-up", executor="ray", ray={"shards": 2}))
        n = 6000
        _, alone = timed_run(experiment(model, n, out, "one-process", concurrency=64))
        summary, sharded = timed_run(experiment(model, n, out, "two-actors", concurrency=64,
                                                executor="ray", ray={"shards": 2}))
    finally:
        ray.shutdown()
    report(f"ray: {n} du debates, zero-latency scripted model: 1 process / 2 actors (wall)",
           f"{alone / sharded:.2f}x ({alone:.1f} s vs {sharded:.1f} s, actor start included)",
           "> 1x (2x is the ceiling: the driver shares the 2 cores)",
           alone / sharded > 1.0 and summary.debates == n)
    # what the driver does per finished debate: receive its line from an actor (a pickled
    # batch, as Ray moves it), parse, append, score, make its results row, tick the bar
    import pickle

    from rich.progress import Progress

    from debate.analysis.metrics import Tally
    from debate.analysis.results import result_row
    from debate.models.accounting import PriceTable
    from debate.trace import TraceWriter, parse_trace

    lines = (Path(out) / "two-actors" / "traces.jsonl").read_bytes().splitlines()
    prices = PriceTable()
    tally = Tally(prices)
    rows = {}
    start = time.process_time()
    with TraceWriter(Path(out) / "rewrite.jsonl") as writer, Progress(disable=True) as bar:
        task = bar.add_task("debates", total=len(lines))
        for first in range(0, len(lines), 50):
            for line in pickle.loads(pickle.dumps(lines[first:first + 50])):
                trace = parse_trace(line)
                writer.write(trace, line)  # as the driver does: the shard's line, as it came
                rows[trace.question.id] = result_row(trace, prices, tally.add(trace))
                bar.update(task, advance=1)
    rate = len(lines) / (time.process_time() - start)
    report("ray driver: traces received, parsed, written, scored and tabled per CPU second",
           f"{rate:.0f} debates/s ({sum(map(len, lines)) / len(lines) / 1024:.1f} KB each)",
           ">= 2000 debates/s", rate >= 2000)


def bench_batch() -> None:
    # 1 000 du debates on "gpt-4o-mini" (the mock server, priced as OpenAI lists it):
    # synchronous calls, then the same experiment through the Batch API
    with Server() as server:
        out = tempfile.mkdtemp()
        model = f"openai:gpt-4o-mini@{server.url}"
        sync, sync_wall = timed_run(experiment(model, 1000, out, "sync"))
        fast = {"window": 0.1, "poll_initial": 0.05, "poll_max": 0.2}
        batch, batch_wall = timed_run(experiment(model, 1000, out, "batch", batch=True,
                                                 batch_options=fast))
    same = (batch.calls == sync.calls and batch.accuracy == sync.accuracy)
    report("batch: 1 000 du debates, requests in batches / batches (3 steps)",
           f"{batch.requests} / {batch.batches} ({sync.requests} synchronous requests)",
           "all, 3", same and batch.requests == sync.requests and batch.batches == 3)
    assert sync.cost is not None and batch.cost is not None
    report("batch: cost of the batch run / the synchronous run (gpt-4o-mini prices)",
           f"{batch.cost / sync.cost:.2f} (${batch.cost:.4f} vs ${sync.cost:.4f}; "
           f"{batch_wall:.1f} s vs {sync_wall:.1f} s against the mock)", "0.50",
           abs(batch.cost / sync.cost - 0.5) < 1e-9)


def bench_resume() -> None:
    """SIGKILL a CLI run half-way; the restart must request exactly the calls not yet cached."""
    import sqlite3

    from debate.testing import MockServer

    out = tempfile.mkdtemp()
    debate_cmd = str(Path(sys.executable).parent / "debate")
    with MockServer(latency=0.1) as server:  # a thread here: the runs are other processes
        cmd = [debate_cmd, "run", "--dataset", questions(500), "--model",
               f"openai:mock@{server.url}", "--out", out, "--name", "resume",
               "--concurrency", "256", "--no-progress"]
        traces = Path(out) / "resume" / "traces.jsonl"
        process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while not traces.exists() or traces.read_bytes().count(b"\n") < 250:
            time.sleep(0.05)
        process.kill()
        process.wait()
        time.sleep(0.5)  # let the server answer what the dead process had sent
        with sqlite3.connect(Path(out) / "resume" / "cache.sqlite") as db:
            cached = int(db.execute("SELECT COUNT(*) FROM calls").fetchone()[0])
        before = server.served["ok"]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        restart = server.served["ok"] - before
    remaining = 500 * 9 - cached
    report("resume: SIGKILL half-way, then the same command: requests / calls not yet cached",
           f"{restart} / {remaining}", "equal", restart == remaining)


def bench_limiter() -> None:
    from debate.models import CallStats, Limits, Message, SamplingParams, wrap
    from debate.testing import ScriptedModel

    async def run() -> tuple[float, float]:
        model = wrap(ScriptedModel("x", latency=0.0), stats=CallStats(),
                     limits=Limits(max_in_flight=64, requests_per_second=5000))
        msgs = [Message(role="user", content="hi")]
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(model.generate(msgs, SamplingParams(sampler=str(i)))
                               for i in range(10_000)))
        return ((time.process_time() - cpu) / 10_000 * 1e6,
                10_000 / (time.perf_counter() - wall))

    runs = [asyncio.run(run()) for _ in range(3)]  # the least CPU of 3, as for overhead
    per_call, rate = min(runs)
    # the rate is reported, not judged: asyncio-throttle polls every 10 ms, so a window of
    # 500 requests per 0.1 s passes at most ~4 500 calls/s
    report("limiter: 10 000 queued calls under a 5000 requests/s cap, least of 3",
           f"{per_call:.0f} us CPU per call ({rate:.0f} calls/s; runs: "
           f"{' / '.join(f'{c:.0f}' for c, _ in runs)})", "< 100 us CPU per call",
           per_call < 100)


def bench_memory() -> None:
    register_script("zero", lambda m, p: "\\boxed{1}")
    out = tempfile.mkdtemp()
    peaks = []
    sizes = (2000, 10_000)
    for n in sizes:
        cfg = experiment("scripted:zero", n, out, f"memory-{n}", concurrency=64, cache=False)
        asyncio.run(arun_experiment(cfg, progress=False))
        peaks.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    # "flat": no trace is kept in memory (a du trace is 6 KB or more); what a run keeps by
    # design is the dataset and one results row a question, about 2 KB (benchmarks/README.md)
    per_debate = (peaks[1] - peaks[0]) * 1024 / (sizes[1] - sizes[0])
    report("memory: peak RSS after 2 000 and 10 000 debates", f"{peaks[0]:.0f} MB, "
           f"{peaks[1]:.0f} MB ({per_debate:.1f} KB a debate)",
           "< 500 MB, flat (< 4 KB a debate)", peaks[1] < 500 and per_debate < 4)


# the prompts of Du et al.'s reference code (gsm/gen_gsm.py), as both loops below send them
FIRST = ("Can you solve the following math problem? {} Explain your reasoning. Your final answer "
         "should be a single numerical number, in the form \\boxed{{answer}}, at the end of your "
         "response.")
AFTER = ("\n\n Using the solutions from other agents as additional information, can you provide "
         "your answer to the math problem? \n The original math problem is {}. Your final answer "
         "should be a single numerical number, in the form \\boxed{{answer}}, at the end of your "
         "response.")


def peers_message(question: str, replies: list[str]) -> str:
    """The reference code's debate message: the other agents' solutions, then the ask."""
    return ("These are the solutions to the problem from other agents: "
            + "".join(f"\n\n One agent solution: ```{r}```" for r in replies)
            + AFTER.format(question))


def reference_sequential(url: str, debates: int) -> float:
    """Seconds for ``debates`` du debates the way the reference code runs them: blocking calls."""
    import openai

    client = openai.OpenAI(base_url=url, api_key="x", max_retries=0)
    start = time.perf_counter()
    for d in range(debates):
        question = f"What is {d} + 0?"
        contexts = [[{"role": "user", "content": FIRST.format(question)}] for _ in range(3)]
        for _round in range(3):
            for context in contexts:
                reply = client.chat.completions.create(model="m", messages=context)
                context.append({"role": "assistant", "content": reply.choices[0].message.content})
            for i, context in enumerate(contexts):
                others = [c[-1]["content"] for j, c in enumerate(contexts) if j != i]
                context.append({"role": "user", "content": peers_message(question, others)})
    return time.perf_counter() - start


async def hand_written_gather(url: str, debates: int, in_flight: int) -> float:
    """A minimal asyncio.gather debate over bare aiohttp (no cache, no traces)."""
    import aiohttp

    sem = asyncio.Semaphore(in_flight)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        async def call(messages: list[dict[str, str]]) -> str:
            async with sem, session.post(url + "/chat/completions",
                                         data=json.dumps({"model": "m", "messages": messages}),
                                         headers={"Content-Type": "application/json"}) as r:
                return str((await r.json())["choices"][0]["message"]["content"])

        async def debate(d: int) -> None:
            question = f"What is {d} + 0?"
            contexts = [[{"role": "user", "content": FIRST.format(question)}] for _ in range(3)]
            for _round in range(3):
                replies = await asyncio.gather(*(call(c) for c in contexts))
                for i, context in enumerate(contexts):
                    context.append({"role": "assistant", "content": replies[i]})
                    others = [r for j, r in enumerate(replies) if j != i]
                    context.append({"role": "user", "content": peers_message(question, others)})

        start = time.perf_counter()
        await asyncio.gather(*(debate(d) for d in range(debates)))
        return time.perf_counter() - start


def bench_reference() -> None:
    # the parallel sides alternate (gather, ours, gather, ours...), least of 3 each: on a
    # noisy 2-core machine both then see the same slow and fast spells
    with Server(latency=0.1) as server:
        sample = 5
        sequential = reference_sequential(server.url, sample) * 500 / sample
        # one debate first, as in `efficiency`: importing LangGraph is not a debate's cost
        timed_run(experiment(f"openai:mock@{server.url}", 1, tempfile.mkdtemp(), "warm-up"))
        gathers: list[float] = []
        ours_runs: list[float] = []
        for attempt in range(3):
            gathers.append(asyncio.run(hand_written_gather(server.url, 500, 256)))
            _, wall = timed_run(experiment(f"openai:mock@{server.url}", 500, tempfile.mkdtemp(),
                                           f"reference-{attempt}"))
            ours_runs.append(wall)
    gather, ours = min(gathers), min(ours_runs)
    runs = (f"runs: ours {' / '.join(f'{w:.2f}' for w in ours_runs)} s, "
            f"gather {' / '.join(f'{w:.2f}' for w in gathers)} s")
    report("vs the reference loop: 500 du debates at 100 ms, sequential (extrapolated) / ours",
           f"{sequential / ours:.0f}x ({sequential:.0f} s vs {ours:.2f} s)", ">= 200x",
           sequential / ours >= 200)
    report("vs a hand-written asyncio.gather debate over bare aiohttp: gather / ours",
           f"{gather / ours:.2f}x ({gather:.2f} s vs {ours:.2f} s; {runs})", ">= 0.9x",
           gather / ours >= 0.9)


REAL_SPEC = "experiments/du-sums-smollm2.yaml"  # the README's first command


async def replay_direct(server: object, traces: list, params: dict, serial: bool) -> int:
    """The recorded requests of ``traces`` sent straight to a model, round by round per
    debate and every debate at once, as the runner schedules them; completion tokens.

    ``server`` is an xllamacpp ``Server`` (``handle_chat_completions``) or, with
    ``serial``, a llama-cpp-python ``Llama`` run on one thread (the old backend).
    """
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(1 if serial else 32)
    loop = asyncio.get_running_loop()

    def call(turn: object, seed: int) -> int:
        messages = [{"role": m.role, "content": m.content} for m in turn.messages]
        if serial:
            reply = server.create_chat_completion(messages, seed=seed, **params)
        else:
            reply = server.handle_chat_completions({"messages": messages, "seed": seed, **params})
        return int(reply["usage"]["completion_tokens"])

    async def debate(trace: object) -> int:
        seeds = {agent.name: i for i, agent in enumerate(trace.agents)}  # seed 0 + agent index
        tokens = 0
        for turns in trace.rounds():
            done = await asyncio.gather(*(loop.run_in_executor(pool, call, t, seeds[t.agent])
                                          for t in turns))
            tokens += sum(done)
        return tokens

    try:
        return sum(await asyncio.gather(*(debate(t) for t in traces)))
    finally:
        pool.shutdown()


def bench_real_model() -> None:
    """The first command's du experiment on SmolLM2: debatelab vs the same requests sent
    straight to xllamacpp (same engine settings, fresh caches, same concurrency), each
    side twice in turn, best kept (the VM varies ~15% between runs); and vs the old
    runtime (llama-cpp-python, calls serialized on one thread) when it is installed."""
    from debate.experiment.config import load_experiment
    from debate.models.llamacpp import LlamaCppModel, unload_models
    from debate.trace import read_traces

    model = LlamaCppModel("smollm2", n_parallel=3)  # the runner's settings: a slot per agent
    key = (model.path.resolve(), model.n_ctx, model.n_threads, 3)
    ours: list[tuple[float, float]] = []
    direct: list[tuple[float, float]] = []
    for _ in range(2):
        unload_models()
        out = tempfile.mkdtemp()
        cfg = load_experiment(REAL_SPEC, output_dir=out, cache=False)
        asyncio.run(model.load())  # a fresh engine; the load is not timed
        summary, wall = timed_run(cfg)
        ours.append((summary.completion_tokens / wall, wall))
        run_dir = Path(out) / cfg.run_name(fingerprint(cfg).identity)
        traces = list(read_traces(run_dir / "traces.jsonl"))
        params = {"temperature": cfg.temperature, "max_tokens": cfg.max_tokens}
        unload_models()  # the direct run: an engine with the same settings, empty caches
        engine = model._start(key)
        start = time.perf_counter()
        tokens = asyncio.run(replay_direct(engine.server, traces, params, serial=False))
        wall = time.perf_counter() - start
        direct.append((tokens / wall, wall))
        engine.threads.shutdown()
        del engine
    (ours_rate, ours_wall), (direct_rate, direct_wall) = max(ours), max(direct)
    share = 1 - ours_rate / direct_rate
    runs = "; ".join(f"{a:.0f} / {b:.0f}" for (a, _), (b, _) in zip(ours, direct, strict=True))
    report(f"real model: SmolLM2 completion tokens/s, {REAL_SPEC} (10 du debates at once, "
           "3 slots): debatelab / the same requests straight to xllamacpp, best of 2",
           f"{ours_rate:.0f} / {direct_rate:.0f} tok/s ({ours_wall:.0f} s / {direct_wall:.0f} s;"
           f" each run: {runs})", "reported", True)
    report("real model: framework share (1 - debatelab rate / direct rate, best of 2 each)",
           f"{100 * share:.1f}%", "< 5%", share < 0.05)
    try:
        from llama_cpp import Llama
    except ImportError:
        report("real model: before (llama-cpp-python, serialized)", "not installed", "-", True)
        return
    unload_models()
    llm = Llama(model_path=str(model.path), n_ctx=8192, n_threads=model.n_threads,
                n_threads_batch=model.n_threads, verbose=False)
    start = time.perf_counter()
    old_tokens = asyncio.run(replay_direct(llm, traces, params, serial=True))
    old = time.perf_counter() - start
    report("real model: after / before (llama-cpp-python, calls serialized on one thread "
           "and context), same requests", f"{ours_rate / (old_tokens / old):.2f}x "
           f"({ours_rate:.0f} vs {old_tokens / old:.0f} tok/s; {old:.0f} s)", "reported", True)


BENCHMARKS = {"overhead": bench_overhead, "throughput": bench_throughput,
              "efficiency": bench_efficiency, "pool": bench_pool, "reference": bench_reference,
              "ray": bench_ray, "batch": bench_batch, "resume": bench_resume,
              "limiter": bench_limiter, "memory": bench_memory, "real-model": bench_real_model}


def run_one(name: str, results: Path) -> None:
    """Run one benchmark in this process; append its result rows to ``results`` (JSON)."""
    with batch_gc():  # the collector tuned as `debate run` tunes it (the library does not)
        BENCHMARKS[name]()
    with results.open("a", encoding="utf-8") as out:
        out.writelines(json.dumps(row) + "\n" for row in RESULTS)


CGROUP_PERIOD_US = 10_000  # a throttled process waits at most about half of this at a time
SERVER_CGROUP = "DEBATELAB_BENCH_SERVER_CGROUP"  # where Server puts the mock servers


def limit_cpus(cpus: float) -> str:
    """Run as on a machine whose 2 cores have ``cpus / 2`` of this one's speed each.

    A slower machine that can be brought back at will, made of two Linux cgroups:
    one for this process and everything it starts (the client, its threads, the
    ``--one`` processes), one for the mock servers (:class:`Server` moves each there),
    each allowed ``cpus / 2`` CPU-seconds per second. So ``--cpus 1`` on this 2-core VM
    is two cores at half the speed, the client on one and the server on the other,
    except that the client's threads share its half. A quota changes how much CPU
    there is, not what a call costs: ``overhead`` and ``limiter`` (CPU time) read the
    same under it. Needs root and the cgroup CPU controller (v2 ``cpu.max`` or v1
    ``cpu.cfs_quota_us``); the groups are removed at exit. Returns what it set.
    """
    if not 0 < cpus <= (os.cpu_count() or 1):
        sys.exit(f"--cpus takes a number of CPUs above 0 and at most {os.cpu_count()}, "
                 f"not {cpus}")
    quota = max(1000, round(cpus / 2 * CGROUP_PERIOD_US))
    v2 = Path("/sys/fs/cgroup/cgroup.controllers").exists()
    root = Path("/sys/fs/cgroup") if v2 else Path("/sys/fs/cgroup/cpu")
    base = root / f"debatelab-bench-{os.getpid()}"
    groups = [base / "client", base / "server"]
    step = f"making {base}"
    try:
        base.mkdir()
        if v2:
            step = f"turning on the CPU controller under {root} and {base}"
            if "cpu" not in (root / "cgroup.subtree_control").read_text().split():
                (root / "cgroup.subtree_control").write_text("+cpu\n")
            (base / "cgroup.subtree_control").write_text("+cpu\n")
        for group in groups:
            step = f"setting the quota of {group}"
            group.mkdir()
            if v2:
                (group / "cpu.max").write_text(f"{quota} {CGROUP_PERIOD_US}\n")
            else:
                (group / "cpu.cfs_period_us").write_text(f"{CGROUP_PERIOD_US}\n")
                (group / "cpu.cfs_quota_us").write_text(f"{quota}\n")
        step = f"moving this process into {groups[0]}"
        (groups[0] / "cgroup.procs").write_text(f"{os.getpid()}\n")
    except OSError as exc:
        _remove_groups(root, base, groups)
        sys.exit(f"--cpus needs root and the cgroup CPU controller; failed {step}: {exc}")
    os.environ[SERVER_CGROUP] = str(groups[1] / "cgroup.procs")
    atexit.register(_remove_groups, root, base, groups)
    return (f"{cpus:g} CPUs: client and mock server {quota} us per {CGROUP_PERIOD_US} us "
            f"each ({base})")


def _remove_groups(root: Path, base: Path, groups: list[Path]) -> None:
    """Move this process back to the root group and remove the (empty) groups."""
    with contextlib.suppress(OSError):
        (root / "cgroup.procs").write_text(f"{os.getpid()}\n")
    for group in [*groups, base]:
        try:
            if group.exists():
                group.rmdir()
        except OSError as exc:
            print(f"could not remove {group}: {exc}", file=sys.stderr)


def main() -> None:
    if sys.argv[1:2] == ["--one"]:
        run_one(sys.argv[2], Path(sys.argv[3]))
        return
    args = sys.argv[1:]
    if args[:1] == ["--cpus"]:
        try:
            cpus = float(args[1])
        except (IndexError, ValueError):
            sys.exit("--cpus takes a number of CPUs, e.g. --cpus 1")
        print(f"limited to {limit_cpus(cpus)}", flush=True)
        args = args[2:]
    chosen = args or list(BENCHMARKS)
    if os.environ.get(SERVER_CGROUP) and "ray" in chosen:
        print("note: under --cpus the Ray actors share the client's CPUs with the driver, "
              "so `ray` measures no parallel speed-up", flush=True)
    unknown = [name for name in chosen if name not in BENCHMARKS]
    if unknown:
        sys.exit(f"unknown benchmark {', '.join(unknown)}; pick from {', '.join(BENCHMARKS)}")
    results = Path(tempfile.mkdtemp()) / "results.jsonl"
    results.touch()
    for name in chosen:  # each in a fresh process, one after the other
        done = subprocess.run([sys.executable, __file__, "--one", name, str(results)])
        if done.returncode:  # reported, and the others still run
            with results.open("a", encoding="utf-8") as out:
                out.write(json.dumps([name, f"failed (exit {done.returncode})", "-", "NO"]) + "\n")
    print("\n| benchmark | measured | target | met |\n|---|---|---|---|")
    for line in results.read_text(encoding="utf-8").splitlines():
        print("| " + " | ".join(json.loads(line)) + " |")


if __name__ == "__main__":
    main()
