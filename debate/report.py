"""Summaries for people: a markdown report and terminal tables, with each metric defined."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from debate.metrics import DEFINITIONS, Summary

__all__ = ["markdown_report", "print_summary"]


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _share(part: int, whole: int) -> str:
    return f"{part}/{whole} ({_pct(part / whole if whole else None)})"


def _accuracy(summary: Summary) -> str:
    text = f"{_pct(summary.accuracy)} ({summary.correct}/{summary.scored} scored"
    if summary.accuracy_interval is not None:
        low, high = summary.accuracy_interval
        text += f"; 95% CI {_pct(low)}–{_pct(high)}"
    return text + ")"


def _finished(summary: Summary) -> str:
    if summary.questions is None:
        return f"{summary.debates} ({summary.scored} with gold)"
    text = f"{summary.debates}/{summary.questions} finished ({summary.scored} with gold)"
    if summary.unfinished:
        text += f"; {summary.unfinished} unfinished, not in the accuracy"
    return text


def _overview(summary: Summary) -> list[tuple[str, str]]:
    rows = [
        ("run", summary.run or "-"),
        ("protocol", summary.protocol or "-"),
        ("models", ", ".join(summary.models) or "-"),
        ("debates", _finished(summary)),
        ("final accuracy", _accuracy(summary)),
        ("round-0 majority vote", _pct(summary.vote_accuracy)),
        ("consensus rate", f"{_pct(summary.consensus_rate)} (of {summary.consensus_debates})"),
        ("unparsed answers", _share(summary.unparsed_answers, summary.answers)),
        ("fallback-parsed answers", _share(summary.fallback_answers, summary.answers)),
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
        rows.append(("failed debates", f"{len(summary.failed)} (re-run to retry)"))
    if summary.stopped:
        rows.append(("stopped", summary.stopped))
    return rows


_ROUND_HEADER = ("round", "debates", "majority acc.", "agent acc.", "unparsed", "fallback",
                 "changed", "right→wrong", "wrong→right")


def _round_rows(summary: Summary) -> list[tuple[str, ...]]:
    return [(str(r.round), str(r.debates), _pct(r.majority_accuracy), _pct(r.agent_accuracy),
             _pct(r.unparsed_share), _pct(r.fallback_share), str(r.changed),
             str(r.right_to_wrong), str(r.wrong_to_right)) for r in summary.rounds]


_AGENT_HEADER = ("agent", "answers", "unparsed", "fallback", "changed", "right→wrong",
                 "wrong→right")


def _agent_rows(summary: Summary) -> list[tuple[str, ...]]:
    return [(a.agent, str(a.answers), str(a.unparsed), str(a.fallback), str(a.changed),
             str(a.right_to_wrong), str(a.wrong_to_right)) for a in summary.agents]


def _markdown_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    return (["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join(row) + " |" for row in rows])


def markdown_report(summary: Summary) -> str:
    """The summary as a markdown document, each metric defined at the end."""
    lines = [f"# Debate run {summary.run or ''}".rstrip(), "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in _overview(summary)]
    lines += ["", "## Per round", ""] + _markdown_table(_ROUND_HEADER, _round_rows(summary))
    lines += ["", "## Per agent", ""] + _markdown_table(_AGENT_HEADER, _agent_rows(summary))
    if summary.failed:
        lines += ["", "## Failed debates", ""]
        lines += [f"- `{qid}`: {error}" for qid, error in summary.failed.items()]
    lines += ["", "## Definitions", ""]
    lines += [f"- **{name}**: {text}." for name, text in DEFINITIONS.items()]
    return "\n".join(lines) + "\n"


def print_summary(summary: Summary, console: Console | None = None) -> None:
    """Print the summary as tables, then each failed debate with its reason."""
    console = console or Console()
    overview = Table(title=f"debate run {summary.run or ''}".strip(), show_header=False)
    overview.add_column(style="bold")
    overview.add_column()
    for key, value in _overview(summary):
        overview.add_row(key, value)
    rounds = Table(*_ROUND_HEADER, title="per round")
    for row in _round_rows(summary):
        rounds.add_row(*row)
    agents = Table(*_AGENT_HEADER, title="per agent")
    for row in _agent_rows(summary):
        agents.add_row(*row)
    console.print(overview)
    console.print(rounds)
    console.print(agents)
    for qid, error in summary.failed.items():
        console.print(f"[yellow]failed[/yellow] {escape(qid)}: {escape(error)}", highlight=False)
    if summary.run:
        console.print(f"definitions of each metric: {summary.run}/report.md", highlight=False)
