"""Rows to questions: choices, gold answers, the task inferred (and why).

Every bad row is an error naming its file, line and field.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from debate.datasets.distractor import read_distractor
from debate.datasets.memory import MemoryRows, is_hf_dataset
from debate.datasets.sources import Row, memory_rows, rows_of
from debate.datasets.spec import FieldMap
from debate.errors import DatasetError
from debate.scoring import normalize_gold, strip_choice_labels
from debate.scoring.numbers import NumericTolerance
from debate.trace import Question, TaskType

__all__ = ["DatasetWarning", "LoadedDataset", "infer_task", "load_dataset", "read_dataset"]


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


def load_dataset(source: str | Path | list[Any] | Any, *, task: TaskType | None = None,
                 fields: FieldMap | None = None, limit: int | None = None,
                 partial_gold: bool = False,
                 numeric_tolerance: NumericTolerance | None = None) -> list[Question]:
    """Read questions from ``source``, a file, folder, dataset or list.

    ``source``: a file or saved folder, a ``datasets.Dataset``, a list of dicts (rows,
    located as ``rows[3]``) or of :class:`~debate.trace.Question` (taken as they are).

    A source without a question is an error, and so is a NaN, list or object gold, or
    a row without a gold answer when other rows have one (unless ``partial_gold``).
    ``task=None`` infers it (:func:`infer_task`; :func:`read_dataset` also says how).
    """
    return _read(source, task, fields, limit, partial_gold, numeric_tolerance).questions


def read_dataset(source: str | Path | list[Any] | Any, *, task: TaskType | None = None,
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
    if isinstance(source, list | tuple) and not is_hf_dataset(source):
        source = memory_rows(source)
    if isinstance(source, MemoryRows) and source.kind == "questions":
        return _given_questions(source, task, fields, limit, numeric_tolerance)
    fields = fields or FieldMap()
    name, rows = rows_of(source)
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


def _given_questions(source: MemoryRows, task: TaskType | None, fields: FieldMap | None,
                     limit: int | None, numeric_tolerance: NumericTolerance | None
                     ) -> LoadedDataset:
    """Questions given in Python, taken as they are (copies): one task, unique ids."""
    if fields is not None and fields != FieldMap():
        raise DatasetError("rows: `fields` map the columns of rows; these are Questions, "
                           "read already (give dicts to have them mapped)")
    questions = source.questions()[:limit]
    tasks = sorted({q.task for q in questions})
    if len(tasks) > 1:
        raise DatasetError(f"rows: the Questions have several tasks ({', '.join(tasks)}); a "
                           "run scores one: give each the same task")
    if task is not None and tasks[0] != task:
        first = next(i for i, q in enumerate(questions) if q.task != task)
        raise DatasetError(f"rows[{first}]: the Question's task is {tasks[0]!r}, but the "
                           f"dataset's task is {task!r}: set one of them to the other")
    if numeric_tolerance is not None and tasks[0] != "numeric":
        raise DatasetError(f"rows: numeric_tolerance applies to numeric answers; these "
                           f"Questions' task is {tasks[0]}")
    seen: dict[str, int] = {}
    for index, question in enumerate(questions):
        if question.id in seen:
            raise DatasetError(f"rows[{index}]: duplicate id {question.id!r} (first at "
                               f"rows[{seen[question.id]}])")
        seen[question.id] = index
        if numeric_tolerance is not None:
            question.numeric_tolerance = numeric_tolerance
    return LoadedDataset(questions, tasks[0], "given")


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
