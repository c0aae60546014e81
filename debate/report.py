"""Summaries for people: a markdown report and a terminal table."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from debate.metrics import Summary

__all__ = ["markdown_report", "print_summary"]


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _overview(summary: Summary) -> list[tuple[str, str]]:
    rows = [
        ("run", summary.run or "-"),
        ("protocol", summary.protocol or "-"),
        ("models", ", ".join(summary.models) or "-"),
        ("debates", f"{summary.debates} ({summary.scored} with gold)"),
        ("final accuracy", f"{_pct(summary.accuracy)} ({summary.correct}/{summary.scored})"),
        ("consensus rate", _pct(summary.consensus_rate)),
        ("unparsed answers", str(summary.unparsed_answers)),
        ("calls", f"{summary.calls} ({summary.cached_calls} replayed from cache)"),
        ("tokens", f"{summary.prompt_tokens} prompt + {summary.completion_tokens} completion"),
        ("cost", "unknown (a model has no price)" if summary.cost is None
         else f"${summary.cost:.4f}"),
    ]
    if summary.wall_time is not None:
        rows.append(("wall time", f"{summary.wall_time:.1f} s (last invocation)"))
    if summary.requests is not None:
        rows.append(("requests sent", f"{summary.requests} ({summary.retries} retries)"))
    if summary.errors:
        rows.append(("failed attempts", ", ".join(f"{k}: {v}" for k, v in summary.errors.items())))
    if summary.failed:
        rows.append(("unfinished debates", f"{len(summary.failed)} (re-run to retry)"))
    if summary.stopped:
        rows.append(("stopped", summary.stopped))
    return rows


_ROUND_HEADER = ("round", "debates", "majority acc.", "agent acc.", "right→wrong",
                 "wrong→right", "changed")


def _round_rows(summary: Summary) -> list[tuple[str, ...]]:
    return [(str(r.round), str(r.debates), _pct(r.majority_accuracy), _pct(r.agent_accuracy),
             str(r.right_to_wrong), str(r.wrong_to_right), str(r.changed))
            for r in summary.rounds]


def markdown_report(summary: Summary) -> str:
    """The summary as a markdown document."""
    lines = [f"# Debate run {summary.run or ''}".rstrip(), "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in _overview(summary)]
    lines += ["", "## Per round", "", "| " + " | ".join(_ROUND_HEADER) + " |",
              "|" + "---|" * len(_ROUND_HEADER)]
    lines += ["| " + " | ".join(row) + " |" for row in _round_rows(summary)]
    if summary.failed:
        lines += ["", "## Unfinished debates", ""]
        lines += [f"- `{qid}`: {error}" for qid, error in summary.failed.items()]
    return "\n".join(lines) + "\n"


def print_summary(summary: Summary, console: Console | None = None) -> None:
    """Print the summary as two tables."""
    console = console or Console()
    overview = Table(title=f"debate run {summary.run or ''}".strip(), show_header=False)
    overview.add_column(style="bold")
    overview.add_column()
    for key, value in _overview(summary):
        overview.add_row(key, value)
    rounds = Table(*_ROUND_HEADER, title="per round")
    for row in _round_rows(summary):
        rounds.add_row(*row)
    console.print(overview)
    console.print(rounds)
