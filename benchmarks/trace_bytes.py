"""Bytes per du debate: schema 2 (messages inline) vs 3 (each message once per debate).

    python benchmarks/trace_bytes.py

50 scripted debates, 3 agents, GSM8K-length replies (about 600 characters), a
different reply per agent and round (seeded: the same bytes on every run);
3 and 5 answers per agent.
"""

from __future__ import annotations

import asyncio
import json
import random
import tempfile
import zlib
from collections.abc import Sequence
from pathlib import Path

from debate import ExperimentConfig, arun_experiment
from debate.models import Message, SamplingParams
from debate.testing import register_script
from debate.trace import read_traces, trace_json

WORDS = "so we add the amounts each day and then multiply by the rate to get the total".split()
QUESTION = ("Natalia sold clips to 48 of her friends in April, and then she sold half as many "
            "clips to her friends in May. How many clips did Natalia sell altogether in April "
            "and May?")


def reply(messages: Sequence[Message], params: SamplingParams) -> str:
    """About 600 characters of reasoning, different for each agent (seed) and prompt."""
    rng = random.Random(zlib.crc32(f"{messages[-1].content}|{params.seed}".encode()))
    body = " ".join(rng.choice(WORDS) for _ in range(110))
    return f"Let's think step by step. {body}. The answer is \\boxed{{{rng.randint(1, 99)}}}."


def main() -> None:
    register_script("gsm", reply)
    data = Path(tempfile.mkdtemp()) / "q.jsonl"
    data.write_text("".join(json.dumps({"id": f"q{i}", "question": QUESTION, "answer": 72})
                            + "\n" for i in range(50)))
    for rounds in (2, 4):
        out = tempfile.mkdtemp()
        cfg = ExperimentConfig(protocol="du", rounds=rounds, models=["scripted:gsm"],
                               dataset=str(data), output_dir=out, name="bytes")
        asyncio.run(arun_experiment(cfg, progress=False))
        traces = list(read_traces(Path(out) / "bytes" / "traces.jsonl"))
        inline = sum(len(t.model_dump_json()) + 1 for t in traces) / len(traces)
        stored = sum(len(trace_json(t)) + 1 for t in traces) / len(traces)
        print(f"du, 3 agents, {rounds + 1} answers: {inline / 1024:.1f} KB inline (schema 2) "
              f"-> {stored / 1024:.1f} KB stored once (schema 3), {stored / inline:.2f}")


if __name__ == "__main__":
    main()
