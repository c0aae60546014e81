"""Writers: splits by question id, JSONL / Parquet / HF ``datasets`` on disk, a dataset card.

Splits assign whole questions (never one question to two splits), shuffled
with the seed. JSONL always works; Parquet needs ``pyarrow`` and the HF
writer ``datasets`` (``pip install debatelab[export]`` brings both). By default
every writer whose package is installed runs. An export is written into a
temporary folder next to ``out_dir`` and moved into place when complete, so a
failing writer never leaves half an export.

An export replaces its whole folder, so it never deletes what it did not write:
beside the dataset card it writes a manifest (:data:`MANIFEST`: format,
strategies, sources, counts and the files it wrote), and
:func:`check_export_target` lets it write only into a new or empty folder, or,
with ``overwrite``, over an earlier export holding nothing but the files its
manifest lists. Run folders, plain files, the current folder and folders holding
the sources are refused, each with a ``ConfigError`` that names the path.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import random
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Mapping
from contextlib import suppress
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import BaseModel

from debate.errors import ConfigError, MissingDependencyError
from debate.export.card import dataset_card, source_runs

__all__ = ["MANIFEST", "SPLIT_NAMES", "check_export_target", "check_fractions",
           "check_writers", "dataset_card",
           "default_writers", "split_by_question", "write_export"]

Row = dict[str, Any]
SPLIT_NAMES = {1: ["train"], 2: ["train", "test"], 3: ["train", "validation", "test"]}
WRITERS = ("jsonl", "parquet", "hf")
MANIFEST = "debatelab-export.json"
"""The file beside the dataset card that marks a folder as an export and lists its files."""
MANIFEST_VERSION = 1
CARD = "README.md"
RUN_MARKERS = ("traces.jsonl", "config.json", "cache.sqlite", "summary.json", "results.csv")
NEW_FOLDER = "choose a new output folder (e.g. exports/NAME)"


def default_writers() -> tuple[str, ...]:
    """JSONL, plus Parquet when ``pyarrow`` and the HF writer when ``datasets`` is installed."""
    present = {"parquet": "pyarrow", "hf": "datasets"}
    return ("jsonl", *(w for w, package in present.items()
                       if importlib.util.find_spec(package) is not None))


def check_writers(writers: Iterable[str]) -> None:
    """Refuse writer names other than :data:`WRITERS`."""
    unknown = set(writers) - set(WRITERS)
    if unknown:
        raise ConfigError(f"unknown writer(s) {sorted(unknown)}; choose from {list(WRITERS)}")


def check_fractions(fractions: list[float]) -> None:
    """Refuse split fractions that are not 1 to 3 non-negative numbers summing to 1."""
    if not 1 <= len(fractions) <= 3 or abs(sum(fractions) - 1.0) > 1e-6 or min(fractions) < 0:
        raise ConfigError(f"split fractions must be 1 to 3 non-negative numbers summing to 1, "
                          f"got {fractions}")


def split_by_question(rows: list[Row], fractions: list[float], seed: int = 0
                      ) -> dict[str, list[Row]]:
    """Rows split by question id with the given fractions (1-3 of them, summing to 1)."""
    check_fractions(fractions)
    questions = sorted({r["question_id"] for r in rows})
    random.Random(seed).shuffle(questions)
    names = SPLIT_NAMES[len(fractions)]
    assignment: dict[str, str] = {}
    start = 0.0
    for name, fraction in zip(names, fractions, strict=True):
        end = start + fraction
        lo, hi = round(start * len(questions)), round(end * len(questions))
        for qid in questions[lo:hi]:
            assignment[qid] = name
        start = end
    splits: dict[str, list[Row]] = {name: [] for name in names}
    for row in rows:
        splits[assignment[row["question_id"]]].append(row)
    return splits


def _need(package: str, what: str) -> Any:
    try:
        return importlib.import_module(package)
    except ImportError as exc:
        raise MissingDependencyError(f"{what} output needs `pip install debatelab[export]` "
                                     f"(package {package})") from exc


def write_export(rows: list[Row], out_dir: str | Path, *, fmt: str, strategies: list[str],
                 fractions: list[float], seed: int = 0, writers: tuple[str, ...] | None = None,
                 sources: list[str] | None = None, overwrite: bool = False,
                 options: BaseModel | Mapping[str, Any] | None = None,
                 filters: BaseModel | Mapping[str, Any] | None = None,
                 drops: Mapping[str, int] | None = None) -> dict[str, int]:
    """Write the splits of ``rows``, a dataset card and a manifest; counts per split.

    The card lists ``options`` and ``filters`` (what the strategies and filters ran
    with), the split, each source run with its identity, and ``drops`` (what was
    left out, by reason: ``rows.drops`` of :func:`debate.export.export`); the
    manifest keeps the drops too.

    ``writers=None``: :func:`default_writers`. ``out_dir`` must be new, an empty
    folder, or (``overwrite=True``) an earlier export: :func:`check_export_target`
    refuses anything else before a row is written, and again just before the swap.
    The folder appears complete or not at all; an earlier export stays whole until
    the new one is complete, and then only the files its manifest lists are deleted.
    """
    writers = default_writers() if writers is None else writers
    check_writers(writers)
    check_export_target(out_dir, sources=sources or [], overwrite=overwrite)
    if "parquet" in writers:
        _need("pyarrow.parquet", "Parquet")
    if "hf" in writers:
        _need("datasets", "HF datasets")
    out = Path(out_dir).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.{uuid.uuid4().hex[:12]}"
    staging.mkdir()  # not mkdtemp: its 0700 would become the export's mode
    try:
        card = {"options": options, "filters": filters, "drops": drops}
        counts = _write(rows, staging, fmt, strategies, fractions, seed, writers, sources or [],
                        card)
        # the folder may have changed while the export was written: decide again
        earlier = check_export_target(out_dir, sources=sources or [], overwrite=overwrite)
        _swap_in(staging, out, earlier)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return counts


def check_export_target(out_dir: str | Path, *, sources: Iterable[str | Path] = (),
                        overwrite: bool = False) -> frozenset[str]:
    """Refuse an ``out_dir`` an export may not replace; else the files it would replace.

    Allowed: a path that does not exist, an empty folder, and (only with
    ``overwrite``) an earlier export -- a folder with the dataset card and a
    :data:`MANIFEST` listing every file in it. Refused with a ``ConfigError`` naming
    the path: a link, a plain file, the current folder or one holding it, a folder
    holding one of ``sources``, a run folder (even with ``overwrite``), any other
    folder with something in it, and an earlier export holding a file it did not
    write. Cheap (no rows are read), so callers check before the slow work.
    """
    given = str(out_dir)
    path = Path(out_dir)
    out = path.resolve()
    cwd = Path.cwd().resolve()
    if path.is_symlink():
        raise ConfigError(f"--out {given} is a link; an export replaces its output folder "
                          f"and will not replace a link: {NEW_FOLDER}")
    if out == cwd or out in cwd.parents:
        raise ConfigError(f"--out {given} is the current folder ({cwd}) or holds it; an "
                          f"export replaces its whole output folder: {NEW_FOLDER}")
    run_files = [name for name in RUN_MARKERS if path.is_dir() and (path / name).exists()]
    if run_files:
        raise ConfigError(f"--out {given} is a run folder ({', '.join(run_files)}); an export "
                          f"never replaces one, not even with --overwrite: {NEW_FOLDER}")
    for source in sources:
        src = Path(source).resolve()
        if src == out or out in src.parents:
            raise ConfigError(f"--out {given} is or holds the traces being exported "
                              f"({source}); an export replaces its whole output folder: "
                              f"{NEW_FOLDER}")
    if not path.exists():
        return frozenset()
    if not path.is_dir():
        raise ConfigError(f"--out {given} is a file, not an export folder; an export never "
                          f"replaces a file: {NEW_FOLDER}")
    if not any(path.iterdir()):
        return frozenset()  # an empty folder: nothing to lose
    listed = _manifest_files(path)
    if listed is None:
        raise ConfigError(f"--out {given} exists and is not an earlier debatelab export (no "
                          f"{MANIFEST} beside its {CARD}); an export replaces its whole "
                          f"output folder, so it writes only into a new or empty one: "
                          f"{NEW_FOLDER}, or empty this one")
    files, folders, others = _tree(path)
    unknown = [f for f in files if f not in listed | {MANIFEST}] + others
    known_folders = {str(d) for f in [*listed, *unknown] for d in PurePosixPath(f).parents}
    unknown += [d for d in folders if d not in known_folders]  # e.g. an empty one added
    if unknown:
        more = f" (and {len(unknown) - 3} more)" if len(unknown) > 3 else ""
        raise ConfigError(f"--out {given} is an earlier export but holds "
                          f"{', '.join(unknown[:3])}{more}, which the export did not write; "
                          f"move it out, or {NEW_FOLDER}")
    if not overwrite:
        raise ConfigError(f"--out {given} exists; pass --overwrite to replace this earlier "
                          f"export (overwrite=True in Python), or {NEW_FOLDER}")
    return frozenset(files)


def _manifest_files(folder: Path) -> frozenset[str] | None:
    """The files an earlier export's manifest lists; None if ``folder`` is not an export."""
    if not (folder / CARD).is_file() or not (folder / MANIFEST).is_file():
        return None
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(manifest, dict) or manifest.get("debatelab_export") != MANIFEST_VERSION:
        return None
    files = manifest.get("files")
    if not isinstance(files, list):
        return None
    if not all(isinstance(f, str) and f and not PurePosixPath(f).is_absolute()
               and ".." not in PurePosixPath(f).parts for f in files):
        return None
    return frozenset(files)


def _tree(folder: Path) -> tuple[list[str], list[str], list[str]]:
    """Relative paths under ``folder``: its plain files, its folders, and anything else."""
    files: list[str] = []
    folders: list[str] = []
    others: list[str] = []
    for entry in sorted(folder.rglob("*")):
        name = entry.relative_to(folder).as_posix()
        if entry.is_symlink():
            others.append(f"{name} (a link)")
        elif entry.is_file():
            files.append(name)
        elif entry.is_dir():
            folders.append(name)
        else:
            others.append(name)
    return files, folders, others


def _swap_in(staging: Path, out: Path, earlier: frozenset[str]) -> None:
    """Move ``staging`` to ``out``; delete only the ``earlier`` export's files, once replaced."""
    if not out.exists():
        staging.rename(out)
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
    old = aside / out.name
    out.rename(old)
    try:
        staging.rename(out)
    except BaseException:
        old.rename(out)  # the earlier export goes back, whole
        aside.rmdir()
        raise
    for name in earlier:
        (old / name).unlink()
    folders = sorted((d for d in old.rglob("*") if d.is_dir()), key=lambda d: len(d.parts),
                     reverse=True)
    with suppress(OSError):  # anything unexpected is left aside, never deleted
        for folder in [*folders, old, aside]:
            folder.rmdir()


def _write(rows: list[Row], out: Path, fmt: str, strategies: list[str], fractions: list[float],
           seed: int, writers: tuple[str, ...], sources: list[str], card: dict[str, Any]
           ) -> dict[str, int]:
    all_splits = split_by_question(rows, fractions, seed)
    splits = {name: split_rows for name, split_rows in all_splits.items() if split_rows}
    if "jsonl" in writers:
        for name, split_rows in splits.items():
            with (out / f"{name}.jsonl").open("w", encoding="utf-8") as f:
                for row in split_rows:
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")
    if "parquet" in writers:
        arrow, parquet = _need("pyarrow", "Parquet"), _need("pyarrow.parquet", "Parquet")
        for name, split_rows in splits.items():
            parquet.write_table(arrow.Table.from_pylist(split_rows), str(out / f"{name}.parquet"))
    if "hf" in writers and splits:
        datasets = _need("datasets", "HF datasets")
        datasets.disable_progress_bars()
        datasets.DatasetDict({name: datasets.Dataset.from_list(split_rows)
                              for name, split_rows in splits.items()}).save_to_disk(
                                  str(out / "hf"))
    if fmt == "sharegpt":
        info = {f"debatelab_{name}": {"file_name": f"{name}.jsonl", "formatting": "sharegpt",
                                      "ranking": True,
                                      "columns": {"messages": "conversations", "system": "system",
                                                  "chosen": "chosen", "rejected": "rejected"}}
                for name in splits}
        (out / "dataset_info.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
    runs = source_runs(sources)
    (out / CARD).write_text(
        dataset_card(all_splits, fmt=fmt, strategies=strategies, writers=writers,
                     sources=sources, fractions=fractions, seed=seed, runs=runs, **card),
        encoding="utf-8")
    counts = {name: len(split_rows) for name, split_rows in all_splits.items()}
    manifest = {"debatelab_export": MANIFEST_VERSION, "format": fmt, "strategies": strategies,
                "writers": list(writers), "sources": sources, "counts": counts,
                "identities": {r.source: r.identity for r in runs},
                "dropped": {k: n for k, n in sorted((card["drops"] or {}).items()) if n},
                "files": sorted(p.relative_to(out).as_posix() for p in out.rglob("*")
                                if p.is_file())}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return counts
