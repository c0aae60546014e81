"""Adaptive stopping's replay of earlier rounds: each round folder's ``cache-seed.sqlite``.

Before every run of round r (:func:`debate.experiment.adaptive.arun_adaptive`), round r's
folder gets a file this mode owns, :data:`SEED`: the previous round's folder's
``cache*.sqlite`` files merged (:func:`seed_cache`). The run's response cache reads every
``cache*.sqlite`` of its folder and writes only its own file
(:func:`debate.experiment.session.run_cache`), so rounds 0..r-1 replay from the seed while
the run's own ``cache.sqlite`` is never touched here. The seed is rebuilt every time, so a
re-run with questions round r-1 did not have before (a larger ``--limit``) replays their
earlier rounds too; and it is written only into a folder that is new or holds this round's
experiment, or any folder under ``--force`` (:func:`seed_round`), under the folder's
:class:`~debate.experiment.run_folder.RunLock`.
"""

from __future__ import annotations

import os
import re
import sqlite3
import tempfile
from contextlib import closing
from pathlib import Path

from debate.errors import ConfigError
from debate.experiment.run_folder import RunLock
from debate.files import read_run_record

__all__ = ["SEED", "seed_cache", "seed_round"]

SEED = "cache-seed.sqlite"
"""The seed's file name in a round's folder (one of its ``cache*.sqlite``, read, never written
by the run)."""

_TEMP_PREFIX, _TEMP_SUFFIX = ".seed-", ".tmp"
"""The name of :func:`seed_cache`'s temporary copy: ``.seed-XXXXXXXX.tmp`` (``tempfile``'s)."""
_TEMP = re.compile(rf"{re.escape(_TEMP_PREFIX)}[A-Za-z0-9_]+{re.escape(_TEMP_SUFFIX)}"
                   r"(-journal|-wal|-shm)?")
"""A leftover of :func:`seed_cache` (a killed run's): its temporary copy, or SQLite's files
beside it."""


def _sources(source: Path) -> list[Path]:
    """``source``'s cache files, its own ``cache.sqlite`` first (its seed included)."""
    return sorted(source.glob("cache*.sqlite"), key=lambda p: (p.name != "cache.sqlite", p.name))


def _remove_leftovers(target: Path) -> None:
    """Unlink ``target``'s leftover temporary copies of the seed (a killed run's)."""
    for path in target.glob(f"{_TEMP_PREFIX}*"):
        if _TEMP.fullmatch(path.name) and path.is_file():
            path.unlink(missing_ok=True)


def seed_cache(source: Path, target: Path) -> bool:
    """Rebuild ``target``/:data:`SEED` from ``source``'s ``cache*.sqlite``; False if it has none.

    A killed run's leftover temporary copies in ``target`` (``.seed-*.tmp``, and SQLite's
    ``-journal``/``-wal``/``-shm`` beside them) are removed first; no other file. The first
    file is copied with SQLite's backup API (what a write-ahead log still holds included)
    into a fresh temporary file in ``target``; the others' calls are added with
    ``INSERT OR IGNORE``; the copy is switched out of WAL mode (a reader then leaves no
    ``-wal`` beside it) and renamed onto :data:`SEED`. No other file of ``target`` is
    written: its ``cache.sqlite`` stays as it is.
    """
    caches = _sources(source)
    if not caches:
        return False
    target.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(target)
    fd, name = tempfile.mkstemp(dir=target, prefix=_TEMP_PREFIX, suffix=_TEMP_SUFFIX)
    os.close(fd)
    temp = Path(name)
    try:
        with closing(sqlite3.connect(f"{caches[0].resolve().as_uri()}?mode=ro", uri=True)) as src, \
                closing(sqlite3.connect(temp)) as dst:
            src.backup(dst)
            for other in caches[1:]:
                dst.execute("ATTACH DATABASE ? AS other", (f"{other.resolve().as_uri()}?mode=ro",))
                dst.execute("INSERT OR IGNORE INTO calls (key, completion) "
                            "SELECT key, completion FROM other.calls")
                dst.commit()
                dst.execute("DETACH DATABASE other")
            dst.execute("PRAGMA journal_mode=DELETE")
        for side in ("-wal", "-shm"):  # a killed reader's, of an older seed
            (target / f"{SEED}{side}").unlink(missing_ok=True)
        os.replace(temp, target / SEED)
    except sqlite3.Error as exc:
        raise ConfigError(f"adaptive stopping: cannot copy the response caches of {source} "
                          f"into {target / SEED} ({exc})") from exc
    finally:
        temp.unlink(missing_ok=True)
    return True


def _other_experiment(run_dir: Path, identity: str) -> str | None:
    """Why ``run_dir`` is not this round's to seed (``None``: it is new, or holds it)."""
    try:
        stored = read_run_record(run_dir)
    except ConfigError as exc:
        return f"its config.json cannot be read ({exc})"
    if stored is None or stored.identity == identity:
        return None
    return f"it holds another experiment (identity {stored.identity[:8]}, not {identity[:8]})"


def seed_round(source: Path, run_dir: Path, identity: str, *, force: bool = False) -> str | None:
    """Seed ``run_dir`` (experiment ``identity``) from ``source``; why not, if not seeded.

    A folder that holds another experiment (its ``config.json``) is left exactly as it is,
    and the run then refuses it; with ``force`` (``--force``, with which the run continues
    it) it is seeded too: the seed is a file this mode owns (the folder's ``cache.sqlite``
    stays as it is), and a call's cache key is its model, messages, sampling parameters and
    position (:func:`debate.models.cache.cache_key`), so the seed answers only the calls
    this experiment's earlier rounds made. The folder's :class:`RunLock` is held while the
    seed is written (a run already using the folder is refused here, naming its pid:
    :class:`ConfigError`, as is a source whose caches cannot be copied).
    """
    if not force and run_dir.exists() and (why := _other_experiment(run_dir, identity)) is not None:
        return why
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = RunLock()
    lock.acquire(run_dir)
    try:
        if not force and (why := _other_experiment(run_dir, identity)) is not None:  # meanwhile
            return why
        if not seed_cache(source, run_dir):
            return f"{source} has no response cache"
    finally:
        lock.release()
    return None
