"""Datasets: JSONL, JSON arrays, CSV, HF ``datasets`` objects and saved dataset folders.

A :class:`FieldMap` says which column holds what. Choices may be one column
(a list, or a JSON list in CSV) or several columns; gold answers may be a
letter, a 0-based index or the choice's text. A bad row is an error naming
the file, the line (or index) and the field. HF datasets are accepted as
objects, local folders (``save_to_disk``) or Hub names
(``dataset: {hub: openai/gsm8k, config: main, split: test}``), which
``datasets.load_dataset`` fetches on the user's machine into its cache (and
reads from that cache with ``HF_DATASETS_OFFLINE=1``). A row's wrong answer, which the
oversight protocols defend against the gold, is its ``distractor`` column
(:mod:`debate.distractor`). QuALITY is read in its own format (``dataset: {quality: {...}}``,
:mod:`debate.quality`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import PrivateAttr, SerializerFunctionWrapHandler, model_serializer, model_validator

from debate.distractor import read_distractor
from debate.errors import DatasetError, MissingDependencyError
from debate.quality import QualityOptions, QualitySource, quality_rows
from debate.scoring import normalize_gold, strip_choice_labels
from debate.scoring.numbers import NumericTolerance
from debate.settings import Settings
from debate.trace import Question, TaskType

__all__ = [
    "DatasetSpec", "DatasetWarning", "FieldMap", "LoadedDataset", "content_hash", "infer_task",
    "load_dataset", "read_dataset", "rows_hash",
]


class FieldMap(Settings):
    """Which column holds each part of a question (an unknown key is an error)."""

    question: str = "question"
    """The question text (required)."""
    answer: str = "answer"
    """The gold answer (optional: unlabeled data is allowed)."""
    id: str = "id"
    """A unique id; when absent, ``<name>-<row number>``."""
    choices: str | list[str] = "choices"
    """One column with a list of options, or several columns, one per option."""
    context: str = "context"
    """A passage that comes with the question."""
    distractor: str = "distractor"
    """A wrong answer, which the oversight protocols defend against the gold (optional;
    written like the gold; read into ``metadata["distractor"]``)."""

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Without ``distractor`` where it is the default: runs' identities stay as they were."""
        data: dict[str, Any] = handler(self)
        if self.distractor == "distractor":
            data.pop("distractor", None)
        return data


class DatasetSpec(Settings):
    """A dataset as an experiment config names it: a local ``path`` or a Hub name (``hub``)."""

    path: str | None = None
    """A ``.jsonl``, ``.json`` or ``.csv`` file, or a folder saved by HF ``datasets``."""
    hub: str | None = None
    """A Hugging Face Hub dataset id (``openai/gsm8k``), loaded with ``datasets.load_dataset``."""
    config: str | None = None
    """The Hub dataset's configuration (``main``), if it has several."""
    split: str | None = None
    """The Hub dataset's split; default ``test``, or its only split."""
    revision: str | None = None
    """A Hub revision (branch, tag or commit) to pin the data to."""
    task: TaskType | None = None
    """Answer type; ``None`` infers it (:func:`infer_task`): choices -> ``choice``, boolean
    or yes/no golds -> ``yesno``, numeric golds -> ``numeric``, else ``exact``; the
    summary says which and why."""
    numeric_tolerance: NumericTolerance | None = None
    """How far a numeric answer may be from its gold (``{relative: 0.01}``,
    ``{absolute: 0.5}``); default none: numbers are compared exactly."""
    fields: FieldMap = FieldMap()
    """Column mapping."""
    partial_gold: bool = False
    """Let some questions lack a gold answer while others have one (those run unscored,
    counted in a warning). Off: a missing or NaN gold is an error naming its row. A
    dataset without any gold runs unscored either way."""
    quality: QualityOptions | None = None
    """Read the data as QuALITY (its JSON lines, or the Hub's ``tasksource/QuALITY``), with
    these filters and distractor rule (:mod:`debate.quality`); ``{}`` keeps every question."""
    _loaded: Any = PrivateAttr(None)

    @model_validator(mode="after")
    def _one_source(self) -> DatasetSpec:
        if (self.path is None) == (self.hub is None):
            raise ValueError("give a dataset `path` or a Hub dataset `hub` (one of them)")
        if self.path is not None and (self.config or self.split or self.revision):
            raise ValueError("`config`, `split` and `revision` go with `hub`, not `path`")
        if self.quality is not None and self.fields != FieldMap():
            raise ValueError("`fields` do not apply to QuALITY (`quality`): its columns are known")
        if self.quality is not None and self.task not in (None, "choice"):
            raise ValueError(f"QuALITY's questions are multiple-choice, not {self.task}")
        return self

    @property
    def label(self) -> str:
        """A short name for run folders: the file's stem, or the Hub dataset's name."""
        if self.path is not None:
            return Path(self.path).stem
        return "-".join(p for p in (self.hub or "").split("/")[-1:] + [self.config or ""] if p)

    def source(self) -> str | Any:
        """What :func:`load_dataset` reads: the path, or the Hub split (loaded once).

        For QuALITY, wrapped in a :class:`~debate.quality.QualitySource`.
        """
        data = self._data()
        return data if self.quality is None else QualitySource(data, self.quality)

    def _data(self) -> str | Any:
        if self.path is not None:
            return self.path
        if self._loaded is None:
            self._loaded = _load_hub(self.hub or "", self.config, self.split, self.revision)
        return self._loaded

    def content_hash(self) -> str:
        """SHA-256 of the data: a file's bytes, or the Hub split's rows.

        For QuALITY, with the filters and distractor rule that read them.
        """
        digest = content_hash(self.path) if self.path is not None else rows_hash(self._data())
        if self.quality is None:
            return digest
        options = self.quality.model_dump_json()
        return hashlib.sha256(f"{digest}\nquality {options}".encode()).hexdigest()


def _load_hub(hub: str, config: str | None, split: str | None, revision: str | None) -> Any:
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


def _rows(source: Any) -> tuple[str, Iterator[tuple[str, Row]]]:
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
            name, rows = _rows(data)
        return name, quality_rows(name, rows, source.options)
    if not isinstance(source, str | Path):
        if hasattr(source, "column_names") and hasattr(source, "__iter__"):
            name = getattr(getattr(source, "info", None), "dataset_name", None) or "dataset"
            return name, ((f"{name}[{i}]", row) for i, row in enumerate(source))
        raise DatasetError(f"unsupported dataset source {type(source).__name__}; "
                           "give a file path or a datasets.Dataset")
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


def _choices(row: Row, fields: FieldMap, where: str) -> list[str] | None:
    if isinstance(fields.choices, list):
        missing = [c for c in fields.choices if c not in row]
        if missing:
            raise DatasetError(f"{where}: choice column(s) {missing} missing")
        values = [str(row[c]).strip() for c in fields.choices]
        return strip_choice_labels([v for v in values if v]) or None
    value = row.get(fields.choices)
    if value in (None, ""):
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{where}: field {fields.choices!r} is not a list "
                               f"(in CSV, write it as a JSON list)") from exc
    if not isinstance(value, list) or not value:
        raise DatasetError(f"{where}: field {fields.choices!r} must be a non-empty list")
    return strip_choice_labels([str(v) for v in value])


_YESNO_GOLDS = frozenset({"yes", "no", "true", "false"})


def infer_task(rows: list[tuple[str, Row, list[str] | None]], fields: FieldMap
               ) -> tuple[TaskType, str]:
    """The task a dataset's rows imply, and why, in words (for the run's summary).

    Choices make ``choice``; golds that are all booleans (StrategyQA's ``true``/``false``)
    or all yes/no words make ``yesno``; golds that all hold a number make ``numeric``;
    anything else is ``exact``.
    """
    if any(choices for _, _, choices in rows):
        return "choice", "the questions have choices"
    golds = [row.get(fields.answer) for _, row, _ in rows if not _missing(row.get(fields.answer))]
    if not golds:
        return "exact", "no question has a gold answer"
    if all(isinstance(gold, bool) for gold in golds):
        return "yesno", "every gold answer is a boolean (true/false)"
    if all(isinstance(gold, str) and gold.strip().lower() in _YESNO_GOLDS for gold in golds):
        return "yesno", "every gold answer is yes or no"
    try:
        for gold in golds:
            if isinstance(gold, bool):
                raise ValueError("a boolean is not a number")
            normalize_gold(gold, "numeric")
    except ValueError:
        return "exact", "not every gold answer is a number, yes/no or a boolean"
    return "numeric", "every gold answer is a number"


@dataclass(frozen=True)
class LoadedDataset:
    """Questions read from a source, with the task they are scored as and why."""

    questions: list[Question]
    task: TaskType
    task_source: str
    """``given``, or ``inferred: <why>`` (see :func:`infer_task`)."""


def load_dataset(source: str | Path | Any, *, task: TaskType | None = None,
                 fields: FieldMap | None = None, limit: int | None = None,
                 partial_gold: bool = False,
                 numeric_tolerance: NumericTolerance | None = None) -> list[Question]:
    """Read questions from ``source``; see the module docstring for what is accepted.

    A source without a question is an error, and so is a NaN, list or object gold, or
    a row without a gold answer when other rows have one (unless ``partial_gold``).
    ``task=None`` infers it (:func:`infer_task`; :func:`read_dataset` also says how).
    """
    return _read(source, task, fields, limit, partial_gold, numeric_tolerance).questions


def read_dataset(source: str | Path | Any, *, task: TaskType | None = None,
                 fields: FieldMap | None = None, limit: int | None = None,
                 partial_gold: bool = False,
                 numeric_tolerance: NumericTolerance | None = None) -> LoadedDataset:
    """:func:`load_dataset`, with the task the questions are scored as and where it came from.

    ``numeric_tolerance``: how far a numeric answer may be from its gold (carried by
    every question, so a trace is scored the same wherever it is read).
    """
    return _read(source, task, fields, limit, partial_gold, numeric_tolerance)


def _read(source: str | Path | Any, task: TaskType | None, fields: FieldMap | None,
          limit: int | None, partial_gold: bool, numeric_tolerance: NumericTolerance | None
          ) -> LoadedDataset:
    """Both public readers' work, one frame below them (warnings point at their caller)."""
    fields = fields or FieldMap()
    name, rows = _rows(source)
    raw: list[tuple[str, Row, list[str] | None]] = []
    for where, row in rows:
        raw.append((where, row, _choices(row, fields, where)))
    if not raw:
        where = str(source) if isinstance(source, str | Path) else name
        raise DatasetError(f"{where}: no questions in it (0 rows read); is it the right file?")
    _check_mapped_columns(name, raw, fields)
    _check_gold(raw, fields, partial_gold)
    task_source = "given"
    if task is None:
        task, why = infer_task(raw, fields)
        task_source = f"inferred: {why}"
    if numeric_tolerance is not None and task != "numeric":
        raise DatasetError(f"{name}: numeric_tolerance applies to numeric answers; this "
                           f"dataset's task is {task} ({task_source})")
    questions: list[Question] = []
    seen: dict[str, str] = {}
    for index, (where, row, choices) in enumerate(raw):
        question = _question(name, index, where, row, choices, task, fields, seen)
        question.numeric_tolerance = numeric_tolerance
        questions.append(question)
        if limit is not None and len(questions) >= limit:
            break
    unlabeled = [q.id for q in questions if q.gold is None]
    if unlabeled and len(unlabeled) < len(questions):
        shown = ", ".join(unlabeled[:5]) + (", ..." if len(unlabeled) > 5 else "")
        warnings.warn(f"{name}: {len(unlabeled)} of {len(questions)} questions have no gold "
                      f"answer in {fields.answer!r} ({shown}); they run but are not scored",
                      DatasetWarning, stacklevel=4)
    return LoadedDataset(questions, task, task_source)


def _missing(value: Any) -> bool:
    """No gold: absent, or empty or blank text."""
    return value is None or (isinstance(value, str) and not value.strip())


def _check_gold(raw: list[tuple[str, Row, list[str] | None]], fields: FieldMap,
                partial: bool) -> None:
    """Every gold is a text or a number (never NaN); a labelled dataset has one in every row.

    A dataset without any gold runs unscored, with a warning naming its columns.
    """
    for where, row, _ in raw:
        value = row.get(fields.answer)
        if isinstance(value, float) and not math.isfinite(value):
            raise DatasetError(f"{where}: field {fields.answer!r} is {value} (NaN or infinite), "
                               "not a gold answer; give the answer, or leave it empty")
        if value is not None and (isinstance(value, list | dict)
                                  or not isinstance(value, str | int | float)):
            raise DatasetError(f"{where}: field {fields.answer!r} must be text, a number or a "
                               f"boolean, not {type(value).__name__} ({str(value)[:40]!r})")
    labeled = next((where for where, row, _ in raw if not _missing(row.get(fields.answer))),
                   None)
    if labeled is None:
        columns = sorted({key for _, row, _ in raw for key in row})
        warnings.warn(f"no question has a gold answer in {fields.answer!r} (columns: {columns});"
                      " the run is unscored (map the gold's column with fields.answer)",
                      DatasetWarning, stacklevel=4)
        return
    if partial:
        return
    for where, row, _ in raw:
        if _missing(row.get(fields.answer)):
            raise DatasetError(
                f"{where}: field {fields.answer!r} is missing or empty, but other rows have a "
                f"gold answer (e.g. {labeled}); give this row one, or set dataset.partial_gold: "
                "true to run rows without one unscored")


class DatasetWarning(UserWarning):
    """Something in a dataset that runs but may not be what was meant."""


def _check_mapped_columns(name: str, raw: list[tuple[str, Row, list[str] | None]],
                          fields: FieldMap) -> None:
    """A column mapped explicitly must exist: a typo must not turn a run unlabeled."""
    if not raw:
        return
    columns = {key for _, row, _ in raw for key in row}
    for key in fields.model_fields_set:
        mapped = getattr(fields, key)
        wanted = mapped if isinstance(mapped, list) else [mapped]
        missing = [column for column in wanted if column not in columns]
        if missing:
            raise DatasetError(f"{name}: fields.{key} maps to column(s) {missing}, which no row "
                               f"has (columns: {sorted(columns)})")


def _question(name: str, index: int, where: str, row: Row, choices: list[str] | None,
              task: TaskType, fields: FieldMap, seen: dict[str, str]) -> Question:
    text = row.get(fields.question)
    if text is None or (isinstance(text, str) and not text.strip()):
        raise DatasetError(f"{where}: field {fields.question!r} is missing or empty "
                           f"(columns: {sorted(row)}); map it with fields.question")
    if not isinstance(text, str):
        raise DatasetError(f"{where}: field {fields.question!r} must be text, not "
                           f"{type(text).__name__} ({str(text)[:40]!r})")
    raw_id = row.get(fields.id)
    if raw_id is not None and (isinstance(raw_id, bool) or not isinstance(raw_id, str | int)):
        raise DatasetError(f"{where}: field {fields.id!r} must be text or an integer, not "
                           f"{type(raw_id).__name__} ({str(raw_id)[:40]!r})")
    qid = str(raw_id) if raw_id not in (None, "") else f"{name}-{index}"
    if qid in seen:
        raise DatasetError(f"{where}: duplicate id {qid!r} (first at {seen[qid]})")
    seen[qid] = where
    if task == "choice" and not choices:
        raise DatasetError(f"{where}: a multiple-choice question needs choices "
                           f"(field {fields.choices!r})")
    gold = None
    if not _missing(row.get(fields.answer)):
        try:
            gold = normalize_gold(row[fields.answer], task, choices)
        except ValueError as exc:
            raise DatasetError(f"{where}: field {fields.answer!r}: {exc}") from exc
    used = {fields.question, fields.answer, fields.id, fields.context, fields.distractor}
    used |= set(fields.choices) if isinstance(fields.choices, list) else {fields.choices}
    metadata = {k: v for k, v in row.items() if k not in used | {"distractor"} and _plain(v)}
    distractor = read_distractor(row.get(fields.distractor), fields.distractor, where, task,
                                 choices, gold)
    if distractor is not None:
        metadata["distractor"] = distractor
    context = row.get(fields.context)
    if isinstance(context, list):  # passages: one per line, not a Python list's repr
        context = "\n".join(str(part) for part in context if part not in (None, ""))
    raw_gold = str(row[fields.answer]).strip() if gold is not None else None
    gold_text = raw_gold if task == "exact" and raw_gold != gold else None  # "Canberra"
    return Question(id=qid, text=str(text), task=task, gold=gold, gold_text=gold_text,
                    choices=choices, context=str(context) if context not in (None, "") else None,
                    metadata=metadata)


def _plain(value: Any) -> bool:
    return isinstance(value, str | int | float | bool | type(None) | list | dict)


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
