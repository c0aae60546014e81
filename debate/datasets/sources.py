"""Where rows come from, each with its location (``file.jsonl:3``), and content hashes.

JSONL, JSON arrays, CSV, HF ``datasets`` objects, saved folders, the Hub, and rows given
in Python (a list of dicts, :class:`~debate.datasets.memory.MemoryRows`: ``rows[3]``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from debate.datasets.memory import MemoryRows, is_hf_dataset
from debate.datasets.quality import QualitySource, quality_rows
from debate.errors import DatasetError, MissingDependencyError

__all__ = ["Row", "content_hash", "load_hub", "memory_rows", "rows_hash", "rows_of"]


def load_hub(hub: str, config: str | None, split: str | None, revision: str | None) -> Any:
    """One split of a Hub dataset through ``datasets.load_dataset``; errors say what to do."""
    try:
        import datasets
    except ImportError as exc:
        raise MissingDependencyError(f"dataset {hub!r} is on the Hugging Face Hub: loading it "
                                     "needs `pip install datasets`") from exc
    where = f"Hub dataset {hub!r}" + (f" (config {config!r})" if config else "")
    try:
        loaded = datasets.load_dataset(hub, config, split=split, revision=revision)
    except (ValueError, OSError, FileNotFoundError) as exc:  # unknown config/split, offline
        raise DatasetError(f"{where}: {exc}".strip()) from exc
    if isinstance(loaded, datasets.DatasetDict):
        if "test" in loaded or len(loaded) == 1:
            loaded = loaded["test" if "test" in loaded else next(iter(loaded))]
        else:
            raise DatasetError(f"{where} has splits {sorted(loaded)}: name one with `split`")
    return loaded


def rows_hash(dataset: Any) -> str:
    """SHA-256 of a ``datasets.Dataset``'s rows (canonical JSON), wherever it is cached."""
    digest = hashlib.sha256()
    for batch in dataset.iter(batch_size=1000):
        digest.update(json.dumps(batch, sort_keys=True, default=str).encode())
    return digest.hexdigest()


Row = Mapping[str, Any]


def rows_of(source: Any) -> tuple[str, Iterator[tuple[str, Row]]]:
    """(name, iterator of (location, row)) for any supported source."""
    if isinstance(source, QualitySource):
        data = source.data
        if isinstance(data, str | Path) and not Path(data).exists():
            raise DatasetError(f"{data}: no such file or folder (QuALITY is not shipped: download "
                               "it from github.com/nyu-mll/quality, or name the Hub's copy)")
        if isinstance(data, str | Path) and Path(data).is_file() and (
                Path(data).suffix.lower() not in (".json", ".csv")):  # QuALITY.v1.0.1.[...].dev
            path = Path(data)
            name, rows = (path.stem if path.suffix.lower() == ".jsonl" else path.name), _jsonl(path)
        else:
            name, rows = rows_of(data)
        return name, quality_rows(name, rows, source.options)
    if isinstance(source, list | tuple) and not is_hf_dataset(source):
        source = memory_rows(source)
    if isinstance(source, MemoryRows):
        return "memory", source.rows()
    if not isinstance(source, str | Path):
        if hasattr(source, "column_names") and hasattr(source, "__iter__"):
            name = getattr(getattr(source, "info", None), "dataset_name", None) or "dataset"
            return name, ((f"{name}[{i}]", row) for i, row in enumerate(source))
        raise DatasetError(f"unsupported dataset source {type(source).__name__}; give a file "
                           "path, a list of Questions or dicts, or a datasets.Dataset")
    path = Path(source)
    if not path.exists():
        raise DatasetError(f"{path}: no such file or folder")
    if path.is_dir():
        if not any((path / marker).is_file() for marker in _SAVED_MARKERS):
            raise DatasetError(f"{path}: a folder, but not a dataset saved by HF datasets (no "
                               f"{' or '.join(_SAVED_MARKERS)} in it); give a .jsonl, .json or "
                               ".csv file, or the folder `save_to_disk` wrote")
        try:
            import datasets
        except ImportError as exc:
            raise MissingDependencyError(f"{path} is a folder: loading a saved HF dataset needs "
                                         "`pip install datasets`") from exc
        try:
            loaded = datasets.load_from_disk(str(path))
        except (OSError, ValueError) as exc:
            raise DatasetError(f"{path}: cannot load the saved HF dataset: {exc}") from exc
        if isinstance(loaded, datasets.DatasetDict):
            split = "test" if "test" in loaded else next(iter(loaded))
            loaded = loaded[split]
        return path.name, ((f"{path}[{i}]", row) for i, row in enumerate(loaded))
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return path.stem, _jsonl(path)
    if suffix == ".json":
        return path.stem, _json(path)
    if suffix == ".csv":
        return path.stem, _csv(path)
    raise DatasetError(f"{path}: unsupported file type {suffix!r} (use .jsonl, .json or .csv)")


def memory_rows(data: Any) -> MemoryRows:
    """``data`` (a list of Questions or dicts) as :class:`MemoryRows`.

    A bad item is a :class:`DatasetError` naming it (``rows[3]: expected a dict...``).
    """
    try:
        return MemoryRows.of(data)
    except ValueError as exc:
        raise DatasetError(str(exc)) from None


_SAVED_MARKERS = ("dataset_info.json", "dataset_dict.json", "state.json")
"""Files a folder written by HF ``datasets``' ``save_to_disk`` holds (one of them)."""


def _jsonl(path: Path) -> Iterator[tuple[str, Row]]:
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            try:  # a byte-order mark (as some editors write) is not part of the first row
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise _not_utf8(f"{path}:{number}", exc) from exc
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise _json_error(f"{path}:{number}", exc) from exc
            if not isinstance(row, dict):
                raise DatasetError(f"{path}:{number}: expected a JSON object, got "
                                   f"{type(row).__name__}")
            yield f"{path}:{number}", row


def _json_error(where: str, exc: json.JSONDecodeError) -> DatasetError:
    return DatasetError(f"{where}: invalid JSON at column {exc.colno}: "
                        f"{exc.msg.removesuffix(' at')}")


def _json(path: Path) -> Iterator[tuple[str, Row]]:
    """A JSON array of objects, or JSON lines in a ``.json`` file (first character ``{``)."""
    text = _text(path)
    if text.lstrip()[:1] == "{":
        return _jsonl(path)
    return _json_array(path, text)


def _json_array(path: Path, text: str) -> Iterator[tuple[str, Row]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _json_error(f"{path}:{exc.lineno}", exc) from exc
    if not isinstance(data, list):
        raise DatasetError(f"{path}: expected a JSON array of objects")
    for i, row in enumerate(data):
        if not isinstance(row, dict):
            raise DatasetError(f"{path}[{i}]: expected an object, got {type(row).__name__}")
        yield f"{path}[{i}]", row


def _text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")  # spreadsheets write a byte-order mark
    except UnicodeDecodeError as exc:
        raise _not_utf8(str(path), exc) from exc


def _not_utf8(where: str, exc: UnicodeDecodeError) -> DatasetError:
    return DatasetError(f"{where}: not UTF-8 text ({exc.reason} at byte {exc.start})")


def _csv(path: Path) -> Iterator[tuple[str, Row]]:
    reader = csv.DictReader(io.StringIO(_text(path), newline=""))
    for row in reader:
        if None in row:
            raise DatasetError(f"{path}:{reader.line_num}: more fields than the header has")
        yield f"{path}:{reader.line_num}", row


def content_hash(path: str | Path) -> str:
    """SHA-256 of a dataset's content: a file's bytes, or a folder's files (names and bytes).

    Where the dataset lies does not change it; any edit to its content does.
    """
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: no such file or folder")
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        with file.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
