"""``dataset:``: where the questions are (:class:`DatasetSpec`), which column holds what.

A file, a Hub dataset, or data given in Python (``rows``: Questions, dicts or a
``datasets.Dataset``, :mod:`debate.datasets.memory`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from pydantic import PrivateAttr, SerializerFunctionWrapHandler, model_serializer, model_validator

from debate.datasets.memory import MemoryRows
from debate.datasets.quality import QualityOptions, QualitySource
from debate.datasets.sources import content_hash, load_hub, rows_hash
from debate.scoring.numbers import NumericTolerance
from debate.settings import Settings
from debate.trace import TaskType

__all__ = ["DatasetSpec", "FieldMap"]


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
    """A dataset as a config names it: a ``path``, a Hub name (``hub``) or Python ``rows``."""

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
    these filters and distractor rule (:mod:`debate.datasets.quality`); ``{}`` keeps every
    question."""
    rows: MemoryRows | None = None
    """Questions given in Python: a list of :class:`~debate.trace.Question`, a list of dicts
    (read with ``fields``, like a file's rows), or a ``datasets.Dataset``. ``config.json``
    records them as their kind, count and SHA-256, not row by row."""
    _loaded: Any = PrivateAttr(None)

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Without ``rows`` where there are none: records of files stay as they were."""
        data: dict[str, Any] = handler(self)
        if self.rows is None:
            data.pop("rows", None)
        return data

    @model_validator(mode="after")
    def _one_source(self) -> DatasetSpec:
        if sum(source is not None for source in (self.path, self.hub, self.rows)) != 1:
            raise ValueError("give a dataset `path`, a Hub dataset `hub`, or in-memory `rows` "
                             "(one of them)")
        if self.rows is not None and self.rows.kind == "questions":
            self._questions_take_no_reading()
        if self.hub is None and (self.config or self.split or self.revision):
            raise ValueError("`config`, `split` and `revision` go with `hub`, not "
                             f"{'`path`' if self.path is not None else 'in-memory `rows`'}")
        if self.quality is not None and self.fields != FieldMap():
            raise ValueError("`fields` do not apply to QuALITY (`quality`): its columns are known")
        if self.quality is not None and self.task not in (None, "choice"):
            raise ValueError(f"QuALITY's questions are multiple-choice, not {self.task}")
        return self

    def _questions_take_no_reading(self) -> None:
        """Questions are read already: no column mapping, no QuALITY reader applies."""
        if self.fields != FieldMap():
            raise ValueError("`fields` map the columns of rows; these rows are Questions, "
                             "read already (give dicts to have them mapped)")
        if self.quality is not None:
            raise ValueError("`quality` reads QuALITY's rows; these rows are Questions")

    @property
    def label(self) -> str:
        """A short name for run folders: the file's stem, the Hub dataset's name, or ``memory``."""
        if self.rows is not None:
            return "memory"
        if self.path is not None:
            return Path(self.path).stem
        return "-".join(p for p in (self.hub or "").split("/")[-1:] + [self.config or ""] if p)

    def source(self) -> str | Any:
        """What :func:`load_dataset` reads: the path, the Hub split or the in-memory rows.

        The Hub split is loaded once; in-memory rows are a
        :class:`~debate.datasets.memory.MemoryRows`.

        For QuALITY, wrapped in a :class:`~debate.datasets.quality.QualitySource`.
        """
        data = self._data()
        return data if self.quality is None else QualitySource(data, self.quality)

    def _data(self) -> str | Any:
        if self.rows is not None:
            return self.rows
        if self.path is not None:
            return self.path
        if self._loaded is None:
            self._loaded = load_hub(self.hub or "", self.config, self.split, self.revision)
        return self._loaded

    def content_hash(self) -> str:
        """SHA-256 of the data: a file's bytes, the Hub split's rows, or in-memory rows.

        In-memory rows are hashed row by row (:class:`~debate.datasets.memory.MemoryRows`).

        For QuALITY, with the filters and distractor rule that read them.
        """
        if self.rows is not None:
            digest = self.rows.sha256
        elif self.path is not None:
            digest = content_hash(self.path)
        else:
            digest = rows_hash(self._data())
        if self.quality is None:
            return digest
        options = self.quality.model_dump_json()
        return hashlib.sha256(f"{digest}\nquality {options}".encode()).hexdigest()
