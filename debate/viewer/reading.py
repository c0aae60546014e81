"""Words the viewer shows for what happened: private turns, a judge's two orders.

A turn is *private* when the protocol never shows it to the other agents; the page
marks it in the transcript. The rule, from the turn's ``kind``, ``step`` and fields:

- kind ``confidence``: an agent's stated confidence (its private estimate of winning);
- step ``probe``: a judge's probe, rating a candidate speech the debaters never read;
- a sample that did not continue the debate (:func:`left_behind`: a best-of-N
  candidate that lost, or the opponent speech sampled for the ratings).

Every other turn (answers, revisions, critiques, arguments, verdicts) is on the line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from debate.protocols.oversight_records import SampleMark, left_behind
from debate.trace import Turn

__all__ = ["judge_orders", "private_reason"]


def private_reason(turn: Turn) -> str | None:
    """Why ``turn`` was never shown to the other agents (``None``: it may have been)."""
    if turn.kind == "confidence":
        return "a stated confidence: private, never shown to the other agents"
    if turn.step == "probe":
        return "a judge's probe: it rated a candidate, the debaters never read it"
    if left_behind(turn):
        mark = SampleMark.read(turn)
        if mark is not None and mark.opponent_for is not None:
            return (f"a sampled opponent speech, read only by the ratings of seat "
                    f"{mark.opponent_for}'s candidates: it did not continue the debate")
        return "a sample that did not continue the debate (another candidate was kept)"
    return None


def judge_orders(details: Mapping[str, Any]) -> str | None:
    """What a judge asked in both orders (``swap_order``) chose, in words.

    ``None`` when the judge was not asked twice. Each case has its own words: both
    choices unparsed, one unparsed, the two disagree, the two agree.
    """
    choices = details.get("choices")
    if not isinstance(choices, list) or len(choices) != 2:
        return None
    first, swapped = choices
    if first is None and swapped is None:
        return "both orders unparsed: neither of the judge's two choices could be read"
    if first is None or swapped is None:
        which, other = ("first", swapped) if first is None else ("swapped", first)
        return (f"one order unparsed: the {which} order's choice could not be read; "
                f"the other chose {other}")
    if first != swapped:
        return f"the two orders disagree: {first} in the first, {swapped} swapped"
    return f"both orders chose {first}"
