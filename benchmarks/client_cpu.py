"""Where the reference workload's time goes: debatelab against the hand-written loop.

    python benchmarks/client_cpu.py [--hogs]

500 du debates (3 agents, 3 answers) against the mock server at 100 ms, 256
calls in flight, as ``run.py reference``; each side three times in turn, with
its wall time and the client process's CPU per call (the mock server runs in
its own process). One debate first, and the fixed cost of a run (config, run
folder, summary, report, results.csv, plot) from a 1-debate run. ``--hogs``
runs two busy loops beside it, a crude stand-in for a slower machine.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from run import Server, experiment, hand_written_gather, timed_run  # noqa: E402

from debate.runner import batch_gc  # noqa: E402

CALLS = 500 * 9


def main() -> None:
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(2)] if "--hogs" in sys.argv else []
    try:
        # the collector tuned as `debate run` and benchmarks/run.py tune it
        with batch_gc(), Server(latency=0.1) as server:
            model = f"openai:mock@{server.url}"
            timed_run(experiment(model, 1, tempfile.mkdtemp(), "warm-up"))
            _, one = timed_run(experiment(model, 1, tempfile.mkdtemp(), "one"))
            gather_one = asyncio.run(hand_written_gather(server.url, 1, 256))
            print(f"1 debate: ours {one:.3f} s, gather {gather_one:.3f} s "
                  f"(3 rounds at 100 ms: 0.3 s)")
            print(f"ideal for 500 at 256 in flight: {CALLS / 256 * 0.1:.2f} s")
            for attempt in range(3):
                cpu = time.process_time()
                _, ours = timed_run(experiment(model, 500, tempfile.mkdtemp(), f"r{attempt}"))
                ours_cpu = time.process_time() - cpu
                cpu = time.process_time()
                gather = asyncio.run(hand_written_gather(server.url, 500, 256))
                gather_cpu = time.process_time() - cpu
                print(f"ours {ours:.2f} s, {ours_cpu / CALLS * 1000:.3f} ms CPU a call | "
                      f"gather {gather:.2f} s, {gather_cpu / CALLS * 1000:.3f} ms CPU a call")
    finally:
        for hog in hogs:
            hog.kill()


if __name__ == "__main__":
    main()
