"""Summaries for people: a markdown report and terminal tables, with each metric defined."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from itertools import chain, islice
from pathlib import Path
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from debate.analysis.metrics import DEFINITIONS, Summary
from debate.analysis.oversight_metrics import CONFIDENT, OVERSIGHT_DEFINITIONS, OversightStats, Rate
from debate.analysis.plots import line_chart
from debate.analysis.results import write_text_atomic
from debate.errors import DebateError
from debate.judges.majority import majority_vote
from debate.models.pool import EndpointReport
from debate.scoring import final_correct
from debate.trace import DebateTrace, read_traces

if TYPE_CHECKING:
    from debate.analysis.stability import AdaptiveStop

__all__ = ["ACCURACY_PLOT", "accuracy_chart", "debate_rows", "markdown_report", "print_summary",
           "run_stability", "write_report"]

RUN_FILES = {"traces.jsonl": "one debate per line, every turn",
             "summary.json": "these metrics; report.md: the same, each defined",
             "results.csv": "one row per debate (debate.load_results reads it)",
             "accuracy.svg": "accuracy per round, the plot in report.md",
             "cache.sqlite": "every model reply (a re-run replays them)",
             "cache-seed.sqlite": "adaptive stopping: the previous round's replies, read, never "
                                  "written (rebuilt before each run)"}
ACCURACY_PLOT = "accuracy.svg"


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


def _headline(summary: Summary) -> list[tuple[str, str]]:
    """The run's headline first: judge accuracy for oversight runs, then per question."""
    o = summary.oversight
    if o is None:
        return [("final accuracy", _accuracy(summary))]
    text = f"{_rate(o.accuracy)} judgments"
    interval = summary.headline_interval
    if interval is not None:
        text += f"; 95% CI {_pct(interval[0])}–{_pct(interval[1])}"
    return [("judge accuracy", text), ("per-question accuracy", _accuracy(summary))]


def _task(summary: Summary) -> list[tuple[str, str]]:
    """How answers were scored, and whether that was given or inferred (why), when known."""
    if summary.task is None:
        return []
    source = summary.task_source or "given"
    if source.startswith("inferred"):
        source += "; set dataset.task to choose another"
    return [("task", f"{summary.task} ({source})")]


def _bound(summary: Summary) -> list[tuple[str, str]]:
    """The accuracy counting failed debates as wrong, when some failed (a row, else none)."""
    if not summary.failed:
        return []
    if summary.failed_scored is None:
        return [("counting failed as wrong", "unknown (the summary predates the count; "
                 "re-run to retry them)")]
    total = summary.scored + summary.failed_scored
    return [("counting failed as wrong", f"{_pct(summary.accuracy_bound)} ({summary.correct}/"
             f"{total}: {summary.failed_scored} failed debates with gold counted wrong)")]


def _finished(summary: Summary) -> str:
    if summary.questions is None:
        return f"{summary.debates} ({summary.scored} with gold)"
    text = f"{summary.debates}/{summary.questions} finished ({summary.scored} with gold)"
    if summary.unfinished:
        text += f"; {summary.unfinished} unfinished, not in the accuracy"
    return text


def _recorded_rounds(run: str | None) -> int | None:
    """The protocol's ``rounds`` option as the run folder's ``config.json`` records it."""
    if run is None:
        return None
    try:
        data = json.loads((Path(run) / "config.json").read_text(encoding="utf-8"))
        rounds = data["fingerprint"]["protocol"]["options"]["rounds"]
    except (OSError, ValueError, KeyError, TypeError):
        return None  # no record (traces alone, an older run, another protocol's options)
    return rounds if isinstance(rounds, int) and not isinstance(rounds, bool) else None


def _protocol(summary: Summary) -> str:
    """The protocol's name; with its ``rounds`` and what they count, when the run has them.

    ``rounds: 2 (debate rounds after the initial answers: ...)``: the meaning is the
    protocol's :attr:`~debate.protocols.base.DebateProtocol.rounds_meaning`, when the
    protocol is registered in this process.
    """
    from debate.protocols import PROTOCOLS

    name = summary.protocol or "-"
    rounds = _recorded_rounds(summary.run)
    if rounds is None:
        return name
    cls = PROTOCOLS.get(name)
    meaning = f" ({cls.rounds_meaning})" if cls is not None else ""
    return f"{name}; rounds: {rounds}{meaning}"


def _overview(summary: Summary) -> list[tuple[str, str]]:
    rows = [
        ("run", summary.run or "-"),
        ("protocol", _protocol(summary)),
        ("models", ", ".join(summary.models) or "-"),
        ("debates", _finished(summary)),
        *_task(summary),
        *_headline(summary),
        *_bound(summary),
        ("round-0 majority vote", _pct(summary.vote_accuracy)),
        ("consensus rate", f"{_pct(summary.consensus_rate)} (of {summary.consensus_debates})"),
        ("unparsed answers", _share(summary.unparsed_answers, summary.answers)),
        ("fallback-parsed answers", _share(summary.fallback_answers, summary.answers)),
        ("calls", f"{summary.calls} ({summary.cached_calls} replayed from cache)"),
        ("tokens", f"{summary.prompt_tokens} prompt + {summary.completion_tokens} completion"),
        ("cost", "unknown (a model has no price)" if summary.cost is None
         else f"${summary.cost:.4f}"),
    ]
    runs = summary.invocations or 1
    over = f"; {{}} over all {runs} invocations" if runs > 1 else ""
    if summary.wall_time is not None:
        rows.append(("wall time", f"{summary.wall_time:.1f} s (last invocation)"
                     + over.format(f"{summary.total_wall_time or 0.0:.1f} s")))
    if summary.requests is not None:
        rows.append(("requests sent", f"{summary.requests} ({summary.retries} retries, last "
                     "invocation)" + over.format(summary.total_requests or 0)))
    if summary.batches is not None:
        rows.append(("batches", f"{summary.batches} submitted (last invocation; calls at the "
                     "batch price)"))
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


def _narrow(header: tuple[str, ...]) -> tuple[str, ...]:
    """Terminal headers on two lines, so the tables fit 80 columns."""
    return tuple(h.replace(" ", "\n").replace("→", "→\n") for h in header)


def _agent_rows(summary: Summary) -> list[tuple[str, ...]]:
    return [(a.agent, str(a.answers), str(a.unparsed), str(a.fallback), str(a.changed),
             str(a.right_to_wrong), str(a.wrong_to_right)) for a in summary.agents]


def _rate(rate: Rate) -> str:
    return _share(rate.hits, rate.total)


def _judge_overview(o: OversightStats) -> list[tuple[str, str]]:
    """The judge's decisions (oversight protocols); speaker rows only where there are speakers."""
    seats = o.seat_accuracy
    rows = [("judgments", f"{o.judgments} ({o.read} read, {o.unparsed} unparsed, "
                          f"{o.ties} tied)"),
            ("judge accuracy", _rate(o.accuracy)),
            ("mean p(correct)", f"{_pct(o.p_correct)} (over {o.read} read)"),
            ("accuracy when correct is A / B",
             " / ".join(_rate(seats[label]) for label in ("A", "B") if label in seats))]
    if o.wins.correct.total or o.wins.incorrect.total:
        rows += [("correct / incorrect side wins",
                  f"{_rate(o.wins.correct)} / {_rate(o.wins.incorrect)}"),
                 ("quotes verified", f"{_rate(o.quotes)}; correct side "
                  f"{_rate(o.side_quotes.correct)}, incorrect side "
                  f"{_rate(o.side_quotes.incorrect)}")]
    if o.both_confident.total:
        rows.append((f"both ≥ {100 * CONFIDENT:.0f}% confident",
                     f"{_rate(o.both_confident_debates)} debates (at their last round); "
                     f"{_rate(o.both_confident)} (order, round) points"))
    return rows


_MODEL_HEADER = ("speaker model", "wins when correct", "wins when incorrect")
_CONFIDENCE_HEADER = ("round", "correct side", "incorrect side", "stated", "unparsed")


def _model_rows(o: OversightStats) -> list[tuple[str, ...]]:
    return [(model, _rate(w.correct), _rate(w.incorrect)) for model, w in o.model_wins.items()]


def _confidence_rows(o: OversightStats) -> list[tuple[str, ...]]:
    return [(str(c.round), _pct(c.correct), _pct(c.incorrect), str(c.stated), str(c.unparsed))
            for c in o.confidence]


_ENDPOINT_HEADER = ("model", "endpoint", "calls", "errors", "failovers", "taken out",
                    "s out", "in rotation")


def _endpoint_counts(r: EndpointReport) -> tuple[str, ...]:
    return (str(r.calls), str(r.errors), str(r.failovers), str(r.ejections),
            f"{r.out_of_rotation:.1f}", "yes" if r.in_rotation else "no")


def _endpoint_rows(summary: Summary) -> list[tuple[str, ...]]:
    return [(model, r.url, *_endpoint_counts(r))
            for model, reports in summary.endpoints.items() for r in reports]


def _markdown_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    return (["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join(row) + " |" for row in rows])


def markdown_report(summary: Summary, stability: AdaptiveStop | None = None) -> str:
    """The summary as a markdown document, each metric defined at the end.

    With ``stability`` (:func:`run_stability`), a section on Hu et al.'s adaptive stop.
    """
    lines = [f"# Debate run {summary.run or ''}".rstrip(), "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in _overview(summary)]
    rounds, agents = _round_rows(summary), _agent_rows(summary)
    if rounds or summary.oversight is None:  # oversight runs have no answer rounds
        lines += ["", "## Per round", "", f"![accuracy per round]({ACCURACY_PLOT})", ""]
        lines += _markdown_table(_ROUND_HEADER, rounds)
    if agents or summary.oversight is None:
        lines += ["", "## Per agent", ""] + _markdown_table(_AGENT_HEADER, agents)
    if stability is not None:
        from debate.analysis.stability import markdown_section

        lines += markdown_section(stability)
    definitions = DEFINITIONS
    if summary.oversight is not None:
        lines += ["", "## Judge", ""] + _markdown_judge(summary.oversight)
        definitions = DEFINITIONS | OVERSIGHT_DEFINITIONS
    if summary.endpoints:
        lines += ["", "## Endpoints", ""] + _markdown_table(_ENDPOINT_HEADER,
                                                             _endpoint_rows(summary))
        lines += ["", "Per replica of an endpoint pool, this invocation: calls answered there; "
                  "failed attempts there (connection errors, 5xx, timeouts, 429s); failovers: "
                  "failed calls sent on to another replica; times taken out of rotation and "
                  "seconds out."]
    if summary.failed:
        lines += ["", "## Failed debates", ""]
        lines += [f"- `{qid}`: {error}" for qid, error in summary.failed.items()]
    lines += ["", "## Definitions", ""]
    lines += [f"- **{name}**: {text}." for name, text in definitions.items()]
    return "\n".join(lines) + "\n"


def _markdown_judge(o: OversightStats) -> list[str]:
    lines = ["| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in _judge_overview(o)]
    if o.model_wins:
        lines += ["", *_markdown_table(_MODEL_HEADER, _model_rows(o))]
    if o.confidence:
        lines += ["", "Private confidence of winning (mean per round):", "",
                  *_markdown_table(_CONFIDENCE_HEADER, _confidence_rows(o))]
    return lines


def accuracy_chart(summary: Summary) -> str:
    """Majority-vote and mean-agent accuracy per round, 0-100%, as SVG (n/a rounds left out)."""
    def percent(value: float | None) -> float | None:
        return None if value is None else 100 * value

    series = {
        "majority vote": [(r.round, percent(r.majority_accuracy)) for r in summary.rounds],
        "mean agent": [(r.round, percent(r.agent_accuracy)) for r in summary.rounds],
    }
    title = f"accuracy per round: {Path(summary.run).name}" if summary.run else (
        "accuracy per round")
    return line_chart(series, title=title, x_label="round", y_label="accuracy",
                      y_range=(0, 100), y_suffix="%")


def run_stability(run_dir: str | Path | None, summary: Summary,
                  traces: Iterable[DebateTrace] | None = None) -> AdaptiveStop | None:
    """Hu et al.'s adaptive stop over a run folder's traces, or why it was not computed.

    ``None`` for a run without answer rounds (oversight) or without ``traces.jsonl``.
    The summary answers first when it can (no gold, under 3 rounds): no traces are read.
    ``traces``: the run's debates where the caller holds them (read once, not again from
    ``traces.jsonl``).
    """
    from debate.analysis.stability import AdaptiveStop, adaptive_stop  # numpy: when needed

    path = None if run_dir is None else Path(run_dir) / "traces.jsonl"
    if path is None or not summary.rounds or not path.exists():
        return None
    if not summary.scored:
        return AdaptiveStop(not_computed="no finished debate with a gold answer")
    if len(summary.rounds) < 3:
        return AdaptiveStop(not_computed=f"{len(summary.rounds)} answer round(s); the test "
                            "needs 3 (rounds 0..2)")
    try:
        return adaptive_stop(read_traces(path) if traces is None else traces)
    except (DebateError, OSError, ValueError) as exc:  # scipy missing, a bad trace file
        return AdaptiveStop(not_computed=str(exc))


def write_report(run_dir: str | Path, summary: Summary) -> AdaptiveStop | None:
    """Write ``report.md`` and the plot it shows (``accuracy.svg``) into ``run_dir``.

    Returns the adaptive stop it computed (:func:`run_stability`), for
    :func:`print_summary`'s ``stability``: the fit is then done once.
    """
    run_dir = Path(run_dir)
    write_text_atomic(run_dir / ACCURACY_PLOT, accuracy_chart(summary))
    stability = run_stability(run_dir, summary)
    write_text_atomic(run_dir / "report.md", markdown_report(summary, stability))
    return stability


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]], title: str) -> Table:
    table = Table(*_narrow(header), title=title, box=box.SIMPLE_HEAD, pad_edge=False,
                  collapse_padding=True)
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    return table


def print_summary(summary: Summary, console: Console | None = None,
                  traces: Iterable[DebateTrace] | None = None, limit: int = 20,
                  stability: AdaptiveStop | None = None) -> None:
    """Print the summary as tables, then each failed debate with its reason.

    With ``traces`` (the run's debates), a table of the first ``limit`` debates too (see
    :func:`debate_rows`). The adaptive-stopping line is ``stability`` where the caller has
    it (:func:`write_report` returns it), else :func:`run_stability` computes it once, from
    ``traces`` where given (read once, not again from ``traces.jsonl``).
    """
    console = console or Console()
    overview = Table(title=f"debate run {summary.run or ''}".strip(), show_header=False)
    overview.add_column(style="bold")
    overview.add_column()
    for key, value in _overview(summary):
        overview.add_row(key, value)
    console.print(overview)
    console.print(_table(_ROUND_HEADER, _round_rows(summary), "per round"))
    console.print(_table(_AGENT_HEADER, _agent_rows(summary), "per agent"))
    it = None if traces is None else iter(traces)
    head = None if it is None else list(islice(it, limit))
    if stability is None:
        rest = None if it is None or head is None else chain(head, it)
        stability = run_stability(summary.run, summary, rest)
    if stability is not None:
        from debate.analysis.stability import summary_line

        console.print(summary_line(stability), markup=False, highlight=False)
    if summary.oversight is not None:
        _print_judge(summary.oversight, console)
    for model, reports in summary.endpoints.items():  # 80 columns: no model, no scheme
        rows = [(r.url.split("://", 1)[-1], *_endpoint_counts(r)) for r in reports]
        console.print(_table(_ENDPOINT_HEADER[1:], rows, f"endpoints of {model}"))
    if head is not None:
        # the first ``limit`` finished, by question id (natural order: q2 before q10)
        rows = sorted(debate_rows(head), key=lambda row: _natural(row[0]))
        console.print(_table(_DEBATE_HEADER, rows, "per debate"))
        if summary.debates > len(rows):
            console.print(f"... and {summary.debates - len(rows)} more debates (traces.jsonl)",
                          highlight=False)
    for qid, error in summary.failed.items():
        console.print(f"[yellow]failed[/yellow] {escape(qid)}: {escape(error)}", highlight=False)
    if summary.run:
        console.print(f"definitions of each metric: {summary.run}/report.md", highlight=False)


def _print_judge(o: OversightStats, console: Console) -> None:
    judge = Table(title="judge", show_header=False)
    judge.add_column(style="bold")
    judge.add_column()
    for key, value in _judge_overview(o):
        judge.add_row(key, value)
    console.print(judge)
    if o.model_wins:
        console.print(_table(_MODEL_HEADER, _model_rows(o), "speaker wins per model"))
    if o.confidence:
        console.print(_table(_CONFIDENCE_HEADER, _confidence_rows(o),
                             "private confidence of winning (mean)"))


def _natural(text: str) -> list[tuple[int, int | str]]:
    return [(0, int(part)) if part.isdigit() else (1, part)
            for part in re.split(r"(\d+)", text) if part]


_DEBATE_HEADER = ("question", "gold", "round-0 answers", "round-0 vote", "final", "correct")


def debate_rows(traces: Iterable[DebateTrace]) -> list[tuple[str, ...]]:
    """Per debate: the initial answers and their majority vote next to the final answer.

    An unparsed answer shows as ``-``; ``correct`` is ``yes``/``no``, or ``-`` without gold.
    """
    rows: list[tuple[str, ...]] = []
    for trace in traces:
        q = trace.question
        rounds = trace.rounds()
        first = rounds[0] if rounds else []
        vote = majority_vote(first).answer if first else None
        final = trace.final.answer
        mark = {True: "yes", False: "no", None: "-"}[final_correct(trace)]
        rows.append((q.id, q.gold or "-", " ".join(t.answer or "-" for t in first) or "-",
                     vote or "-", final or "-", mark))
    return rows

