"""The ``debate`` Typer app, its consoles, and what its commands share.

Each command module (:mod:`~debate.cli.run`, :mod:`~debate.cli.export`,
:mod:`~debate.cli.runs`, :mod:`~debate.cli.catalog`) registers its commands on
:data:`app`; :mod:`debate.cli.main` imports them all. Each command imports what
it uses inside its body, so ``debate --help``, ``debate models``, ``debate
protocols`` and ``debate report`` start without LangGraph, the model SDKs or the
embedded model's runtime.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console

from debate.errors import ConfigError, DebateError, redact

if TYPE_CHECKING:
    from debate.trace import DebateTrace

__all__ = ["Opt", "app", "err", "fail", "numbers", "out", "run_traces", "trace_files"]

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Run multi-agent debate experiments and inspect their results.")
out = Console()
err = Console(stderr=True)

Opt = typer.Option


def fail(exc: Exception) -> NoReturn:
    """One clear line (or block) on stderr, no traceback, exit code 2.

    A file-system error names its file (``runs/x: Not a directory``), whichever file
    a command was reading or writing when it failed.
    """
    text = str(exc)
    if isinstance(exc, OSError) and not isinstance(exc, DebateError) and exc.filename:
        names = " -> ".join(str(f) for f in (exc.filename, exc.filename2) if f)
        text = f"{names}: {exc.strerror or exc}"
    typer.secho(f"error: {redact(text)}", err=True, fg=typer.colors.RED)
    raise typer.Exit(2) from None


def run_traces(run_dir: str | None) -> Iterator[DebateTrace] | None:
    """The debates of a run folder, for the per-debate table."""
    if run_dir is None or not (Path(run_dir) / "traces.jsonl").exists():
        return None
    from debate.trace import read_traces

    return read_traces(Path(run_dir) / "traces.jsonl")


def numbers(text: str, option: str, kind: type[int] | type[float]) -> list[Any]:
    """A comma-separated list of numbers given to ``option``; anything else names it."""
    import math

    try:
        values = [kind(x) for x in text.split(",")]
    except ValueError:
        values = []
    if not values or not all(math.isfinite(v) and v >= 0 for v in values):
        noun = "whole numbers" if kind is int else "numbers"
        raise ConfigError(f"{option} {text!r}: give comma-separated {noun} of at least 0, "
                          "e.g. " + ("0,1" if kind is int else "0.9,0.1"))
    return values


def trace_files(sources: list[Path]) -> list[Path]:
    """The ``traces.jsonl`` of each run folder, or each ``.jsonl`` file or inspect log given."""
    files = []
    for source in sources:
        path = source / "traces.jsonl" if source.is_dir() else source
        if not path.exists():
            raise ConfigError(f"{source}: no traces.jsonl here; give run folders, .jsonl files "
                              "or inspect logs (.eval)")
        files.append(path)
    return files
