"""Why an export left something out: every drop has a named reason, counted.

Strategies, filters and formats call :func:`drop` wherever they leave out a
debate, an answer, a group or an example; :func:`counting` collects the counts
of one export (``debate.export.select`` and ``export`` open it), so the CLI can
print them, the dataset card can list them, and a researcher sees why "10
debates -> 0 rows". Outside :func:`counting` a drop is not counted (a strategy
called on its own stays a pure function).

Each reason is counted in its own unit (:data:`DROP_REASONS` says which): an
answer left out of pairing is one answer, whatever pairs it might have made.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["DROP_REASONS", "Drops", "counting", "describe_drops", "drop"]

DROP_REASONS: dict[str, tuple[str, str]] = {
    "fallback-parsed": ("answer", "its answer was guessed by a fallback rule "
                                  "(--allow-fallback keeps it)"),
    "truncated": ("reply", "it ended on the token limit (finish_reason length; "
                           "--allow-truncated keeps it)"),
    "empty": ("reply", "the reply is empty (a failed call)"),
    "failed-debate": ("debate", "the debate failed and left no trace (the run's summary.json)"),
    "no-gold": ("debate", "the question has no gold answer"),
    "no-answers": ("debate", "no agent answered (no answer or revision turn)"),
    "no-final-answer": ("debate", "the debate reached no final answer"),
    "wrong-final": ("debate", "the debate's final answer is wrong (sft keeps right ones)"),
    "no-disagreement": ("group", "every answer to one prompt agrees (nothing to pair)"),
    "no-consensus": ("debate", "the last round is a tie or below --min-margin"),
    "unlabelled-consensus": ("debate", "no gold, and the final answer is not the majority of "
                             "the answers that may decide a label (guessed or cut off)"),
    "one-round": ("debate", "the debate had one round (revision needs two)"),
    "not-revised": ("answer", "the agent did not move to a right (or majority) answer"),
    "not-judged": ("debate", "no moderator or judge decided the debate"),
    "not-self-play": ("debate", "not a debate-qa or consultancy run (judge-preference)"),
    "other-prompt": ("reply", "a best-of-N candidate had another prompt than its point's first"),
    "unrated": ("reply", "the judge did not rate the candidate"),
    "too-close": ("pair", "the judge's ratings differ by no more than --min-margin"),
    "identical": ("pair", "chosen and rejected are the same text"),
    "wrong-chosen": ("example", "the chosen response is wrong (--correct)"),
    "too-short": ("example", "a response is shorter than --min-length"),
    "too-long": ("example", "a response is longer than --max-length"),
    "duplicate": ("example", "it repeats an earlier example or row (--no-dedupe keeps it)"),
    "over-cap": ("example", "over --max-per-question"),
    "unbalanced": ("example", "left out to balance the labels (--balance)"),
    "not-mixed": ("example", "an mft-critic critic+ example the critic mix left out (one may "
                  "follow each critic- example, with chance --critic-plus-rate)"),
}
"""Every named reason: the unit it counts and what it means."""


class Drops(Counter[str]):
    """Counts of what an export left out, by reason (see :data:`DROP_REASONS`)."""

    def describe(self) -> str:
        """``"3 fallback-parsed answers, 1 no-gold debate"``; ``"none"`` when nothing."""
        return describe_drops(self)


def describe_drops(counts: Mapping[str, int]) -> str:
    """Drop counts as one line, largest first, each with its unit."""
    if not any(counts.values()):
        return "none"
    parts = []
    for reason, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        if n:
            unit = DROP_REASONS.get(reason, ("item", ""))[0]
            plural = unit[:-1] + "ies" if unit.endswith("y") else unit + "s"
            parts.append(f"{n} {reason} {unit if n == 1 else plural}")
    return ", ".join(parts)


_current: ContextVar[Drops | None] = ContextVar("debate_export_drops", default=None)


def drop(reason: str, n: int = 1) -> None:
    """Count ``n`` of something left out for ``reason`` (inside :func:`counting`)."""
    counts = _current.get()
    if counts is not None and n:
        counts[reason] += n


@contextmanager
def counting(into: Drops | None = None) -> Iterator[Drops]:
    """Collect every :func:`drop` made inside the block (into ``into``, or a new one)."""
    counts = Drops() if into is None else into
    token = _current.set(counts)
    try:
        yield counts
    finally:
        _current.reset(token)
