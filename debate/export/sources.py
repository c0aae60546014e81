"""Where ``debate export`` reads traces: a ``traces.jsonl`` or an inspect log (``.eval``).

An inspect log holds the traces that ``debate_solver`` (:mod:`debate.integrations.inspect_ai`)
kept in its samples' stores; reading one needs ``debatelab[inspect]``.
"""

from __future__ import annotations

from pathlib import Path

from debate.trace import DebateTrace, read_traces

__all__ = ["INSPECT_LOG_SUFFIX", "is_inspect_log", "read_source"]

INSPECT_LOG_SUFFIX = ".eval"
"""The suffix of an inspect_ai log file."""


def is_inspect_log(path: str | Path) -> bool:
    """True for an inspect log file (``LOG.eval``)."""
    return Path(path).suffix == INSPECT_LOG_SUFFIX


def read_source(path: str | Path) -> tuple[list[DebateTrace], int]:
    """The traces of one source, and how many of its debates failed without a trace.

    A ``traces.jsonl`` counts no failures here (its run's ``summary.json`` lists them:
    :func:`debate.export.card.source_runs`); an inspect log counts its samples that
    ended in an error before the debate had a trace.
    """
    if not is_inspect_log(path):
        return list(read_traces(path)), 0
    from debate.integrations.inspect_ai._require import require_inspect_ai

    require_inspect_ai(f"reading the inspect log {path}")
    from debate.integrations.inspect_ai.log import read_eval_traces

    return read_eval_traces(path)
