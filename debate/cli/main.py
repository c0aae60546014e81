"""``debate run | export | report | compare | view | protocols | models``."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from debate.errors import ConfigError, DebateError, redact

if TYPE_CHECKING:
    from debate.analysis.stats import Comparison
    from debate.trace import DebateTrace

# Each command imports what it uses, so `debate --help`, `debate models`,
# `debate protocols` and `debate report` start without LangGraph, the model
# SDKs or the embedded model's runtime.

__all__ = ["app", "main"]

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Run multi-agent debate experiments and inspect their results.")
out = Console()
err = Console(stderr=True)

Opt = typer.Option


def _fail(exc: Exception) -> NoReturn:
    """One clear line (or block) on stderr, no traceback, exit code 2.

    A file-system error names its file (``runs/x: Not a directory``), whichever file
    a command was reading or writing when it failed.
    """
    text = str(exc)
    if isinstance(exc, OSError) and not isinstance(exc, DebateError) and exc.filename:
        names = " -> ".join(str(f) for f in (exc.filename, exc.filename2) if f)
        text = f"{names}: {exc.strerror or exc}"
    typer.secho(f"error: {redact(text)}", err=True, fg=typer.colors.RED)
    raise typer.Exit(2) from None


@app.command()
def run(
    config: Annotated[Path | None, typer.Argument(help="Experiment spec (YAML).")] = None,
    protocol: Annotated[str | None, Opt(help="Protocol name, preset card, or "
                                        "path/to/file.py:ClassName.")] = None,
    plugin: Annotated[list[str] | None, Opt("--plugin", help="Python file or module to import "
                                            "first (registers protocols, roles, judges); "
                                            "repeatable, added to the spec's plugins.")] = None,
    model: Annotated[list[str] | None, Opt("--model", "-m", help="Model spec; repeat per "
                                            "agent. See `debate models`.")] = None,
    dataset: Annotated[str | None, Opt(help="Dataset file (.jsonl, .json, .csv).")] = None,
    task: Annotated[str | None, Opt(help="numeric | choice | yesno | exact")] = None,
    limit: Annotated[int | None, Opt(help="Use the first N questions.")] = None,
    concurrency: Annotated[int | None, Opt(help="Debates at once.")] = None,
    agents: Annotated[int | None, Opt(help="Number of agents.")] = None,
    rounds: Annotated[int | None, Opt(help="Debate rounds after the initial answers.")] = None,
    seed: Annotated[int | None, Opt(help="Base sampling seed.")] = None,
    temperature: Annotated[list[str] | None, Opt(
        help="Sampling temperature: a number for every agent, or KEY=NUMBER for the agent "
             "or role KEY (judge=0); repeatable.")] = None,
    max_tokens: Annotated[list[str] | None, Opt(
        "--max-tokens", help="Completion token limit per call: a number for every agent, or "
                             "KEY=NUMBER for the agent or role KEY; repeatable.")] = None,
    name: Annotated[str | None, Opt(help="Run name (folder under --out).")] = None,
    out_dir: Annotated[str | None, Opt("--out", help="Folder for run folders.")] = None,
    no_cache: Annotated[bool, Opt("--no-cache", help="No response cache.")] = False,
    no_progress: Annotated[bool, Opt("--no-progress", help="No progress bar.")] = False,
    force: Annotated[bool, Opt("--force", help="Continue a run folder although the experiment "
                                "changed (recorded in its config.json).")] = False,
    batch: Annotated[bool, Opt("--batch", help="Send the calls through the provider's Batch "
                               "API (openai: models), one batch per debate step, at the "
                               "batch price.")] = False,
    ray: Annotated[bool, Opt("--ray", help="Shard the debates over Ray actors (pip install "
                             "'debatelab[ray]').")] = False,
    ray_address: Annotated[str | None, Opt("--ray-address", help="The Ray cluster to join "
                                           "(implies --ray; default: the spec's ray.address, "
                                           "RAY_ADDRESS, else a local Ray).")] = None,
) -> None:
    """Run (or resume) a debate experiment and print its summary."""
    from debate.analysis.report import RUN_FILES, print_summary
    from debate.cards import validate
    from debate.experiment.config import ExperimentConfig, load_experiment
    from debate.experiment.gc_tuning import batch_gc
    from debate.experiment.runner import run_experiment

    overrides: dict[str, Any] = {
        "protocol": protocol, "models": model or None, "limit": limit,
        "concurrency": concurrency, "agents": agents, "rounds": rounds, "seed": seed,
        "name": name, "output_dir": out_dir, "cache": False if no_cache else None,
    }
    per_key: dict[str, dict[str, Any]] = {}
    if dataset is not None or task is not None:
        overrides["dataset"] = {"path": dataset, "task": task}
    if ray or ray_address:
        overrides["executor"] = "ray"
    if batch:
        overrides["batch"] = True
    try:
        for option, field, kind, items in (("--temperature", "temperature", float, temperature),
                                           ("--max-tokens", "max_tokens", int, max_tokens)):
            overrides[field] = _sampling_option(items or [], option, field, kind, per_key)
        if config is not None:
            if per_key:  # over the spec's own sampling, value by value
                from debate.sampling import merge_sampling

                overrides["sampling"] = merge_sampling(load_experiment(config).sampling, per_key)
            if "dataset" in overrides or plugin or ray_address:
                spec = load_experiment(config)
                if ray_address:
                    overrides["ray"] = spec.ray.model_copy(update={"address": ray_address})
                if "dataset" in overrides:
                    base = spec.dataset.model_dump(exclude_none=True)
                    if dataset is not None:  # a file named here replaces a Hub source
                        base = {k: v for k, v in base.items()
                                if k not in ("hub", "config", "split", "revision")}
                    overrides["dataset"] = base | {
                        k: v for k, v in overrides["dataset"].items() if v}
                overrides["plugins"] = [*spec.plugins, *(plugin or [])]
            cfg = load_experiment(config, **overrides)
        else:
            if dataset is None:
                raise typer.BadParameter("give an experiment spec or --dataset")
            overrides["plugins"] = plugin
            overrides["sampling"] = per_key or None
            if ray_address:
                overrides["ray"] = {"address": ray_address}
            cfg = validate(ExperimentConfig, {k: v for k, v in overrides.items()
                                              if v is not None}, "command line")
        with batch_gc():  # the collector tuned for this run only, restored after
            summary = run_experiment(cfg, progress=not no_progress, force=force)
    except (DebateError, OSError) as exc:
        _fail(exc)
    except KeyboardInterrupt:
        typer.secho("interrupted: finished debates are kept; re-run the same command to resume.",
                    err=True, fg=typer.colors.YELLOW)
        raise typer.Exit(130) from None
    finally:
        _unload_embedded_models()
    print_summary(summary, out, _traces(summary.run))
    if summary.stopped:
        err.print(f"[red]run stopped:[/red] {escape(summary.stopped)}\nfinished debates are kept; "
                  "re-run the same command to resume.")
        raise typer.Exit(1)
    if summary.failed:
        err.print(f"[yellow]{len(summary.failed)} debate(s) did not finish[/yellow]; "
                  "re-run the same command to retry them.")
        raise typer.Exit(1)
    out.print(f"results in {summary.run}/", markup=False, highlight=False)
    for file, what in RUN_FILES.items():
        if (Path(str(summary.run)) / file).exists():
            out.print(f"  {file}: {what}", markup=False, highlight=False)


def _sampling_option(items: list[str], option: str, field: str, kind: type[int] | type[float],
                     per_key: dict[str, dict[str, Any]]) -> Any:
    """The run-wide value of ``--temperature``/``--max-tokens`` (``None``: not given).

    ``KEY=NUMBER`` items go to ``per_key[KEY][field]`` (the ``sampling:`` block), a
    plain number is the run-wide value; anything else is a ``ConfigError`` naming
    ``option``.
    """
    from debate.experiment.binding import split_bindings

    run_wide: Any = None
    for item in items:
        positional, named = split_bindings([item])
        key, text = next(iter(named.items())) if named else (None, positional[0])
        try:
            value = kind(text)
        except ValueError:
            noun = "a whole number" if kind is int else "a number"
            raise ConfigError(f"{option} {item!r}: give {noun} for every agent, or KEY=VALUE "
                              "for the agent or role KEY (judge=0)") from None
        if key is not None:
            if field in per_key.get(key, {}):
                raise ConfigError(f"{option}: {key}={per_key[key][field]} and {item!r} give "
                                  f"{key} two values; give one")
            per_key.setdefault(key, {})[field] = value
        elif run_wide is not None:
            raise ConfigError(f"{option}: {run_wide} and {item!r} are both run-wide values; give "
                              "one, and KEY=VALUE for agents or roles")
        else:
            run_wide = value
    return run_wide


def _unload_embedded_models() -> None:
    """Free the embedded models the run loaded (process-wide, so the run itself keeps them)."""
    loaded = sys.modules.get("debate.models.llamacpp")
    if loaded is not None:
        loaded.unload_models()


def _traces(run_dir: str | None) -> Iterator[DebateTrace] | None:
    """The debates of a run folder, for the per-debate table."""
    if run_dir is None or not (Path(run_dir) / "traces.jsonl").exists():
        return None
    from debate.trace import read_traces

    return read_traces(Path(run_dir) / "traces.jsonl")


def _numbers(text: str, option: str, kind: type[int] | type[float]) -> list[Any]:
    """A comma-separated list of numbers given to ``option``; anything else names it."""
    import math

    try:
        values = [kind(x) for x in text.split(",")]
    except ValueError:
        values = []
    if not values or not all(math.isfinite(v) and v >= 0 for v in values):
        noun = "whole numbers" if kind is int else "numbers"
        raise ConfigError(f"{option} {text!r}: give comma-separated {noun} of at least 0, "
                          "e.g. " + ("0,1" if kind is int else "0.9,0.1"))
    return values


def _trace_files(sources: list[Path]) -> list[Path]:
    files = []
    for source in sources:
        path = source / "traces.jsonl" if source.is_dir() else source
        if not path.exists():
            raise ConfigError(f"{source}: no traces.jsonl here; give run folders or .jsonl files")
        files.append(path)
    return files


@app.command("export")
def export_cmd(
    runs: Annotated[list[Path], typer.Argument(help="Run folders (or traces.jsonl files); "
                                                    "several are merged.")],
    out_dir: Annotated[Path, Opt("--out", help="Output folder.")],
    strategy: Annotated[list[str] | None, Opt(
        "--strategy", "-s", help="gold | consensus | revision | judge | judge-preference | sft | "
        "sft-critique (repeatable; default gold).")] = None,
    fmt: Annotated[str, Opt("--format", "-f", help="dpo | reward | kto | sft | "
                            "sft-prompt-completion | grpo | sharegpt: conversational (messages); "
                            "add -standard for plain strings (dpo-standard, ...).")] = "dpo",
    split: Annotated[str, Opt(help="Split fractions by question id, e.g. 0.9,0.1.")] = "1.0",
    rounds: Annotated[str, Opt(help="Rounds to pair (gold, consensus), e.g. 0,1.")] = "0",
    min_margin: Annotated[float, Opt(help="consensus: least vote-share margin; "
                                      "judge-preference: the rating gap must exceed it.")] = 0.0,
    pairs: Annotated[str, Opt(help="judge-preference: best (per speech the highest-rated "
                              "candidate vs the lowest-rated, Arnesen et al.) | all (every "
                              "pair of a point).")] = "best",
    min_length: Annotated[int | None, Opt(help="Least characters per response.")] = None,
    max_length: Annotated[int | None, Opt(help="Most characters per response.")] = None,
    max_per_question: Annotated[int | None, Opt(help="Cap examples per question.")] = None,
    balance: Annotated[bool, Opt(help="Balance KTO labels by sampling.")] = False,
    correct: Annotated[bool, Opt(help="Drop examples whose chosen answer is wrong (gold).")
                       ] = False,
    allow_fallback: Annotated[bool, Opt(
        "--allow-fallback", help="Let answers a fallback rule guessed (last number, yes/no "
        "word, option text) decide labels; off by default.")] = False,
    no_dedupe: Annotated[bool, Opt("--no-dedupe", help="Keep duplicate examples.")] = False,
    seed: Annotated[int, Opt(help="Seed of splits and sampling.")] = 0,
    writer: Annotated[str | None, Opt(help="Writers: jsonl,parquet,hf (default: JSONL, plus "
                                      "Parquet and HF when pyarrow / datasets are installed).")
                      ] = None,
    overwrite: Annotated[bool, Opt("--overwrite", help="Replace an earlier export in --out "
                                   "(only a folder whose debatelab-export.json lists every "
                                   "file in it; never a run folder or other files).")] = False,
) -> None:
    """Turn debate traces into a training dataset (TRL, LLaMA-Factory) with a dataset card.

    --out must be new, empty, or (with --overwrite) an earlier export; anything else is
    refused before a trace is read, so an export never deletes what it did not write.
    """
    from debate.export import canonical_format, examples, format_rows, write_export
    from debate.export.writers import check_export_target
    from debate.trace import read_traces

    strategy = strategy or ["gold"]
    try:
        fmt = canonical_format(fmt)
        round_numbers = _numbers(rounds, "--rounds", int)
        fractions = _numbers(split, "--split", float)
        files = _trace_files(runs)
        check_export_target(out_dir, sources=files, overwrite=overwrite)
        traces = [t for f in files for t in read_traces(f)]
        found = examples(traces, strategy,
                         options={"rounds": round_numbers, "min_margin": min_margin,
                                  "pairs": pairs, "allow_fallback": allow_fallback},
                         filters={"min_length": min_length, "max_length": max_length,
                                  "max_per_question": max_per_question, "balance": balance,
                                  "correct": correct,
                                  "dedupe": not no_dedupe, "seed": seed})
        rows = format_rows(found, fmt, dedupe=not no_dedupe)
        counts = write_export(rows, out_dir, fmt=fmt, strategies=list(strategy),
                              fractions=fractions, seed=seed,
                              writers=None if writer is None else
                              tuple(w for w in writer.split(",") if w),
                              sources=[str(f) for f in files], overwrite=overwrite)
    except (DebateError, OSError) as exc:
        _fail(exc)
    out.print(f"{len(traces)} debates -> {len(rows)} rows ({fmt}): "
              + ", ".join(f"{name} {n}" for name, n in counts.items()) + f"\nwritten to {out_dir}")


@app.command()
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
        _fail(exc)
    if json:
        out.print_json(summary.model_dump_json())
    else:
        print_summary(summary, out, _traces(summary.run))
        out.print(f"accuracy per round: {run_dir / ACCURACY_PLOT}", markup=False,
                  highlight=False)


@app.command()
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
        files = _trace_files(runs)
        summaries = [run_summary(run) for run in runs]
        results = [compare_runs(read_traces(files[0]), read_traces(f)) for f in files[1:]]
        ratings = run_ratings(files, summaries, options)
        chart = compute_chart(names, summaries, "calls" if x == "calls" else "tokens")
    except (DebateError, OSError) as exc:
        _fail(exc)
    try:
        plot.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(plot, chart)
    except OSError as exc:
        _fail(ConfigError(f"--plot {plot}: cannot write it: {exc.strerror or exc}"))
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


@app.command()
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
        _fail(exc)
    out.print(str(path), markup=False, highlight=False, soft_wrap=True)
    if open_it:
        import webbrowser

        webbrowser.open(path.resolve().as_uri())


@app.command()
def roles(
    name: Annotated[str | None, typer.Argument(help="Show one role.")] = None,
) -> None:
    """List registered roles, or show one role's templates and the fields each may use."""
    from rich.table import Table

    from debate.agents.base import ROLES, get_role

    try:
        for role_name in [name] if name else ROLES.names():
            cls = get_role(role_name)
            doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
            out.print(f"[bold]{role_name}[/bold]  {escape(doc)}", highlight=False)
            if name:
                table = Table("template", "fields it may use", "default (debate/prompts/)",
                              box=None)
                for key, default in cls.default_templates.items():
                    fields = ", ".join(sorted(cls.template_fields.get(key, ()))) or "(none)"
                    table.add_row(key, fields, f"{default}.md")
                out.print(table)
    except (DebateError, OSError) as exc:
        _fail(exc)


@app.command()
def protocols(
    name: Annotated[str | None, typer.Argument(help="Show one protocol.")] = None,
    graph: Annotated[bool, Opt("--graph", help="Print the protocol's graph (mermaid).")] = False,
) -> None:
    """List registered protocols, or show one protocol's options and graph."""
    from debate.protocols.base import PROTOCOLS, get_protocol

    try:
        names = [name] if name else PROTOCOLS.names()
        for proto_name in names:
            cls = get_protocol(proto_name)
            doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
            out.print(f"[bold]{proto_name}[/bold]  {escape(doc)}", highlight=False)
            if cls.paper:
                out.print(f"  paper: {cls.paper}", markup=False, highlight=False)
            if name:
                for field, info in cls.config_class.model_fields.items():
                    default = info.get_default(call_default_factory=True)
                    out.print(f"  {field} = {default!r}  {info.description or ''}",
                              markup=False, highlight=False)
            if graph:
                out.print(cls().mermaid(), markup=False, highlight=False)
        for plugin, error in PROTOCOLS.plugin_errors.items():
            err.print(f"plug-in {plugin!r} failed to load: {error}", markup=False)
    except (DebateError, OSError) as exc:
        _fail(exc)


@app.command()
def models() -> None:
    """Show the model spec forms, the registered backends and the scripted models' names."""
    from debate.models.spec import BACKENDS, SPEC_FORMS
    from debate.testing.scripted import script_names

    lines = [SPEC_FORMS.rstrip("\n"), "", f"  backends: {', '.join(BACKENDS.names())}", "",
             "  scripted models (no network, no weights):"]
    lines += [f"    {'scripted:' + name:<33} {what}" for name, what in script_names().items()]
    out.print("\n".join(lines), markup=False, highlight=False, soft_wrap=True)


def main() -> None:
    """Console entry point."""
    app(prog_name="debate")


if __name__ == "__main__":  # pragma: no cover
    main()
