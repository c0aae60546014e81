"""Stability detection of Hu et al. (2025): the pieces that are pure arithmetic.

"Multi-Agent Debate for LLM Judges with Adaptive Stability Detection" (Hu, Tan,
Wang, Qu, Chen; arXiv 2510.12697), reference code ``tyrionhuu/Multi-LLM-Debate``
(``multi_llm_debate/distribution_model``). The test is over a *data set*, not one
debate: after each round t, every task's number of agents whose answer is correct
(``S`` in 0..k, k agents) is counted; the counts of all tasks are fitted with a
two-component Beta-Binomial mixture (w, a1, b1, a2, b2) by maximum likelihood; the
Kolmogorov-Smirnov distance between round t's and round t-1's fitted *Beta*
mixtures (the latent correct-rate laws on [0, 1]) is taken on a grid of 1000 points;
the debate of the whole data set stops after the first round whose distance and the
previous round's are both below 0.05 (``stability_rounds = 2``).

This module gives those formulas as functions of counts and fitted parameters:
:func:`beta_binomial_logpmf`, :func:`mixture_log_likelihood`,
:func:`beta_mixture_cdf`, :func:`ks_statistic`, :func:`stop_round`. The fit itself
(L-BFGS-B, 2 restarts from seed 42 in the reference) is not here yet: it needs
scipy's optimiser to give the reference's numbers, and the stop is over a data set,
so it belongs to an analysis of finished rounds (issue 32, in progress).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "GRID_POINTS",
    "KS_THRESHOLD",
    "STABILITY_ROUNDS",
    "Mixture",
    "beta_binomial_logpmf",
    "beta_mixture_cdf",
    "ks_statistic",
    "mixture_log_likelihood",
    "regularized_beta",
    "stop_round",
]

KS_THRESHOLD = 0.05
"""The reference's ``ks_threshold``: a KS distance below it counts as a stable round."""
STABILITY_ROUNDS = 2
"""The reference's ``stability_rounds``: consecutive stable rounds needed to stop."""
GRID_POINTS = 1000
"""The reference compares the two CDFs at ``numpy.linspace(0, 1, 1000)``."""


@dataclass(frozen=True)
class Mixture:
    """A two-component Beta mixture ``w Beta(a1, b1) + (1 - w) Beta(a2, b2)``.

    The same five numbers define the Beta-Binomial mixture of the counts.
    """

    w: float
    alpha1: float
    beta1: float
    alpha2: float
    beta2: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.w <= 1.0:
            raise ValueError(f"Mixture.w is {self.w!r}; a weight lies in [0, 1]")
        for name in ("alpha1", "beta1", "alpha2", "beta2"):
            value = getattr(self, name)
            if not value > 0.0:
                raise ValueError(f"Mixture.{name} is {value!r}; Beta shapes are > 0")


def beta_binomial_logpmf(s: int, k: int, alpha: float, beta: float) -> float:
    """``log BB(s | k, a, b) = log C(k, s) + log B(a + s, b + k - s) - log B(a, b)``.

    ``-inf`` outside ``0 <= s <= k``. ``BB(s | 2, 2, 1)`` is 1/6, 1/3, 1/2 for s = 0, 1, 2.
    """
    if not 0 <= s <= k:
        return -math.inf
    lg = math.lgamma
    log_comb = lg(k + 1) - lg(s + 1) - lg(k - s + 1)
    log_num = lg(alpha + s) + lg(beta + k - s) - lg(alpha + beta + k)
    log_den = lg(alpha) + lg(beta) - lg(alpha + beta)
    return log_comb + log_num - log_den


def mixture_log_likelihood(mixture: Mixture, counts: Sequence[int], k: int) -> float:
    """``sum_j log(w BB(S_j | k, a1, b1) + (1 - w) BB(S_j | k, a2, b2))`` over the tasks j.

    ``counts`` holds one ``S_j`` (agents correct, 0..k) per task; the fit maximises this.
    """
    total = 0.0
    for s in counts:
        if not 0 <= s <= k:
            raise ValueError(f"count {s!r} is outside 0..{k} (agents correct of {k})")
        terms = [math.log(p) + beta_binomial_logpmf(s, k, a, b)
                 for p, a, b in ((mixture.w, mixture.alpha1, mixture.beta1),
                                 (1.0 - mixture.w, mixture.alpha2, mixture.beta2)) if p > 0]
        top = max(terms)
        total += top + math.log(sum(math.exp(t - top) for t in terms))
    return total


def _beta_continued_fraction(x: float, a: float, b: float) -> float:
    """The continued fraction of ``I_x(a, b)`` (modified Lentz), for ``x < (a+1)/(a+b+2)``."""
    tiny, eps = 1e-300, 1e-15
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_000):
        for num in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                    -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < eps:
            break
    return h


def regularized_beta(x: float, a: float, b: float) -> float:
    """The Beta(a, b) CDF ``I_x(a, b)``: ``I_x(1, 1) = x``, ``I_x(2, 1) = x^2``."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                 + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_continued_fraction(x, a, b) / a
    return 1.0 - math.exp(log_front) * _beta_continued_fraction(1.0 - x, b, a) / b


def beta_mixture_cdf(mixture: Mixture, x: Sequence[float]) -> list[float]:
    """``F(x) = w I_x(a1, b1) + (1 - w) I_x(a2, b2)`` at each point of ``x``."""
    m = mixture
    return [m.w * regularized_beta(v, m.alpha1, m.beta1)
            + (1.0 - m.w) * regularized_beta(v, m.alpha2, m.beta2) for v in x]


def ks_statistic(current: Mixture, previous: Mixture) -> float:
    """``D = max_x |F_t(x) - F_{t-1}(x)|`` over ``x = linspace(0, 1, 1000)`` (the reference's).

    Beta(2, 1) against Beta(1, 1): ``max |x^2 - x|``, 1/4 at x = 1/2, which the grid
    misses: ``(499/999)(500/999) = 0.24999975``.
    """
    grid = [float(v) for v in np.linspace(0.0, 1.0, GRID_POINTS)]
    now, before = beta_mixture_cdf(current, grid), beta_mixture_cdf(previous, grid)
    return max(abs(a - b) for a, b in zip(now, before, strict=True))


def stop_round(ks: Sequence[float | None], threshold: float = KS_THRESHOLD,
               stability_rounds: int = STABILITY_ROUNDS) -> int | None:
    """The round after which the reference stops, or ``None`` (run to the last round).

    ``ks[t]`` is round t's distance to round t-1 (``ks[0]`` is ``None``: no round
    before). A round is stable when its distance is below ``threshold``; a round that
    is not resets the run of stable rounds; the debate stops at the round that makes
    the run ``stability_rounds`` long. ``[None, 0.10, 0.04, 0.03]`` stops at round 3.
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold is {threshold!r}; a KS distance threshold is in (0, 1]")
    if stability_rounds < 1:
        raise ValueError(f"stability_rounds is {stability_rounds!r}; it is at least 1")
    run = 0
    for round_, value in enumerate(ks):
        if value is None:
            continue
        run = run + 1 if value < threshold else 0
        if run >= stability_rounds:
            return round_
    return None
