"""Debate traces back out of an inspect log (``.eval``): what ``debate export`` reads."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from debate.errors import ConfigError
from debate.integrations.inspect_ai._require import require_inspect_ai
from debate.trace import DebateTrace, parse_trace

__all__ = ["TRACE_KEY", "read_eval_traces"]

TRACE_KEY = "debatelab:trace"
"""The sample store key that holds a debate's trace (``trace_json``'s form, as JSON)."""


def read_eval_traces(path: str | Path) -> tuple[list[DebateTrace], int]:
    """The debate traces of an inspect log, and how many samples failed without one.

    Raises:
        MissingDependencyError: inspect_ai is not installed (names the extra).
        ConfigError: the log cannot be read, or a stored trace is damaged (names the
            sample), or no sample of the log ran ``debate_solver``.

    """
    require_inspect_ai(f"reading the inspect log {path}")
    from inspect_ai.log import read_eval_log

    try:
        log = read_eval_log(str(path))
    except Exception as exc:  # inspect raises its own errors for unreadable logs
        raise ConfigError(f"{path}: not a readable inspect log: {exc}") from exc
    traces: list[DebateTrace] = []
    failed = 0
    for sample in log.samples or []:
        stored = sample.store.get(TRACE_KEY)
        if stored is None:
            failed += sample.error is not None
            continue
        try:
            traces.append(parse_trace(json.dumps(stored)))
        except (ConfigError, ValueError) as exc:
            raise ConfigError(f"{path}: sample {sample.id!r} (epoch {sample.epoch}): "
                              f"damaged {TRACE_KEY}: {_why(exc)}") from exc
    if not traces and not failed:
        raise ConfigError(f"{path}: no sample has a debate trace ({TRACE_KEY} in its store); "
                          "only samples solved by debate_solver "
                          "(debate.integrations.inspect_ai) have one")
    return traces, failed


def _why(exc: Exception) -> str:
    """What is wrong, in one line (the first field pydantic refused, not its whole dump)."""
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        place = ".".join(str(part) for part in first["loc"]) or "the trace"
        return f"{place}: {first['msg']} ({exc.error_count()} error(s))"
    return str(exc)
