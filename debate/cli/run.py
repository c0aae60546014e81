"""``debate run``: run (or resume) an experiment from a spec and flags."""

from __future__ import annotations

import copy
import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from debate.cli.common import Opt, err, fail, out, run_traces
from debate.errors import ConfigError, DebateError

if TYPE_CHECKING:
    from debate.experiment.adaptive import AdaptiveRecord
    from debate.experiment.config import ExperimentConfig

_OPTION_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*(\.[A-Za-z_][A-Za-z0-9_\-]*)*")


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
    rounds: Annotated[int | None, Opt(help="The protocol's rounds option. What it counts "
                                      "depends on the protocol (du: debate rounds after the "
                                      "initial answers; mad: every round, the first included): "
                                      "`debate protocols NAME` says.")] = None,
    role: Annotated[list[str] | None, Opt(
        "--role", metavar="[KEY=]CARD|ROLE",
        help="Role card file or registered role name: one for every agent, or KEY=CARD|ROLE "
             "for the agent or role KEY (judge=cards/judge.yaml); repeatable, over the spec's "
             "roles.")] = None,
    protocol_option: Annotated[list[str] | None, Opt(
        "--option", "-o", metavar="KEY=VALUE",
        help="Protocol option (VALUE read as YAML: true, 3, 0.5, [1, 2], llm; a dotted KEY "
             "sets a nested option: judge_options.swap_order=true); repeatable, over the "
             "spec's protocol_options. See `debate protocols NAME`.")] = None,
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
    progress_every: Annotated[float, Opt(
        "--progress-every", min=1, max=86400,
        help="Seconds between progress lines when the output is not a terminal (a log).")
    ] = 30.0,
    force: Annotated[bool, Opt("--force", help="Continue a run folder although the experiment "
                                "changed (recorded in its config.json).")] = False,
    batch: Annotated[bool, Opt("--batch", help="Send the calls through the provider's Batch "
                               "API (openai: models), one batch per debate step, at the "
                               "batch price.")] = False,
    ray: Annotated[bool, Opt("--ray", help="Shard the debates over Ray actors (pip install "
                             "'debatelab\\[ray]').")] = False,
    ray_address: Annotated[str | None, Opt("--ray-address", help="The Ray cluster to join "
                                           "(implies --ray; default: the spec's ray.address, "
                                           "RAY_ADDRESS, else a local Ray).")] = None,
    adaptive_stop: Annotated[int | None, Opt(
        "--adaptive-stop", metavar="MAX_ROUNDS", min=2,
        help="Adaptive stopping (Hu et al. 2025): run rounds=2, 3, ... MAX_ROUNDS, each in "
             "its own folder replaying the rounds before from the previous one's cache, and "
             "stop once the agents' correct-answer distribution over the data set is stable "
             "(KS distance below 0.05 twice in a row); writes OUT/NAME.adaptive.json. du, "
             "du-sparse, reconcile; needs gold answers and scipy (pip install "
             "debatelab\\[analysis]); not with --rounds; --force applies to every "
             "round's folder.")] = None,
) -> None:
    """Run (or resume) a debate experiment and print its summary."""
    from debate.analysis.metrics import load_run_summary
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
    record: AdaptiveRecord | None = None
    try:
        if adaptive_stop is not None and (rounds is not None or any(
                o.partition("=")[0].strip() == "rounds" for o in protocol_option or [])):
            raise ConfigError("--adaptive-stop MAX_ROUNDS and --rounds (or -o rounds=N) both "
                              "set the rounds: --adaptive-stop runs rounds 2..MAX_ROUNDS "
                              "itself; give one")
        for option, field, kind, items in (("--temperature", "temperature", float, temperature),
                                           ("--max-tokens", "max_tokens", int, max_tokens)):
            overrides[field] = _sampling_option(items or [], option, field, kind, per_key)
        if config is not None:
            if per_key:  # over the spec's own sampling, value by value
                from debate.sampling import merge_sampling

                overrides["sampling"] = merge_sampling(load_experiment(config).sampling, per_key)
            if "dataset" in overrides or plugin or ray_address or role:
                spec = load_experiment(config)
                overrides["roles"] = merge_roles(spec.roles, role or [])
                if ray_address:
                    overrides["ray"] = spec.ray.model_copy(update={"address": ray_address})
                if "dataset" in overrides:
                    # only what the spec set: a default field map is no explicit mapping
                    base = spec.dataset.model_dump(exclude_none=True, exclude_unset=True)
                    if dataset is not None:  # a file named here replaces the spec's source
                        base = {k: v for k, v in base.items()
                                if k not in ("hub", "config", "split", "revision", "rows")}
                    overrides["dataset"] = base | {
                        k: v for k, v in overrides["dataset"].items() if v}
                overrides["plugins"] = [*spec.plugins, *(plugin or [])]
            cfg = load_experiment(config, **overrides)
        else:
            if dataset is None:
                raise typer.BadParameter("give an experiment spec or --dataset")
            overrides["plugins"] = plugin
            overrides["roles"] = role
            overrides["sampling"] = per_key or None
            if ray_address:
                overrides["ray"] = {"address": ray_address}
            cfg = validate(ExperimentConfig, {k: v for k, v in overrides.items()
                                              if v is not None}, "command line")
        cfg = with_protocol_options(cfg, protocol_option or [],
                                    {"agents": agents, "rounds": rounds})
        if adaptive_stop is not None:
            from debate.experiment.adaptive import run_adaptive

            with batch_gc():
                record = run_adaptive(cfg, adaptive_stop, progress=not no_progress,
                                      force=force, progress_every=progress_every, echo=False)
            summary = load_run_summary(record.runs[-1].run)
        else:
            with batch_gc():  # the collector tuned for this run only, restored after
                summary = run_experiment(cfg, progress=not no_progress, force=force,
                                         progress_every=progress_every)
    except (DebateError, OSError) as exc:
        fail(exc)
    except KeyboardInterrupt:
        typer.secho("interrupted: finished debates are kept; re-run the same command to resume.",
                    err=True, fg=typer.colors.YELLOW)
        raise typer.Exit(130) from None
    finally:
        _unload_embedded_models()
    print_summary(summary, out, run_traces(summary.run))
    if record is not None:
        from debate.experiment.adaptive import record_path

        out.print(record.summary_line(), markup=False, highlight=False)
        out.print(f"adaptive stopping record: {record_path(cfg.output_dir, record.experiment)}",
                  markup=False, highlight=False, soft_wrap=True)  # a path, unbroken
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


def merge_roles(spec_roles: list[str], flags: list[str]) -> list[str] | None:
    """The spec's ``roles:`` with ``--role`` items over them (``None``: no ``--role``).

    A ``KEY=VALUE`` flag replaces the spec's binding of KEY; unnamed flags replace the
    spec's unnamed items.
    """
    from debate.experiment.binding import split_bindings

    if not flags:
        return None
    spec_positional, spec_named = split_bindings(spec_roles)
    positional, named = split_bindings(flags)
    merged = spec_named | named
    return [*(positional or spec_positional), *(f"{k}={v}" for k, v in merged.items())]


def parse_option(item: str) -> tuple[list[str], Any]:
    """``-o KEY=VALUE``: the key's path (``a.b`` -> ``["a", "b"]``) and the value.

    JSON values are typed (``true``, ``3``, ``0.5``, ``1e-3``, ``null``, ``[1, 2]``), and
    so are YAML flow collections (``{a: 1}``, ``[x, y]``); anything else (``llm``, and
    YAML 1.1's ``on``/``no``/``yes``, which are never booleans here) is text, which the
    protocol's config then checks. A missing ``=`` or a malformed key is a ``ConfigError``.
    """
    import yaml

    key, sep, text = item.partition("=")
    if not sep or not _OPTION_KEY.fullmatch(key):
        raise ConfigError(f"--option {item!r}: give KEY=VALUE (rounds=3, judge=llm, "
                          "judge_options.swap_order=true)")
    try:
        value = json.loads(text)
    except ValueError:
        value = text
        if text.strip().startswith(("[", "{")):  # a YAML flow collection
            try:
                value = yaml.safe_load(text)
            except yaml.YAMLError:
                value = text
    return key.split("."), value


def _set_path(tree: dict[str, Any], path: list[str], value: Any) -> None:
    """Set ``tree[a][b]... = value``, making (or replacing with) dicts on the way."""
    for part in path[:-1]:
        child = tree.get(part)
        tree[part] = child = dict(child) if isinstance(child, Mapping) else {}
        tree = child
    tree[path[-1]] = value


def with_protocol_options(cfg: ExperimentConfig, items: list[str],
                          flags: Mapping[str, int | None]) -> ExperimentConfig:
    """``cfg`` with the ``-o KEY=VALUE`` items over its ``protocol_options``.

    KEY must be an option of the run's protocol (else a ``ConfigError`` naming the
    nearest); a dotted KEY sets one entry of a nested option, keeping the others the
    preset or spec gave. ``-o rounds=N`` (or ``agents``) wins over the spec's shortcut;
    with the same flag given too (``flags``), it is an error. The protocol validates the
    values when the run builds it.
    """
    from debate.settings import suggest

    if not items:
        return cfg
    cls, resolved = cfg.resolve_protocol()
    fields = list(cls.config_class.model_fields)
    options = copy.deepcopy(cfg.protocol_options)
    update: dict[str, Any] = {}
    for item in items:
        path, value = parse_option(item)
        top = path[0]
        if top not in fields:
            raise ConfigError(f"--option {item!r}: protocol {cls.name!r} has no option {top!r}; "
                              f"{suggest(top, fields)} (see `debate protocols {cls.name}`)")
        if len(path) > 1 and top not in options and isinstance(resolved.get(top), Mapping):
            options[top] = copy.deepcopy(dict(resolved[top]))  # the preset's entries stay
        _set_path(options, path, value)
        if top in flags and len(path) == 1 and getattr(cfg, top) is not None:
            if flags[top] is not None:
                raise ConfigError(f"--{top} {flags[top]} and --option {item!r} both set {top}; "
                                  "give one")
            update[top] = value  # the flag wins over the spec's shortcut
    return cfg.model_copy(update={"protocol_options": options, **update})


def _unload_embedded_models() -> None:
    """Free the embedded models the run loaded (process-wide, so the run itself keeps them)."""
    loaded = sys.modules.get("debate.models.llamacpp")
    if loaded is not None:
        loaded.unload_models()
