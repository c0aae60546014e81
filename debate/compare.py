"""Several runs side by side: one table, accuracy against compute, paired tests.

What ``debate compare RUN RUN...`` prints and plots. Each run is summarized
from its traces (:func:`debate.metrics.load_run_summary`); compute per run is
the mean per finished debate (calls, or prompt + completion tokens), so runs
of different sizes compare. Paired tests (exact McNemar, on the questions both
runs scored) compare each run with the first; with more than one test, the
Holm-adjusted p-values are shown next to the raw ones. Runs of the oversight
protocols (``debate-qa``, ``consultancy``, ``blind-judge``) get a second table
of how well their judge did (:func:`judge_table`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from rich import box
from rich.markup import escape
from rich.table import Table

from debate.metrics import Summary, load_run_summary, run_prices, summarize
from debate.plots import Point, scatter_chart
from debate.stats import Comparison
from debate.trace import read_traces

__all__ = ["Compute", "compute_chart", "holm", "judge_table", "paired_table", "per_debate",
           "run_names", "run_summary", "runs_table"]

Compute = Literal["calls", "tokens"]


def run_summary(source: str | Path) -> Summary:
    """The summary of a run folder, or of a ``traces.jsonl`` file (with its folder's prices)."""
    path = Path(source)
    if path.is_dir():
        return load_run_summary(path)
    summary = summarize(read_traces(path), run_prices(path.parent))
    return summary.model_copy(update={"run": str(path)})


def run_names(sources: Sequence[str | Path]) -> list[str]:
    """Short names for runs: each run folder's name when those differ, else the paths given.

    A ``traces.jsonl`` file is named by its folder.
    """
    paths = [Path(source) for source in sources]
    folders = [(p.parent if p.suffix == ".jsonl" else p).resolve().name for p in paths]
    if len(set(folders)) == len(folders) and all(folders):
        return folders
    return [str(source) for source in sources]


def per_debate(summary: Summary, compute: Compute) -> float | None:
    """Mean calls (or prompt + completion tokens) per finished debate; ``None`` without any."""
    if not summary.debates:
        return None
    total = summary.calls if compute == "calls" else (
        summary.prompt_tokens + summary.completion_tokens)
    return total / summary.debates


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _accuracy(summary: Summary) -> str:
    if summary.accuracy_interval is None:
        return _pct(summary.accuracy)
    low, high = summary.accuracy_interval
    return f"{_pct(summary.accuracy)}\n[{100 * low:.1f}–{100 * high:.1f}]"


def _table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]],
           wrap: Sequence[str]) -> Table:
    """A table whose ``wrap`` columns (names) shrink and wrap to fit; the others never do.

    A header keeps its line breaks and is never cut: no column is narrower than its
    header's longest word.
    """
    table = Table(title=title, box=box.SIMPLE_HEAD, padding=0)  # the box parts columns
    for index, name in enumerate(header):
        fixed = name not in wrap
        words = [*name.split(), *(w for row in rows if fixed for w in row[index].split())]
        table.add_column(name, min_width=max(map(len, words)), no_wrap=fixed, overflow="fold")
    for row in rows:
        table.add_row(*map(escape, row))
    return table


def runs_table(names: Sequence[str], summaries: Sequence[Summary]) -> Table:
    """One row per run: protocol, models, accuracy [95% CI], round-0 vote, calls, tokens, cost.

    Fits 80 columns: long run and model names wrap, headers stay whole.
    """
    rows = [(name, s.protocol or "-", "\n".join(s.models) or "-", _accuracy(s),
             _pct(s.vote_accuracy), str(s.calls), str(s.prompt_tokens + s.completion_tokens),
             "unknown" if s.cost is None else f"${s.cost:.4f}")
            for name, s in zip(names, summaries, strict=True)]
    return _table("runs", ("run", "protocol", "models", "accuracy\n[95% CI]", "round-0\nvote",
                           "calls", "tokens", "cost"), rows, wrap=("run", "models"))


def judge_table(names: Sequence[str], summaries: Sequence[Summary]) -> Table | None:
    """One row per run of an oversight protocol: how often its judge picked the right answer.

    Judgments, judge accuracy (decided for the correct answer / judgments), mean
    probability on the correct answer, unparsed verdicts, the wins of the speakers
    defending the correct and the incorrect answer, and the share of verified quotes
    (debate against consultancy against a blind judge). ``None`` when no run has one.
    """
    rows = []
    for name, s in zip(names, summaries, strict=True):
        o = s.oversight
        if o is None:
            continue
        speakers = o.wins.correct.total + o.wins.incorrect.total > 0
        rows.append((name, ", ".join(o.protocols), str(o.judgments), _pct(o.accuracy.rate),
                     _pct(o.p_correct), str(o.unparsed),
                     _pct(o.wins.correct.rate) if speakers else "-",
                     _pct(o.wins.incorrect.rate) if speakers else "-",
                     _pct(o.quotes.rate) if speakers else "-"))
    if not rows:
        return None
    return _table("judges (oversight protocols)",
                  ("run", "protocol", "judg-\nments", "judge\nacc.", "mean\np(correct)",
                   "un-\nparsed", "correct\nside\nwins", "incorrect\nside\nwins",
                   "quotes\nverified"), rows, wrap=("run",))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of ``p_values`` (same order), for several tests at once.

    The i-th smallest of m p-values is multiplied by ``m - i`` (i from 0), then made
    no smaller than the adjusted values before it, and capped at 1.
    """
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [1.0] * len(p_values)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def paired_table(first: str, names: Sequence[str], results: Sequence[Comparison]) -> Table:
    """Each run against ``first`` on the questions both scored (exact McNemar test)."""
    rows = [(name, str(r.questions), _pct(r.accuracy_a), _pct(r.accuracy_b),
             "n/a" if r.difference is None else f"{100 * r.difference:+.1f}",
             f"{r.only_a} / {r.only_b}", f"{r.p_value:.4g}", f"{adjusted:.4g}")
            for name, r, adjusted in zip(names, results, holm([r.p_value for r in results]),
                                         strict=True)]
    return _table(f"each run against {first} (paired, exact McNemar test)",
                  ("run", "questions", "first", "this\nrun", "this -\nfirst",
                   "right only in\nfirst / this", "p-value", "p\n(Holm)"), rows,
                  wrap=("run",))


def compute_chart(names: Sequence[str], summaries: Sequence[Summary],
                  compute: Compute = "calls") -> str:
    """Final accuracy (with its 95% interval) against mean compute per debate, as SVG.

    One point per run, labelled with its name; a run without scored debates is left out.
    """
    points = []
    for name, s in zip(names, summaries, strict=True):
        x = per_debate(s, compute)
        if x is None or s.accuracy is None:
            continue
        low, high = s.accuracy_interval or (None, None)
        points.append(Point(name, x, 100 * s.accuracy, None if low is None else 100 * low,
                            None if high is None else 100 * high))
    return scatter_chart(points, title="accuracy against compute",
                         x_label=f"{compute} per debate (mean)", y_label="final accuracy",
                         y_range=(0, 100), y_suffix="%")
