"""The Beta-Binomial mixture fit of Hu et al. (2025)'s stability test, as its reference code.

"Multi-Agent Debate for LLM Judges with Adaptive Stability Detection" (arXiv 2510.12697),
reference code ``tyrionhuu/Multi-LLM-Debate``. One round's counts (``S_j``: agents correct
of ``k`` on task j) are fitted by ``w BB(k, a1, b1) + (1 - w) BB(k, a2, b2)`` by maximum
likelihood (:func:`fit_mixture`), then put in the reference's component order
(:func:`order_components`). :mod:`debate.analysis.stability` runs the test over a run.

Sources: ``multi_llm_debate/distribution_model/pmf.py@2ac20ab0577813c241f8ff4823c37d17c9a46664``:
``beta_binomial_pmf`` (12-36), ``direct_mixture_log_likelihood`` (69-116: the sum over the
distinct counts at 98-106), ``ensure_consistent_component_ordering`` (120-190: step 1 at
141-156, step 2 at 158-188), ``fit_mixture_direct`` (193-278: seed 211, distinct counts 220,
starts 228-231, bounds 234-240, L-BFGS-B 248-254, clip 256-257, best 264-275,
ordering 278). It is reached from
``fit_distribution_adaptive_stopping.py@0c277e33dad48a9feda809c55b3c7b0d180b917e``
through ``fit_beta_binomial_mixture.fit_mixture_beta_binomial`` (``fitting_method="direct"``),
with ``n_restarts=2`` and the defaults ``max_iter=100``, ``tol=1e-6``, ``random_state=42``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from debate.errors import MissingDependencyError

__all__ = [
    "FIT_RESTARTS",
    "FIT_SEED",
    "ORDER_MEAN_SHIFT",
    "SCIPY_MISSING",
    "Mixture",
    "MixtureFit",
    "beta_binomial_logpmf",
    "fit_mixture",
    "mixture_log_likelihood",
    "order_components",
]

FIT_RESTARTS = 2
"""``n_restarts=2`` in ``analyze_distributions_adaptive_stopping``: starts of the fit."""
FIT_SEED = 42
"""``random_state=42`` in ``fit_mixture_direct``: the seed of the starting points."""
ORDER_MEAN_SHIFT = 0.01
"""Step 2 of ``ensure_consistent_component_ordering`` rescales a component only when that
moves its mean by less than this (``abs(new_exp - exp) < 0.01``, pmf.py:171 and 186)."""
_MAX_ITER, _GTOL = 100, 1e-6
"""``fit_mixture_direct``'s ``max_iter=100`` and ``tol=1e-6``, given to L-BFGS-B as
``maxiter`` and ``gtol``."""
_W_CLIP, _LOG_OFFSET = 1e-9, 1e-16
"""The reference keeps ``w`` in ``[1e-9, 1 - 1e-9]`` (its bound and its clip) and the
shapes at ``>= 1e-9``; it takes ``log(mixture pmf + 1e-16)``."""
SCIPY_MISSING = ('the Beta-Binomial fit of Hu et al. (2025) needs scipy: '
                 'pip install "debatelab[analysis]"')
"""The message of the error raised when scipy is not installed."""


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


def order_components(w: float, alpha1: float, beta1: float, alpha2: float,
                     beta2: float) -> Mixture:
    """``ensure_consistent_component_ordering`` (pmf.py:120-190), both steps, its arithmetic.

    Step 1: if component 1's mean ``a1 / (a1 + b1)`` is below component 2's, the two
    swap and ``w`` becomes ``1 - w``. Step 2, component 1: if ``a1 < b1``, the candidate
    is ``(b1^2 / a1, a1)`` (``scale = b1 / a1``; ``a1' = b1 scale``, ``b1' = a1``); it
    replaces ``(a1, b1)`` when its mean moves by less than :data:`ORDER_MEAN_SHIFT`.
    Component 2: if ``a2 > b2``, the candidate is ``(b2, a2^2 / b2)``, on the same
    condition. With ``r`` the larger shape over the smaller, the means are ``1/(1+r)`` and
    ``r^2/(1+r^2)`` (or the mirror), so it fires only for nearly equal shapes (``r`` within
    about 1.3% of 1) and then changes the distribution: Beta(1, 1.01) becomes
    Beta(1.0201, 1), mean 0.49751 to 0.50498. The reported mixture and the KS distances
    are of the result, as in the reference's loop.
    """
    if alpha1 / (alpha1 + beta1) < alpha2 / (alpha2 + beta2):
        w, alpha1, beta1, alpha2, beta2 = 1.0 - w, alpha2, beta2, alpha1, beta1
    if alpha1 < beta1:
        scale = beta1 / alpha1
        new_alpha, new_beta = beta1 * scale, alpha1
        if abs(new_alpha / (new_alpha + new_beta) - alpha1 / (alpha1 + beta1)) < ORDER_MEAN_SHIFT:
            alpha1, beta1 = new_alpha, new_beta
    if alpha2 > beta2:
        scale = alpha2 / beta2
        new_alpha, new_beta = beta2, alpha2 * scale
        if abs(new_alpha / (new_alpha + new_beta) - alpha2 / (alpha2 + beta2)) < ORDER_MEAN_SHIFT:
            alpha2, beta2 = new_alpha, new_beta
    return Mixture(w, alpha1, beta1, alpha2, beta2)


@dataclass(frozen=True)
class MixtureFit:
    """The maximum-likelihood mixture of one round's counts, as ``fit_mixture_direct`` gives."""

    mixture: Mixture
    """In the reference's order (:func:`order_components`): component 1 has the higher mean."""
    log_likelihood: float
    """``sum_s n_s log(w BB(s | k, a1, b1) + (1 - w) BB(s | k, a2, b2) + 1e-16)`` of the
    optimum, before :func:`order_components` (the reference does not recompute it)."""
    iterations: int
    """L-BFGS-B iterations of the start that won."""
    restart: int
    """Which start won (0-based; the first of equal likelihoods)."""


def _scipy() -> tuple[Any, Any]:
    """The optimiser and ``gammaln`` of scipy, imported here: scipy is an optional extra."""
    try:
        from scipy.optimize import minimize
        from scipy.special import gammaln
    except ImportError as exc:
        raise MissingDependencyError(SCIPY_MISSING) from exc
    return minimize, gammaln


def fit_mixture(counts: Sequence[int], k: int, *, restarts: int = FIT_RESTARTS,
                seed: int = FIT_SEED) -> MixtureFit:
    """Fit ``w BB(k, a1, b1) + (1 - w) BB(k, a2, b2)`` to ``counts`` as the reference does.

    ``fit_mixture_direct`` (pmf.py:193-278): maximise the log-likelihood (with its
    ``+ 1e-16`` inside the log and ``w`` clipped to ``[1e-9, 1 - 1e-9]``) by
    ``scipy.optimize.minimize(method="L-BFGS-B")`` on the negative, bounds ``w`` in
    ``[1e-9, 1 - 1e-9]`` and each shape ``>= 1e-9``, ``maxiter=100``, ``gtol=1e-6``,
    numerical gradient; ``restarts`` starts from ``numpy.random.default_rng(seed)``:
    ``w = 0.5`` and ``a1, b1, a2, b2 = 1 + 2 U`` drawn in that order; the first best
    likelihood wins; then :func:`order_components`. The likelihood is summed over the
    distinct counts in the reference's order of operations, so the finite-difference
    optimiser follows its path: the tests pin ``fit_mixture_direct``'s own numbers.
    Raises :class:`~debate.errors.MissingDependencyError` without scipy.
    """
    minimize, gammaln = _scipy()
    if k < 0 or restarts < 1:
        raise ValueError(f"k is {k!r} and restarts {restarts!r}; need k >= 0, restarts >= 1")
    data = np.asarray(list(counts), dtype=int)
    if data.size == 0:
        raise ValueError("no counts to fit")
    outside = data[(data < 0) | (data > k)]
    if outside.size:
        raise ValueError(f"count {int(outside[0])} is outside 0..{k} (agents correct of {k})")
    values, freq = np.unique(data, return_counts=True)
    log_comb = gammaln(k + 1) - gammaln(values + 1) - gammaln(k - values + 1)

    def pmf(a: float, b: float) -> Any:  # the reference's grouping, to its last bit
        log_num = gammaln(a + values) + gammaln(b + (k - values)) - gammaln(a + b + k)
        return np.exp(log_comb + log_num - (gammaln(a) + gammaln(b) - gammaln(a + b)))

    def log_likelihood(params: Sequence[float]) -> float:
        w, a1, b1, a2, b2 = params
        w = min(max(w, _W_CLIP), 1.0 - _W_CLIP)
        terms = freq * np.log(w * pmf(a1, b1) + (1 - w) * pmf(a2, b2) + _LOG_OFFSET)
        total = 0.0
        for term in terms:  # summed in order, as the reference's loop
            total += float(term)
        return total

    bounds = [(_W_CLIP, 1.0 - _W_CLIP)] + [(_W_CLIP, None)] * 4
    rng = np.random.default_rng(seed)
    best: tuple[list[float], float, int, int] | None = None
    for restart in range(restarts):
        start = [0.5] + [1.0 + 2.0 * rng.random() for _ in range(4)]
        res = minimize(lambda x: -log_likelihood(x), start, method="L-BFGS-B", bounds=bounds,
                       options={"maxiter": _MAX_ITER, "gtol": _GTOL})
        params = [min(max(float(res.x[0]), _W_CLIP), 1.0 - _W_CLIP)]
        params += [float(v) for v in res.x[1:]]
        ll = log_likelihood(params)
        if best is None or ll > best[1]:
            best = (params, ll, int(res.nit), restart)
    assert best is not None  # restarts >= 1
    params, ll, iterations, restart = best
    return MixtureFit(order_components(*params), ll, iterations, restart)
