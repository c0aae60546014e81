"""Replay the reference repositories' published debates through debatelab; print conformance.

The records are not shipped (no licence / GPL-3.0): clone the repositories and
point this at their files, e.g.

    python scripts/replay_reference.py \
        --peer-review Multi-agent-peer-review/result/*/*_peer_review_*.json \
        --du Multi-agent-peer-review/result/*/*_debate_*.json \
        --mad Multi-Agents-Debate/data/CommonMT/*/MAD_Debate_Process/*.json

A record conforms when the replay makes the same calls per agent, shows every
call the same earlier recorded replies, and stops where the record stopped
(see debate.testing.replay).
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


def records(paths: list[str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in paths:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        found += data if isinstance(data, list) else [data]
    return found


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for kind in MODES:
        parser.add_argument(f"--{kind.replace('_', '-')}", nargs="*", default=[],
                            metavar="FILE")
    args = parser.parse_args()
    for kind, modes in MODES.items():
        loaded = records(getattr(args, kind))
        if not loaded:
            continue
        for label, replay, options in modes:
            outcome: Counter[bool] = Counter()
            for record in loaded:
                outcome[(await replay(record, **options)).conforms] += 1
            print(f"{label}: {outcome[True]}/{len(loaded)} records conform")


if __name__ == "__main__":
    asyncio.run(main())
