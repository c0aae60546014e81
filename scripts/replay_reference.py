"""Replay the reference repositories' published debates through debatelab; print conformance.

The records are not shipped (no licence / GPL-3.0): clone the repositories and
point this at their files, e.g.

    python scripts/replay_reference.py \
        --peer-review Multi-agent-peer-review/result/*/*_peer_review_*.json \
        --du Multi-agent-peer-review/result/*/*_debate_*.json \
        --mad Multi-Agents-Debate/data/CommonMT/*/MAD_Debate_Process/*.json

A record conforms when the replay makes the same calls per agent, shows every
call the same recorded replies in the same order, by messages of the same
roles, grouped the same way, as many times, and reaches the same final answer
(see debate.testing.replay). Peer-review and Du records are read with their
task's answer type (from the file name's dataset, as the reference's
``eval.py``); MAD records as free text. Each mode prints how many records
conform, how many records show each kind of mismatch, and (``--show N``) the
mismatches of the first N records that do not conform.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from debate.testing.replay import Replay, replay_du, replay_mad, replay_peer_review
from debate.trace import TaskType

MODES: dict[str, list[tuple[str, Callable[..., Awaitable[Replay]], dict[str, Any]]]] = {
    "peer_review": [("peer-review (default: one chat per agent)", replay_peer_review, {}),
                    ("peer-review review_memory=branch", replay_peer_review,
                     {"review_memory": "branch"})],
    "du": [("du", replay_du, {})],
    "mad": [("mad (default: judge sees the last round)", replay_mad, {}),
            ("mad judge_sees_first_round", replay_mad, {"judge_sees_first_round": True}),
            ("mad judge_sees_first_round + stop_rule=answer", replay_mad,
             {"judge_sees_first_round": True, "stop_rule": "answer"})],
}

TASKS: dict[str, TaskType] = {
    **dict.fromkeys(["GSM8K", "SVAMP", "MultiArith", "AddSub", "SingleEq"], "numeric"),
    **dict.fromkeys(["AQuA", "ARC-c", "Colored_Objects", "Penguins"], "choice"),
    "StrategyQA": "yesno",
}
"""The reference's datasets (file name prefixes) by answer type, as its ``eval.py``."""


def task_of(path: str) -> TaskType:
    """The answer type of a reference result file, from its dataset; else ``exact``."""
    name = Path(path).name
    return next((task for prefix, task in TASKS.items() if name.startswith(f"{prefix}_")),
                "exact")


def records(paths: list[str]) -> list[tuple[str, int, dict[str, Any]]]:
    """(file, index, record) of every record in ``paths``."""
    found: list[tuple[str, int, dict[str, Any]]] = []
    for path in paths:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        found += [(path, i, record)
                  for i, record in enumerate(data if isinstance(data, list) else [data])]
    return found


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for kind in MODES:
        parser.add_argument(f"--{kind.replace('_', '-')}", nargs="*", default=[],
                            metavar="FILE")
    parser.add_argument("--show", type=int, default=0, metavar="N",
                        help="print the mismatches of the first N records that do not conform")
    args = parser.parse_args()
    for kind, modes in MODES.items():
        loaded = records(getattr(args, kind))
        if not loaded:
            continue
        for label, replay, options in modes:
            conforming, compared = 0, 0
            kinds: Counter[str] = Counter()
            shown: list[str] = []
            left = args.show
            for path, index, record in loaded:
                task = "exact" if kind == "mad" else task_of(path)
                result = await replay(record, task=task, **options)
                conforming += result.conforms
                compared += result.final is not None
                kinds.update(result.kinds)
                if not result.conforms and left > 0:
                    shown += [f"  {path}[{index}] {m}" for m in result.mismatches]
                    left -= 1
            by_kind = ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())) or "none"
            print(f"{label}: {conforming}/{len(loaded)} records conform "
                  f"(final answer compared in {compared}; records with mismatches by kind: "
                  f"{by_kind})")
            print("\n".join(shown), end="\n" if shown else "")


if __name__ == "__main__":
    asyncio.run(main())
