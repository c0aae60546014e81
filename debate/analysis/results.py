"""Results as data: one row per debate, written to ``results.csv`` in every run folder.

Each row is worked out by :func:`debate.analysis.metrics.score_rounds` (the same votes
and answer changes as the summary) from the debate's trace:

============================  ===============================================================
``id``                        the question's id
``protocol``                  the protocol's name
``models``                    the agents' models, each once, in agent order, joined by ``;``
``gold``                      the reference answer (empty: none)
``final_answer``              the debate's answer (empty: none could be parsed; never guessed)
``correct``                   ``true``/``false``; empty without gold
``round0_majority``           the majority vote over the first round's answers (empty: none)
``round0_correct``            whether that vote is correct; empty without gold
``rounds``                    the number of the debate's last round (round 0: initial answers)
``calls``, ``tokens``         model calls, and their prompt + completion tokens
``cost``                      dollars; empty when a model's price is unknown
``stop_reason``               why the debate stopped (``max_rounds``, ``consensus``...)
``flips_right_to_wrong``      answers that were correct in the agent's previous round, not now
``flips_wrong_to_right``      answers that were wrong in the agent's previous round, right now
``unparsed``                  answers (every round) from which no answer could be read
``status``                    ``finished``, or ``failed``: the debate could not finish
``error``                     why a failed debate failed (empty for a finished one)
============================  ===============================================================

A failed debate (a call that failed after every retry, a reply that broke a
protocol step) has a row too: no answer, ``correct`` ``false`` when the question
has a gold answer, so the mean of ``correct`` is the bound that counts every
failed debate as wrong; the accuracy over finished debates is its mean over the
rows whose ``status`` is ``finished``. A re-run retries it.

:func:`load_results` reads the file back as a pandas DataFrame with typed columns.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

from debate.analysis.metrics import ScoredRound, run_prices, score_rounds
from debate.errors import ConfigError, MissingDependencyError
from debate.files import damaged
from debate.models.accounting import PriceTable
from debate.scoring import final_correct
from debate.trace import DebateTrace, Question, read_traces

if TYPE_CHECKING:
    import pandas

__all__ = ["COLUMNS", "ResultRow", "failed_row", "load_results", "result_row", "result_rows",
           "write_results", "write_text_atomic"]


@dataclass(frozen=True, slots=True)
class ResultRow:
    """One debate's outcome, as a row of ``results.csv`` (columns: see the module docstring)."""

    id: str
    protocol: str
    models: tuple[str, ...]
    gold: str | None
    final_answer: str | None
    correct: bool | None
    round0_majority: str | None
    round0_correct: bool | None
    rounds: int
    calls: int
    tokens: int
    cost: float | None
    stop_reason: str
    flips_right_to_wrong: int
    flips_wrong_to_right: int
    unparsed: int
    status: str = "finished"
    error: str | None = None


COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(ResultRow))
"""The columns of ``results.csv``, in order."""

_BOOLS = ("correct", "round0_correct")
_INTS = ("rounds", "calls", "tokens", "flips_right_to_wrong", "flips_wrong_to_right", "unparsed")


def result_row(trace: DebateTrace, prices: PriceTable | None = None,
               scored: list[ScoredRound] | None = None) -> ResultRow:
    """The row of one finished debate (``prices``: for its cost; unknown price: no cost).

    ``scored``: the debate's :func:`~debate.analysis.metrics.score_rounds`, when the caller has
    them already (:meth:`debate.analysis.metrics.Tally.add` returns them).
    """
    prices = prices or PriceTable()
    scored = score_rounds(trace) if scored is None else scored
    answers = [answer for r in scored for answer in r.answers]
    cost: float | None = 0.0
    for turn in trace.turns:
        turn_cost = prices.cost(turn.model, turn.usage, turn.batch)
        cost = None if cost is None or turn_cost is None else cost + turn_cost
    return ResultRow(
        id=trace.question.id, protocol=trace.protocol,
        models=tuple(dict.fromkeys(agent.model for agent in trace.agents)),
        gold=trace.question.gold, final_answer=trace.final.answer,
        correct=final_correct(trace),
        round0_majority=scored[0].vote if scored else None,
        round0_correct=scored[0].vote_correct if scored else None,
        rounds=max((turn.round for turn in trace.turns), default=0),
        calls=len(trace.turns),
        tokens=sum(t.usage.prompt_tokens + t.usage.completion_tokens for t in trace.turns),
        cost=cost, stop_reason=trace.stop_reason,
        flips_right_to_wrong=sum(a.right_to_wrong for a in answers),
        flips_wrong_to_right=sum(a.wrong_to_right for a in answers),
        unparsed=sum(a.turn.answer is None for a in answers))


def failed_row(question: Question, protocol: str, models: Iterable[str], error: str
               ) -> ResultRow:
    """The row of a debate that could not finish: no answer, counted wrong when scored."""
    return ResultRow(
        id=question.id, protocol=protocol, models=tuple(dict.fromkeys(models)),
        gold=question.gold, final_answer=None,
        correct=None if question.gold is None else False,
        round0_majority=None, round0_correct=None, rounds=0, calls=0, tokens=0, cost=None,
        stop_reason="failed", flips_right_to_wrong=0, flips_wrong_to_right=0, unparsed=0,
        status="failed", error=error)


def result_rows(traces: Iterable[DebateTrace],
                prices: PriceTable | None = None) -> Iterator[ResultRow]:
    """One row per question, from its first finished trace (the one a resumed run keeps)."""
    seen: set[str] = set()
    for trace in traces:
        if trace.question.id not in seen:
            seen.add(trace.question.id)
            yield result_row(trace, prices)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ";".join(value)
    return str(value)


def _csv_text(rows: Iterable[ResultRow]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    # getattr, not dataclasses.astuple: that deep-copies every row
    writer.writerows([_cell(getattr(row, name)) for name in COLUMNS] for row in rows)
    return buffer.getvalue()


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file: readers see the old or the new.

    The file gets the mode any file written in place gets (``0o666`` less the umask), or
    keeps the mode of the file it replaces: a temporary file's private ``0o600`` would
    otherwise hide ``report.md`` or ``compare.svg`` from the rest of a team.
    """
    path = Path(path)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~_umask()
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(temp, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process's umask, read without changing it where the system says it (Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore, the only portable way to read it
    os.umask(mask)
    return mask


def write_results(path: str | Path, rows: Iterable[ResultRow]) -> None:
    """Write ``rows`` as ``results.csv`` (atomically: temporary file, then replace)."""
    write_text_atomic(path, _csv_text(rows))


def load_results(run_dir: str | Path) -> pandas.DataFrame:
    """A run's ``results.csv`` as a pandas DataFrame, one row per debate, typed columns.

    ``run_dir`` is a run folder (or the CSV file itself). Text columns are ``string``,
    ``correct``/``round0_correct`` nullable ``boolean``, counts ``Int64``, ``cost``
    ``Float64``; an empty cell is ``<NA>``. A run folder written before ``results.csv``
    existed is read from its ``traces.jsonl`` (nothing is written). Needs pandas.

    ``results.csv`` is written when an invocation ends: after one that was killed,
    ``traces.jsonl`` holds debates the file does not, and a ``UserWarning`` says so
    (re-running the same command brings it up to date).
    """
    try:
        import pandas as pd
    except ImportError:
        raise MissingDependencyError(
            "load_results needs pandas: `pip install pandas`") from None
    path = Path(run_dir)
    source: Path | io.StringIO = path / "results.csv" if path.is_dir() else path
    if path.is_dir() and not (path / "results.csv").exists():
        if not (path / "traces.jsonl").exists():
            raise ConfigError(f"{path}: no results.csv or traces.jsonl here; is this a run "
                              "folder?")
        source = io.StringIO(_csv_text(result_rows(read_traces(path / "traces.jsonl"),
                                                   run_prices(path))))
    elif not path.exists():
        raise ConfigError(f"{path}: no such run folder or results.csv")
    elif isinstance(source, Path):
        _warn_if_stale(source)
    try:
        frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    except (ValueError, UnicodeDecodeError) as exc:  # pandas' ParserError, EmptyDataError
        raise damaged(source if isinstance(source, Path) else path, "results table",
                      str(exc).strip().splitlines()[0] if str(exc).strip() else "empty",
                      "move it away: this then reads traces.jsonl, and a re-run of the "
                      "run's command writes it anew") from exc
    if "status" not in frame.columns:  # written before failed debates had rows
        frame["status"], frame["error"] = "finished", ""
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ConfigError(f"{path}: not a results.csv (no column {', '.join(missing)})")
    for column in frame.columns:
        values = frame[column].replace("", None)
        if column in _BOOLS:
            frame[column] = values.map({"true": True, "false": False}).astype("boolean")
        elif column in _INTS:
            frame[column] = pd.to_numeric(values).astype("Int64")
        elif column == "cost":
            frame[column] = pd.to_numeric(values).astype("Float64")
        else:
            frame[column] = values.astype("string")
    return frame


def _warn_if_stale(csv_path: Path) -> None:
    """Warn when the run's traces were written after its ``results.csv``."""
    traces = csv_path.with_name("traces.jsonl")
    if traces.exists() and traces.stat().st_mtime > csv_path.stat().st_mtime:
        warnings.warn(f"{csv_path} is older than {traces.name}: an invocation did not finish "
                      "and its debates are not in it; re-run the same command to update it",
                      UserWarning, stacklevel=3)
