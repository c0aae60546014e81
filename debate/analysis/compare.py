"""Several runs side by side: one table, accuracy against compute, paired tests.

What ``debate compare RUN RUN...`` prints and plots. Each run is summarized
from its traces (:func:`debate.analysis.metrics.load_run_summary`); compute per run is
the mean per finished debate (calls, or prompt + completion tokens), so runs
of different sizes compare. Paired tests (exact McNemar, on the questions both
runs scored) compare each run with the first; with more than one test, the
Holm-adjusted p-values are shown next to the raw ones. Runs of the oversight
protocols (``debate-qa``, ``consultancy``, ``blind-judge``) get a second table
of how well their judge did (:func:`judge_table`) and a third of their debater
models' ratings from the matches of all of them together (:func:`ratings_table`,
:mod:`debate.analysis.ratings`). :func:`compare_json` is all of it as one JSON object.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel
from rich import box
from rich.markup import escape
from rich.table import Table

from debate.analysis.metrics import Summary, load_run_summary, run_prices, summarize
from debate.analysis.plots import Point, scatter_chart
from debate.analysis.ratings import RatingOptions, Ratings, Record, rate_debaters
from debate.analysis.stats import Comparison
from debate.trace import DebateTrace, read_traces

__all__ = ["CompareReport", "Compute", "NamedSummary", "PairedResult", "compare_json",
           "compute_chart", "holm", "judge_table", "paired_table", "per_debate",
           "ratings_table", "run_names", "run_ratings", "run_summary", "runs_table"]

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
    """The run's headline accuracy: judge accuracy for oversight runs (marked), else final."""
    value = _pct(summary.headline_accuracy)
    if summary.oversight is not None:
        value += " judge"
    if summary.headline_interval is None:
        return value
    low, high = summary.headline_interval
    return f"{value}\n[{100 * low:.1f}–{100 * high:.1f}]"


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

    The accuracy is the run's headline (:attr:`~debate.analysis.metrics.Summary.headline`): judge
    accuracy, marked ``judge``, for oversight runs.

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


def run_ratings(sources: Sequence[str | Path], summaries: Sequence[Summary],
                options: RatingOptions | None = None) -> Ratings | None:
    """The debater ratings of the oversight runs among ``sources``, their matches pooled.

    ``sources``: trace files, one per summary; ``None`` when no run is an oversight run.
    """
    def traces() -> Iterator[DebateTrace]:
        for source, summary in zip(sources, summaries, strict=True):
            if summary.oversight is not None:
                yield from read_traces(source)

    return rate_debaters(traces(), options)


def _wins(record: Record) -> str:
    return f"{record.wins + record.ties / 2:g}"


def _rating(low: float | None, rating: float | None, high: float | None) -> str:
    if rating is None:
        return "n/a"
    if low is None or high is None:
        return f"{rating:.0f}"
    return f"{rating:.0f}\n[{low:.0f}–{high:.0f}]"


def ratings_table(ratings: Ratings) -> Table:
    """One row per debater model: rating [interval], matches, wins, wins by side.

    The caption counts what was rated and left out, the seat-A speaker's score and
    how the interval was drawn; it says why when there are no ratings.
    """
    o = ratings.options
    rows = [(r.model, _rating(r.low, r.rating, r.high), str(r.record.matches),
             _wins(r.record), _pct(r.correct.score), _pct(r.incorrect.score))
            for r in ratings.rows]
    judges = ", ".join(ratings.judges) or "-"
    table = _table(f"debater ratings (Bradley–Terry, Elo scale; judge {judges})",
                   ("debater model", f"rating\n[{100 * o.confidence:g}% CI]", "matches",
                    "wins\n(tie ½)", "wins\narguing\ncorrect", "wins\narguing\nincorrect"),
                   rows, wrap=("debater model",))
    lines = [] if ratings.reason is None else [ratings.reason]
    lines.append(f"{ratings.matches} matches on {ratings.questions} questions (left out: "
                 f"{ratings.self_play} self-play, {ratings.unread} unread); the speaker "
                 f"seated at A scored {_pct(ratings.seat_a.score)}")
    if ratings.seat_bound:
        lines.append("warning: seat and model go together ("
                     + "; ".join(ratings.seat_bound) + "): the judge's position bias is in "
                     "these ratings; run again with the models' seats swapped and compare "
                     "both runs")
    if ratings.reason is None and o.resamples:
        lines.append(f"interval: bootstrap over questions, {ratings.resamples_used} of "
                     f"{o.resamples} draws usable, seed {o.seed}; prior {o.prior:g} wins "
                     "each way per pair")
    table.caption = escape("\n".join(lines))
    table.caption_justify = "left"
    return table


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
        accuracy = s.headline_accuracy  # judge accuracy for oversight runs
        if x is None or accuracy is None:
            continue
        low, high = s.headline_interval or (None, None)
        points.append(Point(name, x, 100 * accuracy, None if low is None else 100 * low,
                            None if high is None else 100 * high))
    return scatter_chart(points, title="accuracy against compute",
                         x_label=f"{compute} per debate (mean)",
                         y_label="accuracy (judge accuracy for oversight runs)",
                         y_range=(0, 100), y_suffix="%")


class NamedSummary(BaseModel):
    """A run's short name and its summary."""

    name: str
    summary: Summary


class PairedResult(Comparison):
    """A run against the first one, with its Holm-adjusted p-value."""

    run: str
    first: str
    p_holm: float
    """The p-value adjusted for the tests of all the runs against the first (Holm)."""


class CompareReport(BaseModel):
    """What ``debate compare --json`` prints."""

    runs: list[NamedSummary]
    paired: list[PairedResult]
    """Each run after the first against the first (exact McNemar)."""
    ratings: Ratings | None = None
    """The debater ratings of the oversight runs (``None``: no oversight run)."""


def compare_json(names: Sequence[str], summaries: Sequence[Summary],
                 results: Sequence[Comparison], ratings: Ratings | None) -> str:
    """The runs, the paired tests and the ratings as one JSON object."""
    adjusted = holm([r.p_value for r in results])
    paired = [PairedResult(run=name, first=names[0], p_holm=p, **r.model_dump())
              for name, r, p in zip(names[1:], results, adjusted, strict=True)]
    runs = [NamedSummary(name=n, summary=s) for n, s in zip(names, summaries, strict=True)]
    return CompareReport(runs=runs, paired=paired, ratings=ratings).model_dump_json()
