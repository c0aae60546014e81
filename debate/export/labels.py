"""Which turns may decide a label or be a target: the rules every strategy shares.

A reply that is empty, cut off at the token limit (``finish_reason == "length"``),
or whose answer a fallback rule guessed (last number, yes/no word, option text) is
unusable where its answer would decide a label, unless the strategy's options
allow it (``allow_truncated``, ``allow_fallback``); :func:`keep_turn` counts each
one it leaves out by its reason (:func:`debate.export.drops.drop`). A vote counts
toward a majority only when it may decide a label (:func:`labelled`,
:func:`labelled_majority`). The reward target of an example is the gold answer
whenever the question has one (:func:`reward_target`).

Used by :mod:`debate.export.strategies` and :mod:`debate.export.multiagent_ft`.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from debate.export.drops import drop
from debate.scoring import is_correct
from debate.trace import DebateTrace, Turn

if TYPE_CHECKING:
    from debate.export.strategies import StrategyOptions

__all__ = ["is_truncated", "keep_turn", "labelled", "labelled_majority", "reward_target",
           "shares", "turn_correct", "unusable"]


def reward_target(trace: DebateTrace, fallback: str | None, source: str
                  ) -> tuple[str | None, str]:
    """The reward target and its source: the gold answer if any, else ``fallback``."""
    gold = trace.question.gold
    return (gold, "gold") if gold is not None else (fallback, source)


def is_truncated(turn: Turn) -> bool:
    """Whether the reply ended on the token limit (cut off: ``finish_reason == "length"``)."""
    return turn.finish_reason == "length"


def unusable(turn: Turn, options: StrategyOptions, labels: bool = True) -> str | None:
    """Why the turn may not be a target (or, with ``labels``, decide one); ``None``: it may."""
    if not turn.raw.strip():
        return "empty"
    if is_truncated(turn) and not options.allow_truncated:
        return "truncated"
    if labels and turn.is_fallback and not options.allow_fallback:
        return "fallback-parsed"
    return None


def keep_turn(turn: Turn, options: StrategyOptions, labels: bool = True) -> bool:
    """Whether the turn is usable (see :func:`unusable`); a drop is counted by its reason."""
    reason = unusable(turn, options, labels)
    if reason is not None:
        drop(reason)
    return reason is None


def labelled(turn: Turn, options: StrategyOptions) -> bool:
    """Whether the turn's answer may count as a vote (no fallback guess or cut-off reply).

    Not counted as a drop: it weighs votes, it picks no example.
    """
    return unusable(turn, options) in (None, "empty")


def turn_correct(trace: DebateTrace, turn: Turn) -> bool | None:
    """Whether the turn's answer is the question's gold answer (``None`` without gold)."""
    q = trace.question
    return is_correct(turn.answer, q.gold, q.task, q.numeric_tolerance)


def shares(turns: list[Turn]) -> tuple[Counter[str], int]:
    """The turns' parsed answers counted, and how many turns there are."""
    counts = Counter(t.answer for t in turns if t.answer is not None)
    return counts, len(turns)


def labelled_majority(turns: list[Turn], answer: str, options: StrategyOptions) -> bool:
    """Whether ``answer`` is the one most common answer of the turns that may decide a label.

    Without gold, a final answer carried by guessed or cut-off votes labels nothing.
    """
    ranked = shares([t for t in turns if labelled(t, options)])[0].most_common(2)
    return bool(ranked) and ranked[0][0] == answer and (
        len(ranked) == 1 or ranked[0][1] > ranked[1][1])
