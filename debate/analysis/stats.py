"""Statistics a reviewer asks for first: a confidence interval and a paired test.

- :func:`wilson_interval`: the 95% Wilson score interval of an accuracy
  (better than the normal approximation for small n and accuracies near 0 or 1).
- :func:`mcnemar`: the exact (binomial) McNemar test of two systems scored on
  the same questions: only the discordant questions count.
- :func:`compare_runs`: both, for two runs' traces paired by question id.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from pydantic import BaseModel

from debate.scoring import final_correct
from debate.trace import DebateTrace

__all__ = ["Comparison", "compare_runs", "mcnemar", "wilson_interval"]

Z95 = 1.959963984540054
"""The standard normal quantile of 0.975."""


def wilson_interval(successes: int, total: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of ``successes / total`` (95% by default); ``None`` if empty."""
    if total <= 0:
        return None
    p = successes / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def mcnemar(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts.

    ``only_a``: questions system A got right and B wrong; ``only_b`` the reverse.
    Under the null each discordant question is a fair coin: p = min(1, 2 P(X <= k)),
    X ~ Binomial(only_a + only_b, 1/2), k = min(only_a, only_b).
    """
    n = only_a + only_b
    if n == 0:
        return 1.0
    k = min(only_a, only_b)
    tail = float(sum(math.comb(n, i) for i in range(k + 1))) / float(2 ** n)
    return min(1.0, 2 * tail)


class Comparison(BaseModel):
    """Two runs scored on the questions both finished with a gold answer."""

    questions: int
    """Questions both runs finished and could score."""
    accuracy_a: float | None
    accuracy_b: float | None
    difference: float | None
    """``accuracy_b - accuracy_a``."""
    only_a: int
    """Questions A got right and B wrong."""
    only_b: int
    """Questions B got right and A wrong."""
    p_value: float
    """Two-sided exact McNemar p-value of the difference."""
    only_in_a: int
    """Scored questions finished by A alone (left out of the comparison)."""
    only_in_b: int
    """Scored questions finished by B alone (left out of the comparison)."""


def _scored(traces: Iterable[DebateTrace]) -> dict[str, bool]:
    scored: dict[str, bool] = {}
    for trace in traces:
        correct = final_correct(trace)
        if correct is not None:
            scored.setdefault(trace.question.id, correct)
    return scored


def compare_runs(a: Iterable[DebateTrace], b: Iterable[DebateTrace]) -> Comparison:
    """Pair two runs' debates by question id and test the accuracy difference (McNemar)."""
    left, right = _scored(a), _scored(b)
    common = [q for q in left if q in right]
    only_a = sum(left[q] and not right[q] for q in common)
    only_b = sum(right[q] and not left[q] for q in common)
    n = len(common)
    acc_a = sum(left[q] for q in common) / n if n else None
    acc_b = sum(right[q] for q in common) / n if n else None
    return Comparison(
        questions=n, accuracy_a=acc_a, accuracy_b=acc_b,
        difference=None if acc_a is None or acc_b is None else acc_b - acc_a,
        only_a=only_a, only_b=only_b, p_value=mcnemar(only_a, only_b),
        only_in_a=len(left) - n, only_in_b=len(right) - n)
