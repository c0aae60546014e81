"""Hu et al. (2025)'s stability test, on hand-worked numbers (debate.analysis.stability)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from debate.analysis.stability import (
    KS_THRESHOLD,
    STABILITY_ROUNDS,
    Mixture,
    beta_binomial_logpmf,
    beta_mixture_cdf,
    ks_statistic,
    mixture_log_likelihood,
    regularized_beta,
    stop_round,
)

UNIFORM = Mixture(0.5, 1.0, 1.0, 1.0, 1.0)


def test_the_defaults_are_the_reference_codes():
    """Before: no stability test. Now: KS below 0.05 in 2 consecutive rounds, as the reference."""
    assert (KS_THRESHOLD, STABILITY_ROUNDS) == (0.05, 2)


def test_beta_binomial_pmf_is_c_k_s_times_a_ratio_of_beta_functions():
    """Before: none. Now: BB(s | 2, 2, 1) = C(2,s) B(2+s, 3-s) / B(2,1) = 1/6, 1/3, 1/2."""
    pmf = [math.exp(beta_binomial_logpmf(s, 2, 2.0, 1.0)) for s in range(3)]
    assert pmf == pytest.approx([1 / 6, 1 / 3, 1 / 2])
    assert beta_binomial_logpmf(3, 2, 2.0, 1.0) == -math.inf


def test_a_flat_beta_gives_every_count_the_same_mass():
    """Before: none. Now: BB(s | k, 1, 1) = 1/(k+1) for every s (k = 3: 1/4)."""
    assert [math.exp(beta_binomial_logpmf(s, 3, 1.0, 1.0)) for s in range(4)] == \
        pytest.approx([0.25] * 4)


def test_the_log_likelihood_sums_each_tasks_mixture_mass():
    """Before: none. Now: counts 0, 1, 2 of 2 agents under flat components: 3 log(1/3)."""
    assert mixture_log_likelihood(UNIFORM, [0, 1, 2], 2) == pytest.approx(3 * math.log(1 / 3))


def test_a_count_above_the_number_of_agents_is_refused_by_name():
    """Before: none. Now: S = 3 of 2 agents raises, naming the count and the range."""
    with pytest.raises(ValueError, match=r"count 3 is outside 0\.\.2"):
        mixture_log_likelihood(UNIFORM, [3], 2)


def test_the_beta_cdf_is_the_regularized_incomplete_beta():
    """Before: none. Now: I_x(2,1) = x^2, I_x(1,2) = 1-(1-x)^2; I_0.7(2.5, 3.5) by quadrature.

    The last value: ``numpy.trapezoid`` of the Beta(2.5, 3.5) density on 2,000,001 points
    of [0, 0.7] gives 0.92281906547787.
    """
    assert regularized_beta(0.3, 2.0, 1.0) == pytest.approx(0.09)
    assert regularized_beta(0.3, 1.0, 2.0) == pytest.approx(0.51)
    assert regularized_beta(0.7, 2.5, 3.5) == pytest.approx(0.92281906547787, abs=1e-12)
    assert (regularized_beta(0.0, 2.0, 3.0), regularized_beta(1.0, 2.0, 3.0)) == (0.0, 1.0)


def test_the_mixture_cdf_weighs_its_two_components():
    """Before: none. Now: 0.5 x^2 + 0.5 (1 - (1-x)^2) = x: this mixture is uniform."""
    grid = [0.1, 0.5, 0.9]
    assert beta_mixture_cdf(Mixture(0.5, 2.0, 1.0, 1.0, 2.0), grid) == pytest.approx(grid)


def test_ks_is_the_largest_cdf_gap_on_the_reference_grid():
    """Before: none. Now: Beta(2,1) vs uniform: max |x^2 - x| on linspace(0, 1, 1000).

    The gap x(1 - x) peaks at 1/2, not a grid point; the nearest are 499/999 and
    500/999, where it is 499 * 500 / 999^2 = 0.2499997495.
    """
    expected = 499 * 500 / 999**2
    assert ks_statistic(Mixture(1.0, 2.0, 1.0, 1.0, 1.0), UNIFORM) == pytest.approx(expected)
    assert ks_statistic(Mixture(0.5, 2.0, 1.0, 1.0, 2.0), UNIFORM) < 1e-12
    assert float(np.linspace(0, 1, 1000)[500]) == pytest.approx(500 / 999)


def test_the_debate_stops_at_the_second_consecutive_stable_round():
    """Before: none. Now: KS 0.10, 0.04, 0.03 in rounds 1-3: stable twice in a row at round 3."""
    assert stop_round([None, 0.10, 0.04, 0.03]) == 3


def test_an_unstable_round_resets_the_run():
    """Before: none. Now: 0.04 (stable), 0.06 (reset), 0.01, 0.02: the stop is round 4."""
    assert stop_round([None, 0.04, 0.06, 0.01, 0.02]) == 4


def test_without_two_stable_rounds_the_debate_runs_to_its_last_round():
    """Before: none. Now: one stable round, or a distance equal to 0.05, never stops early."""
    assert stop_round([None, 0.04]) is None
    assert stop_round([None, 0.05, 0.05, 0.05]) is None


def test_bad_parameters_are_refused_by_name():
    """Before: none. Now: a weight above 1, a zero shape, a threshold of 0 each raise, named."""
    with pytest.raises(ValueError, match=r"Mixture\.w is 1\.5"):
        Mixture(1.5, 1.0, 1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match=r"Mixture\.beta2 is 0\.0"):
        Mixture(0.5, 1.0, 1.0, 1.0, 0.0)
    with pytest.raises(ValueError, match="threshold is 0"):
        stop_round([None, 0.01], threshold=0)
