"""The dataset card (``README.md``) of an export, and the runs it came from.

The card says what the rows are (format, strategies and what chosen and
rejected mean for each), where they came from (each source run with its
identity, from the run folder's ``config.json``), every option given
(strategy options, filters, splits, seed) and what was left out, by reason
(:mod:`debate.export.drops`), so a dataset can be judged without its command line.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from debate.export.drops import DROP_REASONS

__all__ = ["STRATEGY_MEANINGS", "SourceRun", "dataset_card", "source_runs"]

Row = dict[str, Any]

STRATEGY_MEANINGS: dict[str, str] = {
    "gold": "chosen: a reply whose answer matches the gold answer; rejected: a reply to the "
            "same prompt whose answer does not",
    "consensus": "chosen: a reply giving the debate's final majority answer; rejected: a reply "
                 "to the same prompt giving another answer (no gold needed)",
    "revision": "chosen: an agent's last answer, right (or the majority's); rejected: the same "
                "agent's first answer, wrong (or a minority's); prompt: its first prompt",
    "judge": "chosen: a last-round reply giving the answer the moderator or judge picked; "
             "rejected: one giving another answer",
    "judge-preference": "chosen: of the best-of-N candidate speeches at one point, the one "
                        "the judge rated highest; rejected: the lowest-rated (or, with "
                        "pairs all, the lower-rated of each pair)",
    "sft": "completion: a last-round reply giving the debate's final answer, in debates "
           "judged correct (or, without gold, the consensus); label: true",
    "sft-critique": "completion: a critique or review turn, role-conditioned; label: true",
    "mft-generator": "completion: an agent's round-0 reply whose answer agrees with the last "
                     "round's consensus (no gold); label: true; one dataset per agent "
                     "(metadata.agents[0])",
    "mft-critic": "completion: an agent's last-round reply that ends at the consensus, with its "
                  "whole conversation as the prompt; critic- (its first answer differed) or "
                  "critic+ (mixed in at --critic-plus-rate); label: true; one dataset per agent",
}
"""What chosen and rejected (or completion) mean, per built-in strategy."""


@dataclass(frozen=True)
class SourceRun:
    """One traces file given to an export, and the run folder it lies in."""

    source: str
    """The traces file, as given."""
    identity: str | None
    """The run's experiment identity (``config.json``); ``None``: no ``config.json`` there."""
    failed: int
    """Debates of the run that failed and left no trace (``summary.json``'s ``failed``)."""


def source_runs(sources: list[str]) -> list[SourceRun]:
    """Each traces file with its run's identity and failed debates.

    A damaged ``config.json`` or ``summary.json`` is a ``ConfigError`` naming it.
    """
    from debate.files import read_json_object, read_run_record

    runs = []
    for source in sources:
        folder = Path(source).parent
        record = read_run_record(folder)
        failed = 0
        summary = folder / "summary.json"
        if record is not None and summary.is_file():
            data = read_json_object(summary, "run summary", "move it away: `debate report` "
                                    "and a re-run rebuild it from traces.jsonl")
            listed = data.get("failed")
            failed = len(listed) if isinstance(listed, dict | list) else 0
        runs.append(SourceRun(source, record.identity if record else None, failed))
    return runs


def _meaning(name: str) -> str:
    """What chosen and rejected mean for strategy ``name`` (a plug-in's docstring)."""
    if name in STRATEGY_MEANINGS:
        return STRATEGY_MEANINGS[name]
    from debate.export.strategies import STRATEGIES

    try:
        doc = STRATEGIES.lookup(name).__doc__ or ""
    except Exception:  # a plug-in that fails to load has no meaning to show
        doc = ""
    return doc.strip().splitlines()[0] if doc.strip() else "(a plug-in strategy; no docstring)"


def _options_lines(settings: list[BaseModel | Mapping[str, Any] | None],
                   fractions: list[float] | None, seed: int | None) -> list[str]:
    """A table of every option the export ran with."""
    lines = ["| option | value |", "|---|---|"]
    for given in settings:
        values = given.model_dump() if isinstance(given, BaseModel) else dict(given or {})
        lines += [f"| {name} | `{json.dumps(value)}` |" for name, value in values.items()]
    if fractions is not None:
        lines.append(f"| split | `{','.join(str(f) for f in fractions)}` (by question id) |")
    if seed is not None:
        lines.append(f"| split seed | `{seed}` |")
    return lines


def _drop_lines(drops: Mapping[str, int]) -> list[str]:
    """A table of what was left out, by reason (or a line saying nothing was)."""
    counted = {r: n for r, n in drops.items() if n}
    if not counted:
        return ["Nothing was left out."]
    lines = ["| reason | count | unit | why |", "|---|---|---|---|"]
    for reason, n in sorted(counted.items(), key=lambda kv: (-kv[1], kv[0])):
        unit, why = DROP_REASONS.get(reason, ("item", "(a plug-in's reason)"))
        lines.append(f"| {reason} | {n} | {unit} | {why} |")
    return lines


def _source_lines(runs: list[SourceRun]) -> list[str]:
    lines = ["| traces | run identity | failed debates (no trace) |", "|---|---|---|"]
    return lines + [f"| `{r.source}` | {f'`{r.identity}`' if r.identity else '- (no config.json)'}"
                     f" | {r.failed} |" for r in runs]


def dataset_card(splits: dict[str, list[Row]], *, fmt: str, strategies: list[str],
                 writers: tuple[str, ...], sources: list[str],
                 options: BaseModel | Mapping[str, Any] | None = None,
                 filters: BaseModel | Mapping[str, Any] | None = None,
                 fractions: list[float] | None = None, seed: int | None = None,
                 drops: Mapping[str, int] | None = None,
                 runs: list[SourceRun] | None = None) -> str:
    """A README for the exported dataset: provenance, meaning, options, drops, how to load it."""
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
    lines += ["", "## What chosen and rejected mean", ""]
    lines += [f"- `{s}`: {_meaning(s)}." for s in strategies]
    if runs is not None:
        lines += ["", "## Source runs", "", *_source_lines(runs)]
    if options is not None or filters is not None or fractions is not None:
        lines += ["", "## Options", "", *_options_lines([options, filters], fractions, seed)]
    if drops is not None:
        lines += ["", "## Left out", "", *_drop_lines(drops)]
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
