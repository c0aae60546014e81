"""``debate export``: debate traces to training data."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from debate.cli.common import Opt, fail, numbers, out, trace_files
from debate.errors import ConfigError, DebateError

if TYPE_CHECKING:
    from debate.export import StrategyOptions


def export_cmd(
    runs: Annotated[list[Path], typer.Argument(help="Run folders, traces.jsonl files or "
                                                    "inspect logs (LOG.eval, from debate_solver:"
                                                    " debatelab[inspect]); several are merged.")],
    out_dir: Annotated[Path, Opt("--out", help="Output folder.")],
    strategy: Annotated[list[str] | None, Opt(
        "--strategy", "-s", help="gold | consensus | revision | judge | judge-preference | sft | "
        "sft-critique | mft-generator | mft-critic (repeatable; default gold). mft-*: one "
        "dataset per agent (metadata.agents[0]; debate.export.rows_by_agent splits the "
        "rows).")] = None,
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
    allow_truncated: Annotated[bool, Opt(
        "--allow-truncated", help="Use replies cut off at the token limit (finish_reason "
        "length) as targets and to decide labels; off by default.")] = False,
    critic_plus_rate: Annotated[float | None, Opt(
        help="mft-critic (only with -s mft-critic): the chance that an agent's next critic+ "
        "example follows each of its critic- ones (default 0.5, the reference's "
        "random.choice([0, 1])).")] = None,
    no_dedupe: Annotated[bool, Opt("--no-dedupe", help="Keep duplicate examples (mft-*: "
                                   "dedupe compares an agent's examples with its own only).")
                         ] = False,
    seed: Annotated[int, Opt(help="Seed of splits and sampling (and of the mft-critic mix).")
                    ] = 0,
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
    What was left out is printed by reason (fallback-parsed, truncated, no-gold...); an
    export that would have no row writes nothing and exits 2, saying why.
    """
    from debate.export import Drops, canonical_format, export, write_export
    from debate.export.card import source_runs
    from debate.export.sources import read_source
    from debate.export.writers import check_export_target, check_fractions, check_writers

    strategy = strategy or ["gold"]
    try:
        fmt = canonical_format(fmt)
        round_numbers = numbers(rounds, "--rounds", int)
        fractions = numbers(split, "--split", float)
        check_fractions(fractions)  # before the slow work, like --out
        writers = None if writer is None else tuple(w for w in writer.split(",") if w)
        check_writers(writers or ())
        options = strategy_options(
            strategy, {"rounds": round_numbers, "min_margin": min_margin, "pairs": pairs,
                       "allow_fallback": allow_fallback, "allow_truncated": allow_truncated},
            seed=seed, critic_plus_rate=critic_plus_rate)
        files = trace_files(runs)
        check_export_target(out_dir, sources=files, overwrite=overwrite)
        sources = [str(f) for f in files]
        failed = sum(r.failed for r in source_runs(sources))
        traces = []
        for f in files:
            found, failed_here = read_source(f)
            traces += found
            failed += failed_here
        drops = Drops({"failed-debate": failed} if failed else {})
        filters = {"min_length": min_length, "max_length": max_length,
                   "max_per_question": max_per_question, "balance": balance,
                   "correct": correct, "dedupe": not no_dedupe, "seed": seed}
        rows = export(traces, strategy, fmt, options=options, filters=filters, drops=drops)
        if not rows:
            raise ConfigError(f"{len(traces)} debates -> 0 rows ({fmt}), nothing written: "
                              f"{why_empty(drops)}")
        counts = write_export(rows, out_dir, fmt=fmt, strategies=list(strategy),
                              fractions=fractions, seed=seed,
                              writers=writers,
                              sources=sources, overwrite=overwrite,
                              options=options, filters=filters, drops=drops)
    except (DebateError, OSError) as exc:
        fail(exc)
    out.print(f"{len(traces)} debates -> {len(rows)} rows ({fmt}): "
              + ", ".join(f"{name} {n}" for name, n in counts.items())
              + f"\ndropped: {drops.describe()}\nwritten to {out_dir}")


def strategy_options(strategies: list[str], options: dict[str, Any], *, seed: int,
                     critic_plus_rate: float | None) -> dict[str, Any] | StrategyOptions:
    """The strategies' options: ``options``, or with ``mft-critic`` its :class:`MftOptions`.

    :class:`MftOptions` adds the critic mix's rate (when given) and ``seed``; a bad value
    is a :class:`ConfigError` naming it, and so is ``--critic-plus-rate`` without
    ``mft-critic`` (it would set nothing).
    """
    if "mft-critic" not in strategies:
        if critic_plus_rate is not None:
            raise ConfigError("--critic-plus-rate sets the mix of the mft-critic strategy, "
                              f"which this export does not run (-s {' -s '.join(strategies)})"
                              ": add -s mft-critic, or leave --critic-plus-rate out")
        return options
    from debate.export import MftOptions
    from debate.settings import validated

    mix = {"seed": seed} if critic_plus_rate is None else {"seed": seed,
                                                           "critic_plus_rate": critic_plus_rate}
    return validated(MftOptions, {**options, **mix}, "export")


def why_empty(drops: Counter[str]) -> str:
    """Why an export has no row: its drops, and what the largest one means."""
    from debate.export.drops import DROP_REASONS, describe_drops

    if not any(drops.values()):
        return "the strategies found nothing to pair or keep in these debates"
    top = max(drops, key=lambda reason: drops[reason])
    why = DROP_REASONS.get(top, ("", "a plug-in's reason"))[1]
    return f"dropped {describe_drops(drops)} (most: {top}: {why})"
