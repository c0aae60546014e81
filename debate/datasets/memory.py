"""Questions given in Python: Questions, dicts or a ``datasets.Dataset``.

``ExperimentConfig(dataset=[...])`` and ``DatasetSpec(rows=...)`` take a list of
:class:`~debate.trace.Question`, a list of dicts, or a ``datasets.Dataset``.

:class:`MemoryRows` holds them with their count and content hash. A config records them
as ``{"in_memory": KIND, "count": N, "sha256": H}``, not row by row, so ``config.json``
stays small; that record validates again (a re-check, a Ray shard's copy of the config:
its questions come from the driver) but holds no rows to read.
"""

from __future__ import annotations

import copy
import datetime
import decimal
import hashlib
import json
import uuid
from collections.abc import Iterator, Mapping
from pathlib import PurePath
from typing import Any, Literal

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

from debate.errors import DatasetError
from debate.trace import Question

__all__ = ["MemoryKind", "MemoryRows", "is_hf_dataset"]

MemoryKind = Literal["questions", "rows", "datasets.Dataset"]
"""What was given: ``Question`` objects, dicts (read with the field mapping), or a
``datasets.Dataset`` (its rows read like dicts)."""


def is_hf_dataset(value: Any) -> bool:
    """Whether ``value`` is a HF ``datasets.Dataset`` (looked at without importing it)."""
    return (not isinstance(value, str | bytes | Mapping)
            and hasattr(value, "column_names") and hasattr(value, "__iter__"))


def _kind(data: Any) -> MemoryKind:
    """The kind of a list (all Questions, or all mappings) or of a ``datasets.Dataset``."""
    if is_hf_dataset(data):
        return "datasets.Dataset"
    if not isinstance(data, list | tuple):
        raise ValueError(f"in-memory data is a list of Questions or of dicts, or a "
                         f"datasets.Dataset, not {type(data).__name__}")
    if not data:
        raise ValueError("no rows (an empty list): give at least one question")
    first: MemoryKind = "questions" if isinstance(data[0], Question) else "rows"
    for index, item in enumerate(data):
        fits = isinstance(item, Question) if first == "questions" else isinstance(item, Mapping)
        if not fits:
            wanted = "a Question, like rows[0]" if first == "questions" else "a dict (a row)"
            raise ValueError(f"rows[{index}]: expected {wanted}, got {type(item).__name__} "
                             f"({repr(item)[:40]})")
    return first


_TEXT_VALUES = (datetime.date, datetime.time, decimal.Decimal, uuid.UUID, PurePath)
"""Value types written as their text in the hash (each text is stable across processes)."""


def _stable(value: Any) -> Any:
    """A value JSON cannot write, as one that hashes the same in every process."""
    if isinstance(value, _TEXT_VALUES):
        return str(value)
    item = getattr(value, "item", None)  # a numpy scalar
    if callable(item):
        return item()
    raise TypeError(f"a value of type {type(value).__name__}, which has no stable text to hash "
                    "(give plain text, numbers, lists and dicts)")


def _row_json(item: Any, where: str) -> str:
    """One row (or Question) as canonical JSON, the unit of the content hash."""
    data = item.model_dump(mode="json") if isinstance(item, Question) else dict(item)
    try:
        return json.dumps(data, sort_keys=True, default=_stable, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from None


class MemoryRows:
    """In-memory questions or rows, with their count and SHA-256 (row by row, as JSON).

    The same rows hash alike whether given as dicts or as a ``datasets.Dataset``;
    ``data`` is ``None`` in a record read back from ``config.json``.
    """

    def __init__(self, data: Any, kind: MemoryKind, count: int, sha256: str) -> None:
        self.data = data
        self.kind: MemoryKind = kind
        self.count = count
        self.sha256 = sha256

    @classmethod
    def of(cls, data: Any) -> MemoryRows:
        """``data`` checked (every item a Question, or every item a dict) and hashed."""
        kind = _kind(data)
        if kind == "rows":  # copies: a row changed after the config was made changes nothing
            data = [copy.deepcopy(dict(row)) for row in data]
        elif kind == "questions":
            data = [question.model_copy(deep=True) for question in data]
        digest = hashlib.sha256()
        count = 0
        for item in data:
            digest.update(_row_json(item, f"rows[{count}]").encode() + b"\n")
            count += 1
        return cls(data, kind, count, digest.hexdigest())

    @classmethod
    def recorded(cls, record: Mapping[str, Any]) -> MemoryRows:
        """The record ``config.json`` holds (``in_memory``, ``count``, ``sha256``): no rows."""
        keys = {"in_memory", "count", "sha256"}
        if set(record) != keys:
            raise ValueError(f"a record of in-memory data has the keys {sorted(keys)}, not "
                             f"{sorted(record)}; in Python, give the rows as a list")
        kind, count, sha256 = record["in_memory"], record["count"], record["sha256"]
        if kind not in ("questions", "rows", "datasets.Dataset"):
            raise ValueError(f"in_memory: {kind!r} is not questions, rows or datasets.Dataset")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"count: {count!r} is not a positive number of rows")
        if not isinstance(sha256, str) or len(sha256) != 64:
            raise ValueError(f"sha256: {sha256!r} is not a SHA-256 hex digest")
        return cls(None, kind, count, sha256)

    def record(self) -> dict[str, Any]:
        """What ``config.json`` keeps of the data: its kind, row count and hash."""
        return {"in_memory": self.kind, "count": self.count, "sha256": self.sha256}

    def rows(self) -> Iterator[tuple[str, Mapping[str, Any]]]:
        """(``rows[i]``, row) for each row; a record without rows is a :class:`DatasetError`."""
        if self.kind == "questions":
            raise DatasetError("rows: these are Questions, already read: they are not rows")
        for index, row in enumerate(self._held()):
            yield f"rows[{index}]", row

    def questions(self) -> list[Question]:
        """The Questions given (copies); only for ``kind == "questions"``."""
        if self.kind != "questions":
            raise DatasetError(f"rows: these are {self.kind}, not Questions")
        return [q.model_copy(deep=True) for q in self._held()]

    def _held(self) -> Any:
        if self.data is None:
            raise DatasetError(
                f"dataset.rows: in-memory data recorded as {self.count} {self.kind} (sha256 "
                f"{self.sha256[:12]}...); the rows themselves are not kept in config.json: "
                "give them again in Python (ExperimentConfig(dataset=rows))")
        return self.data

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MemoryRows) and other.record() == self.record()

    def __hash__(self) -> int:
        return hash(self.sha256)

    def __repr__(self) -> str:
        return f"MemoryRows({self.count} {self.kind}, sha256={self.sha256[:12]}...)"

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler
                                     ) -> core_schema.CoreSchema:
        """Validated from a list, a ``datasets.Dataset`` or a record; dumped as a record.

        Only in JSON (``config.json``, a Ray shard's copy): a Python dump (a copy, a
        re-check) keeps the rows themselves.
        """
        return core_schema.no_info_plain_validator_function(
            cls._validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda value: value.record(), when_used="json"))

    @classmethod
    def _validate(cls, value: Any) -> MemoryRows:
        if isinstance(value, MemoryRows):
            return value
        if isinstance(value, Mapping):
            return cls.recorded(value)
        return cls.of(value)
