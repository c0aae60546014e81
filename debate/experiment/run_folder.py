"""The run folder's records: its lock, ``config.json``, and what earlier invocations left.

A run folder (see :mod:`debate.experiment.runner`) is written by one process at a
time (:class:`RunLock`); ``config.json`` records the experiment, without secrets,
and refuses a changed one (:func:`record_run`); a resumed run reads the last
invocation's ``summary.json`` once (:func:`previous_summary`) and refuses to score
finished debates two ways (:func:`scoring_change`, :func:`refuse_mixed_scoring`).
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape

from debate.analysis.metrics import Summary
from debate.analysis.results import write_text_atomic
from debate.errors import ConfigError, hide_password, register_secret
from debate.experiment.identity import Fingerprint, changes
from debate.files import read_json_model, read_run_record
from debate.trace import Question

if TYPE_CHECKING:
    from debate.experiment.config import ExperimentConfig

__all__ = ["RunLock", "previous_summary", "previous_totals", "record_run",
           "refuse_mixed_scoring", "scoring_change", "without_secrets"]


_SECRET_NAME = re.compile(r"(^|_)(key|token|secret|password|authorization|credentials?)$", re.I)


def without_secrets(data: Any) -> Any:
    """``data`` with every secret-named key's value (``api_key``, ``token``...) redacted.

    The password of every URL in it is shown as ``***`` too (``http://user:***@host``).
    Each such value is also registered with :func:`debate.errors.register_secret`, so an
    error text that quotes it is redacted too.
    """
    if isinstance(data, dict):
        cleaned: dict[str, Any] = {}
        for key, value in data.items():
            if isinstance(value, str) and _SECRET_NAME.search(str(key)):
                register_secret(value)
                cleaned[key] = "[redacted]"
            else:
                cleaned[key] = without_secrets(value)
        return cleaned
    if isinstance(data, list):
        return [without_secrets(item) for item in data]
    if isinstance(data, str):
        return hide_password(data)
    return data


def record_run(run_dir: Path, config: ExperimentConfig, fp: Fingerprint, force: bool,
                console: Console) -> None:
    """Write ``config.json``; refuse (or, with ``force``, record) a change of experiment."""
    path = run_dir / "config.json"
    forced: list[dict[str, Any]] = []
    stored = read_run_record(run_dir)
    if stored is not None:
        forced = stored.forced
        if stored.identity != fp.identity:
            changed = changes(stored.fingerprint, fp.components)
            listed = "\n".join(f"  - {line}" for line in changed)
            if not force:
                raise ConfigError(
                    f"{run_dir} holds a run of a different experiment; what changed:\n{listed}\n"
                    "Start a new run with --name NEW_NAME, or continue this one knowingly with "
                    "--force (its finished debates stay as they were made).")
            console.print(f"[yellow]--force:[/yellow] continuing {run_dir} with a changed "
                          f"experiment:\n{listed}", highlight=False)
            forced.append({"at": datetime.now(UTC).isoformat(), "from": stored.identity,
                           "to": fp.identity, "changed": changed})
    record: dict[str, Any] = {"identity": fp.identity, "fingerprint": fp.components,
                              "config": without_secrets(config.model_dump(mode="json"))}
    if forced:
        record["forced"] = forced
    write_text_atomic(path, json.dumps(record, indent=2))  # a kill never leaves half of it


class RunLock:
    """An exclusive lock on a run folder, held while a run uses it (``.lock`` inside).

    Two processes running into one folder would interleave their traces, share one
    cache and overwrite each other's summary; the second is refused with the first's
    pid instead. The operating system drops the lock when its process dies, so a
    killed run never leaves a stale lock. (Windows has no ``fcntl``: no lock there.)
    """

    def __init__(self) -> None:
        self._file: Any = None

    def acquire(self, run_dir: Path) -> None:
        """Hold ``run_dir``'s lock, or raise :class:`ConfigError` naming the holder's pid."""
        try:
            import fcntl
        except ImportError:  # Windows
            return
        path = run_dir / ".lock"
        file = path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            file.seek(0)
            holder = file.read().strip() or "unknown"
            file.close()
            raise ConfigError(f"run folder {run_dir} is in use by another run (pid {holder}); "
                              "wait for it to finish, or give this run another --name") from None
        file.seek(0)
        file.truncate()
        file.write(f"{os.getpid()}\n")
        file.flush()
        self._file = file

    def release(self) -> None:
        """Let the folder go (a lock never acquired: nothing to do)."""
        if self._file is not None:
            self._file.close()  # closing the file releases the lock
            self._file = None


def scoring_change(then: Question, now: Question) -> str | None:
    """How a finished debate's question was scored otherwise than it reads now, if it was."""
    was = (then.task, then.gold, then.numeric_tolerance, then.choices)
    is_ = (now.task, now.gold, now.numeric_tolerance, now.choices)
    if was == is_:
        return None
    names = ("task", "gold", "numeric_tolerance", "choices")
    return ", ".join(f"{name} {a!r} -> {b!r}" for name, a, b in zip(names, was, is_, strict=True)
                     if a != b)


def refuse_mixed_scoring(run_dir: Path, rescored: list[str], force: bool, console: Console) -> None:
    """Refuse (or, with ``force``, warn of) a run that would score its debates two ways."""
    shown = "\n".join(f"  - {line}" for line in rescored[:5])
    more = f"\n  ... and {len(rescored) - 5} more" if len(rescored) > 5 else ""
    text = (f"{run_dir}: {len(rescored)} finished debates were scored as their questions no "
            f"longer read (the dataset, or how debatelab reads it, changed):\n{shown}{more}\n")
    if not force:
        raise ConfigError(text + "Set dataset.task to what they were scored as, start a new run "
                          "with --name NEW_NAME, or continue knowingly with --force (each "
                          "finished debate keeps its own scoring).")
    console.print(f"[yellow]--force:[/yellow] {escape(text)}each finished debate keeps its "
                  "own scoring", highlight=False)


def previous_summary(path: Path, console: Console) -> Summary | None:
    """The summary the run's last invocation wrote (``None``: none, or unreadable, warned)."""
    if not path.exists():
        return None
    try:
        return read_json_model(path, Summary, "run summary", "it is written anew")
    except ConfigError as exc:  # the debates are done: count again rather than fail the run
        console.print(f"[yellow]warning:[/yellow] {escape(str(exc))}; the totals of earlier "
                      "invocations start again from this one", highlight=False)
        return None


def previous_totals(previous: Summary | None) -> tuple[int, float, int]:
    """(invocations, seconds, requests) of the run's earlier invocations, from its summary."""
    if previous is None:
        return 0, 0.0, 0
    if previous.invocations is None:  # written before totals were kept: its last invocation
        return 1, previous.wall_time or 0.0, previous.requests or 0
    return (previous.invocations, previous.total_wall_time or 0.0,
            previous.total_requests or 0)
