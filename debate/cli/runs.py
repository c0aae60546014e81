"""``debate report | compare | view``: reading finished runs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from debate.cli.common import Opt, fail, out, run_traces, trace_files
from debate.errors import ConfigError, DebateError

if TYPE_CHECKING:
    from debate.analysis.stats import Comparison


def report(
    run_dir: Annotated[Path, typer.Argument(help="A run folder (runs/NAME).")],
    json: Annotated[bool, Opt("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Print a finished (or partial) run's summary again; (re)write its accuracy.svg."""
    from debate.analysis.metrics import load_run_summary
    from debate.analysis.report import ACCURACY_PLOT, accuracy_chart, print_summary
    from debate.analysis.results import write_text_atomic

    try:
        summary = load_run_summary(run_dir)
        write_text_atomic(run_dir / ACCURACY_PLOT, accuracy_chart(summary))
    except (DebateError, OSError) as exc:
        fail(exc)
    if json:
        out.print_json(summary.model_dump_json())
    else:
        print_summary(summary, out, run_traces(summary.run))
        out.print(f"accuracy per round: {run_dir / ACCURACY_PLOT}", markup=False,
                  highlight=False)


def compare(
    runs: Annotated[list[Path], typer.Argument(help="Two or more run folders (or traces.jsonl "
                                               "files); each is tested against the first.")],
    x: Annotated[str, Opt("--x", help="Compute on the plot's x axis, per debate: calls | "
                          "tokens.")] = "calls",
    plot: Annotated[Path, Opt("--plot", help="Where to write the plot of accuracy against "
                              "compute (SVG).")] = Path("compare.svg"),
    json: Annotated[bool, Opt("--json", help="Print the runs, paired tests and debater "
                              "ratings as JSON.")] = False,
    resamples: Annotated[int, Opt(help="Bootstrap draws for the debater ratings' 95% "
                                  "intervals (oversight runs; 0: none).")] = 1000,
    seed: Annotated[int, Opt(help="Seed of the ratings' bootstrap.")] = 0,
) -> None:
    """Compare runs: tables (with judges and debater ratings for oversight), a plot, tests."""
    from debate.analysis.compare import (
        compare_json,
        compute_chart,
        judge_table,
        paired_table,
        ratings_table,
        run_names,
        run_ratings,
        run_summary,
        runs_table,
    )
    from debate.analysis.plots import SVG_MARKERS
    from debate.analysis.ratings import RatingOptions
    from debate.analysis.results import write_text_atomic
    from debate.analysis.stats import compare_runs
    from debate.files import check_output_file
    from debate.settings import validated
    from debate.trace import read_traces

    if len(runs) < 2:
        raise typer.BadParameter("give two or more run folders to compare", param_hint="RUNS")
    if x not in ("calls", "tokens"):
        raise typer.BadParameter(f"{x!r}: use calls or tokens", param_hint="--x")
    names = run_names(runs)
    try:
        options = validated(RatingOptions, {"resamples": resamples, "seed": seed},
                            "debate compare")
        check_output_file(plot, SVG_MARKERS, "--plot")
        files = trace_files(runs)
        summaries = [run_summary(run) for run in runs]
        results = [compare_runs(read_traces(files[0]), read_traces(f)) for f in files[1:]]
        ratings = run_ratings(files, summaries, options)
        chart = compute_chart(names, summaries, "calls" if x == "calls" else "tokens")
    except (DebateError, OSError) as exc:
        fail(exc)
    try:
        plot.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(plot, chart)
    except OSError as exc:
        fail(ConfigError(f"--plot {plot}: cannot write it: {exc.strerror or exc}"))
    if json:
        out.print_json(compare_json(names, summaries, results, ratings))
        return
    out.print(runs_table(names, summaries))
    judges = judge_table(names, summaries)
    if judges is not None:
        out.print(judges)
    if ratings is not None and ratings.rows:
        out.print(ratings_table(ratings))
    elif ratings is not None:
        out.print(ratings.reason, markup=False, highlight=False)
    if len(runs) == 2:
        _print_pair(str(runs[0]), str(runs[1]), results[0])
    else:
        out.print(paired_table(names[0], names[1:], results))
    out.print(f"plot of accuracy against {x} per debate written to {plot}", markup=False,
              highlight=False)


def _print_pair(run_a: str, run_b: str, result: Comparison) -> None:
    """Two runs on the questions both finished: accuracies and the exact McNemar test."""
    from rich.table import Table

    table = Table(show_header=False, title="paired comparison (exact McNemar test)")
    table.add_column(style="bold")
    table.add_column()
    pct = "n/a" if result.accuracy_a is None else f"{100 * result.accuracy_a:.1f}%"
    table.add_row("questions", f"{result.questions} scored by both "
                  f"(+{result.only_in_a} only in A, +{result.only_in_b} only in B, left out)")
    table.add_row(f"A: {escape(run_a)}", pct)
    table.add_row(f"B: {escape(run_b)}", "n/a" if result.accuracy_b is None
                  else f"{100 * result.accuracy_b:.1f}%")
    if result.difference is not None:
        table.add_row("B - A", f"{100 * result.difference:+.1f} points")
    table.add_row("right only in A / only in B", f"{result.only_a} / {result.only_b}")
    table.add_row("p-value (two-sided)", f"{result.p_value:.4g}")
    out.print(table)


def view(
    run_dirs: Annotated[list[Path], typer.Argument(help="Run folders (runs/NAME); several are "
                                                        "shown side by side.")],
    out_file: Annotated[Path | None, Opt("--out", help="The HTML file to write (default: "
                                         "RUN_DIR/view.html for one run, ./view.html for "
                                         "several).")] = None,
    open_it: Annotated[bool, Opt("--open", help="Open it in the web browser.")] = False,
) -> None:
    """Write one self-contained HTML file to read runs and every debate in them."""
    from debate.viewer import build_viewer

    if out_file is None:
        out_file = run_dirs[0] / "view.html" if len(run_dirs) == 1 else Path("view.html")
    try:
        path = build_viewer(run_dirs, out_file)
    except (DebateError, OSError) as exc:
        fail(exc)
    out.print(str(path), markup=False, highlight=False, soft_wrap=True)
    if open_it:
        import webbrowser

        webbrowser.open(path.resolve().as_uri())
