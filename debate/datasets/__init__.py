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
(:mod:`debate.datasets.distractor`). QuALITY is read in its own format
(``dataset: {quality: {...}}``, :mod:`debate.datasets.quality`).
"""

from debate.datasets.read import (
    DatasetWarning,
    LoadedDataset,
    infer_task,
    load_dataset,
    read_dataset,
)
from debate.datasets.sources import content_hash, rows_hash
from debate.datasets.spec import DatasetSpec, FieldMap

__all__ = [
    "DatasetSpec", "DatasetWarning", "FieldMap", "LoadedDataset", "content_hash", "infer_task",
    "load_dataset", "read_dataset", "rows_hash",
]
