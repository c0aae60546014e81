"""Stability detection of Hu et al. (2025): adaptive stopping, as an analysis of a run.

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

This module gives the distance and the stop (:func:`beta_mixture_cdf`,
:func:`ks_statistic`, :func:`stop_round`) and the test over a finished run
(:func:`adaptive_stop`): where the data set would have stopped, the majority-vote
accuracy there and at the last round, and the answer calls stopping would have saved.
The fit is :mod:`debate.analysis.stability_fit` (:func:`fit_mixture`, the reference's
``fit_mixture_direct`` and ``ensure_consistent_component_ordering``; scipy is the
optional extra ``debatelab[analysis]``), its names re-exported here.
The stop needs every question's gold answer, so it is an analysis of a finished run
(``debate report``), not a stop rule of one debate.

Sources, in ``tyrionhuu/Multi-LLM-Debate`` (``multi_llm_debate/``): the loop over rounds
is ``analyze_distributions_adaptive_stopping`` of
``distribution_model/fit_distribution_adaptive_stopping.py@0c277e33dad48a9feda809c55b3c7b0d180b917e``
(defaults ``fitting_method="direct"``, ``n_restarts=2``, ``ks_threshold=0.05``,
``stability_rounds=2`` at 81-90; the bin columns of the whole table at 188, the counts
191-198, ``k`` the largest bin at 201, fit 217, the ordering again at 222 (a no-op after
``pmf.py``'s own: :func:`order_components`), KS 233 on the grid of 53, stop 236-257);
the counts are ``calculate_correct_rate_distribution`` of
``analysis/calculate_correct_rate_distribution.py`` (the version with ``extract_func`` and
``compare_func`` that this loop calls: a task without the round counts at its last round;
a task whose label is missing counts 0 correct; each round's bins run to the most answers
parsed in it, and the rounds' rows are one table, so the loop's bins are the union).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from debate.analysis.metrics import score_rounds
from debate.analysis.stability_fit import (
    FIT_RESTARTS,
    FIT_SEED,
    ORDER_MEAN_SHIFT,
    SCIPY_MISSING,
    Mixture,
    MixtureFit,
    beta_binomial_logpmf,
    fit_mixture,
    mixture_log_likelihood,
    order_components,
)
from debate.errors import MissingDependencyError
from debate.trace import DebateTrace

__all__ = [
    "FIT_RESTARTS",
    "FIT_SEED",
    "GRID_POINTS",
    "KS_THRESHOLD",
    "ORDER_MEAN_SHIFT",
    "SCIPY_MISSING",
    "STABILITY_ROUNDS",
    "TITLE",
    "AdaptiveStop",
    "Mixture",
    "MixtureFit",
    "RoundFit",
    "adaptive_stop",
    "beta_binomial_logpmf",
    "beta_mixture_cdf",
    "fit_mixture",
    "ks_statistic",
    "markdown_section",
    "mixture_log_likelihood",
    "order_components",
    "regularized_beta",
    "stop_round",
    "summary_line",
]

KS_THRESHOLD = 0.05
"""The reference's ``ks_threshold``: a KS distance below it counts as a stable round."""
STABILITY_ROUNDS = 2
"""The reference's ``stability_rounds``: consecutive stable rounds needed to stop."""
GRID_POINTS = 1000
"""The reference compares the two CDFs at ``numpy.linspace(0, 1, 1000)``."""


def _betainc() -> Any:
    """The regularized incomplete beta function of scipy (the extra ``debatelab[analysis]``)."""
    try:
        from scipy.special import betainc
    except ImportError as exc:
        raise MissingDependencyError(SCIPY_MISSING) from exc
    return betainc


def regularized_beta(x: float, a: float, b: float) -> float:
    """The Beta(a, b) CDF ``I_x(a, b)``: ``I_x(1, 1) = x``, ``I_x(2, 1) = x^2``.

    ``scipy.special.betainc``, as the reference's ``scipy.stats.beta.cdf``.
    """
    return float(_betainc()(a, b, min(max(x, 0.0), 1.0)))


def beta_mixture_cdf(mixture: Mixture, x: Sequence[float]) -> list[float]:
    """``F(x) = w I_x(a1, b1) + (1 - w) I_x(a2, b2)`` at each point of ``x``."""
    m, betainc = mixture, _betainc()
    points = np.clip(np.asarray(x, dtype=float), 0.0, 1.0)
    cdf = (m.w * betainc(m.alpha1, m.beta1, points)
           + (1.0 - m.w) * betainc(m.alpha2, m.beta2, points))
    return [float(v) for v in cdf]


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


@dataclass(frozen=True)
class RoundFit:
    """One round of the test: the counts, their fit, the distance to the round before."""

    round: int
    agents: int
    """``k``: the most answers read in any round by any question (the reference's: the
    largest bin of the table of all rounds), the same in every round."""
    counts: tuple[int, ...]
    """``counts[s]``: questions with ``s`` answers equal to the gold, ``s = 0..k``."""
    fit: MixtureFit
    ks: float | None
    """KS distance of this round's fitted Beta mixture to the previous round's."""
    majority_accuracy: float | None
    """Majority-vote accuracy of this round's answers (:func:`score_rounds`), a debate
    that ended before the round counted at its last round."""


@dataclass(frozen=True)
class AdaptiveStop:
    """Where Hu et al.'s stability test stops a finished run, and what that changes."""

    rounds: tuple[RoundFit, ...] = ()
    stop: int | None = None
    """The round whose distance made ``stability_rounds`` consecutive ones below
    ``threshold`` (the reference's ``break``); ``None``: it never stops early."""
    questions: int = 0
    """Finished debates with a gold answer and answer rounds: the data set tested."""
    without_gold: int = 0
    """Finished debates left out: no gold answer to count correct agents by (the
    reference counts them 0 correct; see :func:`adaptive_stop`)."""
    accuracy_at_stop: float | None = None
    """Majority-vote accuracy at ``stop`` (as in :attr:`RoundFit.majority_accuracy`)."""
    accuracy_last: float | None = None
    """Majority-vote accuracy at the last round (every debate at its last round)."""
    answer_calls: int = 0
    """Answer turns of the tested debates, every round."""
    calls_saved: int = 0
    """Answer turns in rounds after ``stop``: the calls stopping there would have saved."""
    threshold: float = KS_THRESHOLD
    stability_rounds: int = STABILITY_ROUNDS
    not_computed: str | None = None
    """Why the test could not be run on these debates (``None``: it was)."""


@dataclass(frozen=True)
class _Round:
    correct: int
    read: int
    answers: int
    vote_correct: bool | None


def _debate_rounds(trace: DebateTrace) -> dict[int, _Round]:
    return {s.round: _Round(sum(a.correct is True for a in s.answers),
                            sum(a.turn.answer is not None for a in s.answers),
                            len(s.answers), s.vote_correct) for s in score_rounds(trace)}


def _why_not(debates: list[dict[int, _Round]], rounds: list[int]) -> str | None:
    if not debates:
        return "no finished debate with a gold answer and answer rounds"
    if len(rounds) < 3:
        return (f"{len(rounds)} answer round(s); the test needs 3 (rounds 0..2): a distance "
                "between consecutive rounds, below the threshold twice in a row")
    if max(r.answers for d in debates for r in d.values()) < 2:
        return "one answer per round: the test counts the correct answers of several agents"
    return None


def adaptive_stop(traces: Iterable[DebateTrace], *, threshold: float = KS_THRESHOLD,
                  stability_rounds: int = STABILITY_ROUNDS,
                  restarts: int = FIT_RESTARTS, seed: int = FIT_SEED) -> AdaptiveStop:
    """Hu et al.'s stability test over the finished debates of a run, after the fact.

    Per round t (every round any debate reached): each debate with a gold answer
    counts its answers equal to the gold (a debate that ended earlier, e.g. at
    consensus, counts at its last round; an unparsed answer is not correct). ``k`` is
    the most answers read (parsed) in any round by any debate: the reference's loop takes
    the largest bin column of its table of all rounds (``fit_distribution_adaptive_stopping``
    :188 and :201), not the round's own; where rounds' most differ, its rows miss a bin
    (NaN) and ``int(frequency)`` raises, where here such a bin holds 0 questions.
    :func:`fit_mixture` fits the counts; ``ks`` is :func:`ks_statistic` to round t-1's
    fit; :func:`stop_round` gives the stop. Every round is fitted (the reference
    breaks at the stop), so the report shows each distance. Accuracy is the majority
    vote of :func:`debate.analysis.metrics.score_rounds`, with the same carrying
    forward: where no debate ended early it is the report's per-round "majority acc.".

    Deviation: a debate without a gold answer is left out (counted in ``without_gold``),
    where the reference counts a task whose label is missing as 0 correct
    (``correct_label is None`` gives ``correct_count = 0``). Its missing label is a failed
    join of its answer table; here a question without gold (an open task) is one whose
    correctness is unknown, and counting it "all agents wrong" in every round would add
    the same mass at 0 to every round's counts, shrinking the change between rounds'
    counts (a share p of such questions scales it by 1 - p) that the distance measures.
    Raises :class:`~debate.errors.MissingDependencyError` without scipy.
    """
    debates: list[dict[int, _Round]] = []
    without_gold = 0
    for trace in traces:
        if trace.question.gold is None:
            without_gold += 1
        elif rounds := _debate_rounds(trace):
            debates.append(rounds)
    numbers = sorted({r for d in debates for r in d})
    reason = _why_not(debates, numbers)
    if reason is not None:
        return AdaptiveStop(questions=len(debates), without_gold=without_gold,
                            threshold=threshold, stability_rounds=stability_rounds,
                            not_computed=reason)
    k = max(r.read for d in debates for r in d.values())
    fits: list[RoundFit] = []
    for number in numbers:
        used = [d[number] if number in d else d[max(d)] for d in debates]
        counts = [u.correct for u in used]
        fit = fit_mixture(counts, k, restarts=restarts, seed=seed)
        ks = ks_statistic(fit.mixture, fits[-1].fit.mixture) if fits else None
        votes = [u.vote_correct for u in used if u.vote_correct is not None]
        fits.append(RoundFit(number, k, tuple(counts.count(s) for s in range(k + 1)), fit, ks,
                             sum(votes) / len(votes) if votes else None))
    at = stop_round([f.ks for f in fits], threshold, stability_rounds)
    stop = None if at is None else fits[at].round
    return AdaptiveStop(
        rounds=tuple(fits), stop=stop, questions=len(debates), without_gold=without_gold,
        accuracy_at_stop=None if at is None else fits[at].majority_accuracy,
        accuracy_last=fits[-1].majority_accuracy,
        answer_calls=sum(r.answers for d in debates for r in d.values()),
        calls_saved=0 if stop is None else sum(r.answers for d in debates
                                               for n, r in d.items() if n > stop),
        threshold=threshold, stability_rounds=stability_rounds)


TITLE = "Adaptive stopping (Hu et al. 2025)"
"""The heading of the report's section."""


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _verdict(result: AdaptiveStop) -> str:
    """One sentence: the stop, the accuracy there and at the end, the calls saved."""
    if result.not_computed is not None:
        return f"not computed: {result.not_computed}"
    first, last = result.rounds[0].round, result.rounds[-1].round
    rule = (f"KS distance below {result.threshold:g} in {result.stability_rounds} "
            "consecutive rounds")
    if result.stop is None:
        return (f"no stop in rounds {first}..{last} (never {rule}); majority-vote accuracy "
                f"at round {last}: {_pct(result.accuracy_last)}")
    share = _pct(result.calls_saved / result.answer_calls if result.answer_calls else None)
    return (f"stops at round {result.stop} of {first}..{last} ({rule}): majority-vote "
            f"accuracy {_pct(result.accuracy_at_stop)} there, {_pct(result.accuracy_last)} "
            f"at round {last}; {result.calls_saved}/{result.answer_calls} answer calls "
            f"({share}) saved")


def summary_line(result: AdaptiveStop) -> str:
    """The test in one line, for the terminal summary."""
    return f"adaptive stopping (Hu et al. 2025): {_verdict(result)}"


def _mixture_text(m: Mixture) -> str:
    return (f"{m.w:.2f} Beta({m.alpha1:.3g}, {m.beta1:.3g}) + {1 - m.w:.2f} "
            f"Beta({m.alpha2:.3g}, {m.beta2:.3g})")


def markdown_section(result: AdaptiveStop) -> list[str]:
    """The report's section: the verdict, a row per round, what the test is."""
    verdict = _verdict(result)
    lines = ["", f"## {TITLE}", "", verdict[0].upper() + verdict[1:] + "."]
    if result.not_computed is None:
        lines += ["", "| round | k | questions with 0..k correct | KS to previous | "
                      "majority acc. | fitted Beta mixture |", "|---|---|---|---|---|---|"]
        lines += [f"| {f.round} | {f.agents} | {' / '.join(map(str, f.counts))} | "
                  f"{'-' if f.ks is None else f'{f.ks:.4f}'} | {_pct(f.majority_accuracy)} | "
                  f"{_mixture_text(f.fit.mixture)} |" for f in result.rounds]
    n = result.without_gold
    left_out = (f" {n} debate{'s' * (n != 1)} without a gold answer left out (the reference "
                "would count each as 0 correct)." if n else "")
    lines += ["", "Hu et al. (2025, arXiv 2510.12697; reference code tyrionhuu/Multi-LLM-Debate): "
              "per round, each question's count of answers equal to the gold answer (of k, "
              "the most answers read in any round; a debate that ended earlier counts at its "
              "last round) is fitted by a two-component Beta-Binomial mixture (maximum "
              "likelihood, L-BFGS-B, 2 starts from seed 42; the components in the reference's "
              "order); the distance is the "
              "Kolmogorov-Smirnov distance between consecutive rounds' fitted Beta mixtures "
              "on 1000 points of [0, 1]. It needs every question's gold answer, so it is "
              "computed over the finished run, not as a stop rule of a debate; the calls "
              "saved are the answer turns of the rounds after the stop. Unlike the reference, a "
              "question without a gold answer is left out, not counted as 0 correct: its "
              "correctness is unknown, and the same count of 0 in every round would shrink "
              "the change between rounds that the distance measures." + left_out]
    return lines
