"""Where the reference workload's time goes: debatelab against the hand-written loop.

    python benchmarks/client_cpu.py [--hogs] [--cpus N]

500 du debates (3 agents, 3 answers) against the mock server at 100 ms, 256
calls in flight, as ``run.py reference``; debatelab, debatelab with its
response cache off, and the hand-written gather loop, three times in turn, with
its wall time, the client process's CPU per call and the mock server's (it
runs in its own process). One debate first, and the fixed cost of a run
(config, run folder, summary, report, results.csv, plot) from a 1-debate run.
``--cpus N`` runs it as on 2 cores at N/2 of this machine's speed each
(``run.py``'s ``limit_cpus``); ``--hogs`` runs two busy loops beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from run import Server, experiment, hand_written_gather, limit_cpus, timed_run  # noqa: E402

from debate.experiment.gc_tuning import batch_gc  # noqa: E402

CALLS = 500 * 9


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) another process has used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cpus", type=float, help="N CPUs in all (run.py's limit_cpus)")
    parser.add_argument("--hogs", action="store_true", help="two busy loops beside the run")
    args = parser.parse_args()
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(2)] if args.hogs else []  # started first: outside any --cpus limit
    if args.cpus is not None:
        print(f"limited to {limit_cpus(args.cpus)}")
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
            pid = server.process.pid
            sides = {  # in turn, so a slow or fast spell of the VM falls on each
                "ours": lambda n: timed_run(experiment(model, 500, tempfile.mkdtemp(), n))[1],
                "ours, cache off": lambda n: timed_run(experiment(
                    model, 500, tempfile.mkdtemp(), n, cache=False))[1],
                "gather": lambda n: asyncio.run(hand_written_gather(server.url, 500, 256)),
            }
            for attempt in range(3):
                shown = []
                for name, side in sides.items():
                    cpu, served = time.process_time(), process_cpu(pid)
                    wall = side(f"r{attempt}")
                    client, server_cpu = time.process_time() - cpu, process_cpu(pid) - served
                    shown.append(f"{name} {wall:.2f} s, CPU a call {client / CALLS * 1000:.3f} "
                                 f"ms (server {server_cpu / CALLS * 1000:.3f})")
                print(" | ".join(shown), flush=True)
    finally:
        for hog in hogs:
            hog.kill()


if __name__ == "__main__":
    main()
