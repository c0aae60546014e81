"""``debate serve`` against ``debate run``: the same 500 du debates, wall time and ratio.

    python benchmarks/serve.py [--debates 500] [--clients 256] [--latency 0.05]

Both sides debate on the mock OpenAI-compatible server (its own process, a fixed
latency per call): 3 agents, initial answers and one debate round (6 calls per
question), 256 debates and 256 calls in flight. ``debate run`` runs them in this
process; ``debate serve`` runs in a process of its own and is asked by ``--clients``
concurrent OpenAI SDK clients (async, made before the clock starts).
Target: serve <= 1.2x run. Not a test.

The clients' own CPU time is printed too: on a machine with few cores they compete
with the server and the mock for them (on 2 cores at 50 ms a call, the SDK's ~2 ms of
CPU per request is most of the gap); ``--latency 1`` (a call as slow as a real model's)
shows the server's overhead once calls, not CPU, take the time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import openai

from debate import ExperimentConfig, run_experiment


def start(command: list[str], pattern: str) -> tuple[subprocess.Popen[str], str]:
    """A subprocess and the URL it prints (stdout or stderr) once it listens."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    assert process.stdout is not None
    for line in process.stdout:
        found = re.search(pattern, line)
        if found:
            return process, found[1]
    raise RuntimeError(f"{command[:4]} exited ({process.wait()}) before listening")


def spec_data(model: str) -> dict[str, object]:
    return {"protocol": "du", "agents": 3, "rounds": 1, "models": [model],
            "concurrency": 256, "temperature": None, "limits": {"max_in_flight": 256}}


def questions(n: int) -> list[str]:
    return [f"What is {i} + 0?" for i in range(n)]


def time_run(model: str, n: int, folder: Path) -> float:
    rows = [{"id": f"q{i}", "question": text, "answer": i}
            for i, text in enumerate(questions(n))]
    config = ExperimentConfig(**spec_data(model), dataset={"rows": rows, "task": "numeric"},
                              output_dir=str(folder),
                              name="run")
    began = time.perf_counter()
    summary = run_experiment(config, progress=False)
    took = time.perf_counter() - began
    assert summary.debates == n, summary
    return took


async def ask_all(url: str, n: int, clients: int) -> tuple[float, float]:
    """Seconds ``clients`` SDK clients (made beforehand) take to ask ``n`` questions, and
    the CPU seconds the clients spent doing it."""
    pending = list(reversed(questions(n)))
    sdks = [openai.AsyncOpenAI(base_url=url, api_key="unused", max_retries=0, timeout=600)
            for _ in range(clients)]

    async def worker(sdk: openai.AsyncOpenAI) -> None:
        while pending:
            text = pending.pop()
            reply = await sdk.chat.completions.create(
                model="bench", messages=[{"role": "user", "content": text}])
            assert reply.choices[0].message.content

    began, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker(sdk) for sdk in sdks))
    took, cpu = time.perf_counter() - began, time.process_time() - cpu
    for sdk in sdks:
        await sdk.close()
    return took, cpu


def time_serve(model: str, n: int, clients: int, folder: Path) -> tuple[float, float]:
    spec = folder / "bench.yaml"
    spec.write_text(json.dumps({**spec_data(model), "name": "bench",
                                "dataset": {"path": "unused.jsonl", "task": "numeric"}}))
    server, url = start([sys.executable, "-m", "debate.cli.main", "serve", str(spec),
                         "--port", "0", "--out", str(folder / "served"),
                         "--queue", str(max(4 * clients, 1024))],
                        r"at (http://\S+/v1)")
    try:
        return asyncio.run(ask_all(url, n, clients))
    finally:
        server.terminate()
        server.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--debates", type=int, default=500)
    parser.add_argument("--clients", type=int, default=256)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    mock, url = start([sys.executable, "-m", "debate.testing.mock_server", "--port", "0",
                       "--latency", str(args.latency)], r'"url": "([^"]+)"')
    try:
        model = f"openai:mock@{url}"
        with tempfile.TemporaryDirectory() as tmp:
            run_s = time_run(model, args.debates, Path(tmp))
            serve_s, client_cpu = time_serve(model, args.debates, args.clients, Path(tmp))
    finally:
        mock.terminate()
        mock.wait(30)
    print(f"debate run:   {args.debates} du debates in {run_s:.2f} s")
    print(f"debate serve: {args.debates} du debates, {args.clients} SDK clients, "
          f"in {serve_s:.2f} s (the clients' own CPU: {client_cpu:.2f} s)")
    print(f"serve / run:  {serve_s / run_s:.2f}x (target <= 1.2x)")


if __name__ == "__main__":
    main()
