"""Writers: splits by question id, JSONL / Parquet / HF ``datasets`` on disk, a dataset card.

Splits assign whole questions (never one question to two splits), shuffled
with the seed. JSONL always works; Parquet needs ``pyarrow`` and the HF
writer ``datasets`` (``pip install debatelab[export]`` brings both). By default
every writer whose package is installed runs. An export is written into a
temporary folder next to ``out_dir`` and moved into place when complete, so a
failing writer never leaves half an export.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import random
import shutil
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from debate.errors import ConfigError, MissingDependencyError

__all__ = ["SPLIT_NAMES", "default_writers", "split_by_question", "write_export"]

Row = dict[str, Any]
SPLIT_NAMES = {1: ["train"], 2: ["train", "test"], 3: ["train", "validation", "test"]}
WRITERS = ("jsonl", "parquet", "hf")


def default_writers() -> tuple[str, ...]:
    """JSONL, plus Parquet when ``pyarrow`` and the HF writer when ``datasets`` is installed."""
    present = {"parquet": "pyarrow", "hf": "datasets"}
    return ("jsonl", *(w for w, package in present.items()
                       if importlib.util.find_spec(package) is not None))


def split_by_question(rows: list[Row], fractions: list[float], seed: int = 0
                      ) -> dict[str, list[Row]]:
    """Rows split by question id with the given fractions (1-3 of them, summing to 1)."""
    if not 1 <= len(fractions) <= 3 or abs(sum(fractions) - 1.0) > 1e-6 or min(fractions) < 0:
        raise ConfigError(f"split fractions must be 1 to 3 non-negative numbers summing to 1, "
                          f"got {fractions}")
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
                 sources: list[str] | None = None) -> dict[str, int]:
    """Write the splits of ``rows`` with ``writers`` and a dataset card; counts per split.

    ``writers=None``: :func:`default_writers`. The folder appears complete or not at all.
    """
    writers = default_writers() if writers is None else writers
    unknown = set(writers) - set(WRITERS)
    if unknown:
        raise ConfigError(f"unknown writer(s) {sorted(unknown)}; choose from {list(WRITERS)}")
    if "parquet" in writers:
        _need("pyarrow.parquet", "Parquet")
    if "hf" in writers:
        _need("datasets", "HF datasets")
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        counts = _write(rows, staging, fmt, strategies, fractions, seed, writers, sources or [])
        if out.exists():  # the previous export goes only once the new one is complete
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            out.rename(old / out.name)
            staging.rename(out)
            shutil.rmtree(old)
        else:
            staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return counts


def _write(rows: list[Row], out: Path, fmt: str, strategies: list[str], fractions: list[float],
           seed: int, writers: tuple[str, ...], sources: list[str]) -> dict[str, int]:
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
    (out / "README.md").write_text(
        dataset_card(all_splits, fmt=fmt, strategies=strategies, writers=writers,
                     sources=sources), encoding="utf-8")
    return {name: len(split_rows) for name, split_rows in all_splits.items()}


def dataset_card(splits: dict[str, list[Row]], *, fmt: str, strategies: list[str],
                 writers: tuple[str, ...], sources: list[str]) -> str:
    """A README for the exported dataset: provenance, counts, balance, how to load it."""
    all_rows = [r for rows in splits.values() for r in rows]
    models = sorted({m for r in all_rows for m in r["metadata"]["models"]})
    protocols = sorted({r["metadata"]["protocol"] for r in all_rows})
    lines = ["# Debate-trace dataset", "",
             f"Exported by debatelab from {len(sources)} source(s): "
             + (", ".join(f"`{s}`" for s in sources) or "-") + ".", "",
             f"- format: `{fmt}`", f"- strategies: {', '.join(f'`{s}`' for s in strategies)}",
             f"- protocols: {', '.join(protocols) or '-'}", f"- models: {', '.join(models) or '-'}",
             f"- questions: {len({r['question_id'] for r in all_rows})} "
             "(split by question id: no question is in two splits)", "",
             "| split | rows | questions | " + " | ".join(strategies) + " |",
             "|---|---|---|" + "---|" * len(strategies)]
    for name, rows in splits.items():
        per_strategy = Counter(r["metadata"]["strategy"] for r in rows)
        lines.append(f"| {name} | {len(rows)} | {len({r['question_id'] for r in rows})} | "
                     + " | ".join(str(per_strategy.get(s, 0)) for s in strategies) + " |")
    labels = Counter(r["label"] for r in all_rows if "label" in r)
    if labels:
        lines += ["", f"Label balance: {labels.get(True, 0)} desirable, "
                      f"{labels.get(False, 0)} undesirable."]
    empty = [name for name, rows in splits.items() if not rows]
    if empty:
        lines += ["", f"Empty (no file written): {', '.join(empty)}."]
    lines += ["", "Every row has `metadata` (trace id, question id, protocol, models, agents, "
                  "turn ids, round, strategy, config hash, schema version) and `question_id`.",
              "", "## Load it", "", "```python", "from datasets import load_dataset",
              "ds = load_dataset(\"json\", data_files={"
              + ", ".join(f'"{n}": "{n}.jsonl"' for n, r in splits.items() if r) + "})"]
    if "hf" in writers:
        lines += ["# or: from datasets import load_from_disk; ds = load_from_disk(\"hf\")"]
    lines += ["```", ""]
    if fmt == "sharegpt":
        lines += ["For LLaMA-Factory, `dataset_info.json` registers each split "
                  "(`dataset: debatelab_train`).", ""]
    return "\n".join(lines)
