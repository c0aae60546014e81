"""Hu et al. (2025)'s stability test, on hand-worked numbers (debate.analysis.stability)."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
from rich.console import Console

from debate.analysis.metrics import summarize
from debate.analysis.report import markdown_report, print_summary, run_stability, write_report
from debate.analysis.stability import (
    FIT_RESTARTS,
    FIT_SEED,
    KS_THRESHOLD,
    STABILITY_ROUNDS,
    TITLE,
    Mixture,
    adaptive_stop,
    beta_binomial_logpmf,
    beta_mixture_cdf,
    fit_mixture,
    ks_statistic,
    markdown_section,
    mixture_log_likelihood,
    order_components,
    regularized_beta,
    stop_round,
    summary_line,
)
from debate.errors import MissingDependencyError
from debate.trace import AgentInfo, DebateTrace, FinalAnswer, Question, TraceWriter, Turn

UNIFORM = Mixture(0.5, 1.0, 1.0, 1.0, 1.0)


def test_the_defaults_are_the_reference_codes():
    """Before: no stability test. Now: KS below 0.05 in 2 consecutive rounds, as the reference;
    the fit starts twice from seed 42."""
    assert (KS_THRESHOLD, STABILITY_ROUNDS, FIT_RESTARTS, FIT_SEED) == (0.05, 2, 2, 42)


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


def test_the_fit_recovers_a_mixture_it_drew_the_counts_from():
    """Before: no fit. Now: 20,000 questions of k = 20 agents, drawn with seed 0 from
    0.3 BB(20, 20, 5) + 0.7 BB(20, 4, 16), give back w and both means.

    Tolerances are 4 standard errors. ``w``: sqrt(0.3 * 0.7 / 20000) = 0.00324, so 0.013
    (the components, means 0.8 and 0.2, barely overlap). A component's mean: the
    Beta-Binomial variance of S/k is m(1-m)(1 + (k-1)/(a+b+1))/k, 0.01385 for (20, 5) and
    0.01524 for (4, 16); over its 6,000 and 14,000 questions the standard errors are 0.00152
    and 0.00104, so 0.0061 and 0.0042. The maximum likelihood is at least the truth's.
    """
    rng = np.random.default_rng(0)
    n, k = 20_000, 20
    first = rng.random(n) < 0.3
    p = np.where(first, rng.beta(20.0, 5.0, n), rng.beta(4.0, 16.0, n))
    counts = rng.binomial(k, p).tolist()
    fit = fit_mixture(counts, k)
    m = fit.mixture
    assert m.w == pytest.approx(0.3, abs=0.013)
    assert m.alpha1 / (m.alpha1 + m.beta1) == pytest.approx(0.8, abs=0.0061)
    assert m.alpha2 / (m.alpha2 + m.beta2) == pytest.approx(0.2, abs=0.0042)
    truth = mixture_log_likelihood(Mixture(0.3, 20.0, 5.0, 4.0, 16.0), counts, k)
    assert fit.log_likelihood >= truth
    assert fit.log_likelihood == pytest.approx(mixture_log_likelihood(m, counts, k))
    assert fit_mixture(counts, k) == fit  # seeded: the same counts, the same fit


def test_the_fit_puts_the_component_with_the_higher_mean_first():
    """Before: no fit. Now: 80 questions 3 of 3 right, 20 none: component 1 is the right one.

    The likelihood's supremum puts all of component 1 at 3 and of component 2 at 0:
    80 log 0.8 + 20 log 0.2 = -50.040242. The fit comes within 1e-3 of it; as a function of
    w, ``80 log w + 20 log(1 - w)`` curves by -80/0.64 - 20/0.04 = -625 at 0.8, so a
    shortfall of 1e-3 leaves w within sqrt(2e-3 / 625) = 0.0018 of 0.8.
    """
    fit = fit_mixture([3] * 80 + [0] * 20, 3)
    m = fit.mixture
    assert m.alpha1 / (m.alpha1 + m.beta1) > m.alpha2 / (m.alpha2 + m.beta2)
    assert fit.log_likelihood == pytest.approx(80 * math.log(0.8) + 20 * math.log(0.2), abs=1e-3)
    assert m.w == pytest.approx(0.8, abs=0.0018)


def test_without_scipy_the_fit_names_the_extra_to_install(monkeypatch):
    """Before: no fit. Now: scipy missing raises MissingDependencyError naming the pip command."""
    monkeypatch.setitem(sys.modules, "scipy.optimize", None)  # `import` then fails
    with pytest.raises(MissingDependencyError, match=r'pip install "debatelab\[analysis\]"'):
        fit_mixture([0, 1, 2], 2)


def test_counts_outside_zero_to_k_are_refused_by_name():
    """Before: no fit. Now: 4 correct of 3 agents raises, naming the count and the range."""
    with pytest.raises(ValueError, match=r"count 4 is outside 0\.\.3"):
        fit_mixture([1, 4], 3)


def test_the_stop_is_the_round_that_completes_the_stable_run():
    """Before: none. Now: [None, 0.2, 0.01, 0.01, 0.01] stops at round 3 (not 2, where the
    first stable distance is seen, nor 4); with 3 rounds needed, at round 4."""
    ks = [None, 0.2, 0.01, 0.01, 0.01]
    assert stop_round(ks) == 3
    assert stop_round(ks, stability_rounds=3) == 4


def _debate(qid: str, rounds: list[list[str | None]], gold: str | None = "4") -> DebateTrace:
    """A du debate of three agents, each round's answers as given (None: unparsed)."""
    turns = [Turn(id=f"r{r}/agent-{i}/answer", round=r, agent=f"agent-{i}", role="debater",
                  messages=[], raw=a or "?", answer=a, model="scripted:x")
             for r, answers in enumerate(rounds) for i, a in enumerate(answers)]
    return DebateTrace(id=qid, protocol="du", question=Question(id=qid, text="2+2?",
                       task="numeric", gold=gold),
                       agents=[AgentInfo(name=f"agent-{i}", role="debater", model="scripted:x")
                               for i in range(3)],
                       turns=turns, final=FinalAnswer(answer=rounds[-1][0], method="majority"),
                       stop_reason="max_rounds")


RIGHT, WRONG = ["4", "4", "4"], ["5", "5", "5"]


def _run() -> list[DebateTrace]:
    """Rounds 0..4. q1: all wrong, then all right. q2: one right (the vote 5 is wrong), then two
    (the vote 4 is right). q3: all wrong, all right at round 1, where it stopped (consensus).
    q4: all wrong throughout. q5: no gold.

    Correct agents per question, round 0: 0, 1, 0, 0; rounds 1-4 (q3 carried): 3, 2, 3, 0.
    Majority vote: round 0 none right; rounds 1-4 q1, q2, q3 right: 3/4. Answer turns:
    15 + 15 + 6 + 15 = 51; round 4's: q1, q2, q4: 9.
    """
    return [_debate("q1", [WRONG] + [RIGHT] * 4),
            _debate("q2", [["5", "5", "4"]] + [["4", "4", "5"]] * 4),
            _debate("q3", [WRONG, RIGHT]),
            _debate("q4", [WRONG] * 5),
            _debate("q5", [RIGHT] * 5, gold=None)]


def test_a_run_that_stops_changing_stops_at_its_second_stable_round():
    """Before: no analysis of a run. Now: the hand-built run of :func:`_run`.

    Rounds 1-4 have the same counts, so the same (seeded) fit: KS 0 at rounds 2, 3, 4; the
    stop is round 3, the second stable one. Round 0's fit lies below 0.2 (no question above 1
    of 3 right); round 1's first component above 0.7 and its second at 0, so on [0.2, 0.7] the
    CDFs are 1 and 1 - w: KS is round 1's w, well above 0.05. Stopping at round 3 saves
    round 4's 9 answer calls of 51, at the same majority-vote accuracy, 3/4.
    """
    result = adaptive_stop(_run())
    assert [f.round for f in result.rounds] == [0, 1, 2, 3, 4]
    assert [f.agents for f in result.rounds] == [3] * 5
    assert result.rounds[0].counts == (3, 1, 0, 0)
    assert {f.counts for f in result.rounds[1:]} == {(1, 0, 1, 2)}
    ks = [f.ks for f in result.rounds]
    assert ks[0] is None and ks[2:] == [0.0, 0.0, 0.0]
    assert ks[1] == pytest.approx(result.rounds[1].fit.mixture.w, abs=1e-9)
    assert ks[1] > 0.05
    assert result.stop == 3
    assert [f.majority_accuracy for f in result.rounds] == [0.0, 0.75, 0.75, 0.75, 0.75]
    assert (result.accuracy_at_stop, result.accuracy_last) == (0.75, 0.75)
    assert (result.calls_saved, result.answer_calls) == (9, 51)
    assert (result.questions, result.without_gold, result.not_computed) == (4, 1, None)


def test_without_gold_or_three_rounds_or_two_agents_it_says_why():
    """Before: none. Now: no gold, 2 rounds, or one answer per round: not computed, and why."""
    no_gold = adaptive_stop([_debate("q1", [RIGHT] * 3, gold=None)])
    assert no_gold.not_computed == "no finished debate with a gold answer and answer rounds"
    assert no_gold.without_gold == 1
    two = adaptive_stop([_debate("q1", [RIGHT] * 2)])
    assert two.not_computed is not None and two.not_computed.startswith("2 answer round(s)")
    alone = adaptive_stop([_debate("q1", [["4"]] * 3)])
    assert alone.not_computed is not None and alone.not_computed.startswith("one answer")


def test_the_report_section_states_the_stop_and_each_round():
    """Before: no section. Now: the verdict, a row per round (KS, accuracy), what the test is."""
    lines = markdown_section(adaptive_stop(_run()))
    assert lines[1] == f"## {TITLE}"
    assert lines[3] == ("Stops at round 3 of 0..4 (KS distance below 0.05 in 2 consecutive "
                        "rounds): majority-vote accuracy 75.0% there, 75.0% at round 4; 9/51 "
                        "answer calls (17.6%) saved.")
    assert lines[7].startswith("| 0 | 3 | 3 / 1 / 0 / 0 | - | 0.0% | ")
    assert lines[9].startswith("| 2 | 3 | 1 / 0 / 1 / 2 | 0.0000 | 75.0% | ")
    assert lines[-1].endswith("1 debate without a gold answer left out (the reference would "
                              "count each as 0 correct).")
    assert "Unlike the reference, a question without a gold answer is left out" in lines[-1]
    assert summary_line(adaptive_stop(_run())).startswith(
        "adaptive stopping (Hu et al. 2025): stops at round 3 of 0..4")


def test_the_run_report_and_terminal_summary_carry_the_section(tmp_path):
    """Before: none. Now: report.md of a run folder has the section; the terminal summary its
    line; a report without a run folder (or a computed result) has none."""
    traces = _run()
    with TraceWriter(tmp_path / "traces.jsonl") as writer:
        for trace in traces:
            writer.write(trace)
    summary = summarize(traces).model_copy(update={"run": str(tmp_path)})
    write_report(tmp_path, summary)
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert f"## {TITLE}\n\nStops at round 3 of 0..4" in report
    console = Console(record=True, width=300)
    print_summary(summary, console)
    assert "adaptive stopping (Hu et al. 2025): stops at round 3 of 0..4" in console.export_text()
    assert TITLE not in markdown_report(summarize(traces))


def test_a_report_says_why_it_was_not_computed(tmp_path, monkeypatch):
    """Before: none. Now: a run of 2 rounds says so from its summary; without scipy the
    section gives the pip command."""
    short = [_debate("q1", [RIGHT] * 2)]
    (tmp_path / "traces.jsonl").write_text("", encoding="utf-8")
    result = run_stability(tmp_path, summarize(short))
    assert result is not None
    assert markdown_section(result)[3] == ("Not computed: 2 answer round(s); the test needs 3 "
                                           "(rounds 0..2).")
    with TraceWriter(tmp_path / "traces.jsonl") as writer:
        for trace in _run():
            writer.write(trace)
    monkeypatch.setitem(sys.modules, "scipy.optimize", None)
    result = run_stability(tmp_path, summarize(_run()))
    assert result is not None
    assert markdown_section(result)[3] == ('Not computed: the Beta-Binomial fit of Hu et al. '
                                           '(2025) needs scipy: pip install "debatelab[analysis]".')


# ensure_consistent_component_ordering (pmf.py:120-190), both steps; fit_mixture_direct's numbers


def test_the_lower_mean_component_goes_second_and_its_weight_with_it():
    """Before: step 1 only. Now still: Beta(1, 3) (mean 1/4) before Beta(3, 1) (3/4) at w = 0.3
    swaps to 0.7 Beta(3, 1) + 0.3 Beta(1, 3); step 2 leaves them (a1 > b1, a2 < b2)."""
    m = order_components(0.3, 1.0, 3.0, 3.0, 1.0)
    assert (m.w, m.alpha1, m.beta1, m.alpha2, m.beta2) == pytest.approx((0.7, 3.0, 1.0, 1.0, 3.0))


def test_a_first_component_with_nearly_equal_shapes_is_rescaled_past_one_half():
    """Before: left out. Now: component 1 Beta(1, 1.01) has a1 < b1; scale = 1.01, candidate
    (1.01 * 1.01, 1) = (1.0201, 1); means 1/2.01 = 0.497512 and 1.0201/2.0201 = 0.504975 differ
    by 0.00746 < 0.01, so it is taken. Beta(1, 1.02): (1.0404, 1), means 0.495050 and 0.509902
    differ by 0.01485: kept."""
    m = order_components(0.5, 1.0, 1.01, 1.0, 3.0)
    assert (m.alpha1, m.beta1) == pytest.approx((1.0201, 1.0), abs=1e-15)
    assert (m.w, m.alpha2, m.beta2) == (0.5, 1.0, 3.0)
    kept = order_components(0.5, 1.0, 1.02, 1.0, 3.0)
    assert (kept.alpha1, kept.beta1) == (1.0, 1.02)


def test_a_second_component_with_nearly_equal_shapes_is_rescaled_below_one_half():
    """Before: left out. Now: component 2 Beta(1.01, 1) has a2 > b2; scale = 1.01, candidate
    (1, 1.01 * 1.01) = (1, 1.0201); means 1.01/2.01 = 0.502488 and 1/2.0201 = 0.495025: taken."""
    m = order_components(0.5, 3.0, 1.0, 1.01, 1.0)
    assert (m.alpha2, m.beta2) == pytest.approx((1.0, 1.0201), abs=1e-15)
    assert (m.w, m.alpha1, m.beta1) == (0.5, 3.0, 1.0)
    assert order_components(m.w, m.alpha1, m.beta1, m.alpha2, m.beta2) == m  # the loop's 2nd call


def test_the_rescaling_moves_the_ks_distance():
    """Before: left out as if harmless. Now: it changes the distribution, so the distance.

    0.5 Beta(1, 1.01) + 0.5 Beta(1, 3) against its rescaled 0.5 Beta(1.0201, 1) + 0.5 Beta(1, 3):
    the CDFs differ by 0.5 |(1 - (1-x)^1.01) - x^1.0201|, in closed form on the reference's grid.
    """
    before = Mixture(0.5, 1.0, 1.01, 1.0, 3.0)
    after = order_components(before.w, before.alpha1, before.beta1, before.alpha2, before.beta2)
    x = np.linspace(0.0, 1.0, 1000)
    expected = float(np.max(0.5 * np.abs((1 - (1 - x) ** 1.01) - x ** 1.0201)))
    assert ks_statistic(before, after) == pytest.approx(expected, abs=1e-12)
    assert expected > 0.005


# fit_mixture_direct (pmf.py@2ac20ab, its source run as is, n_restarts=2, under numpy 2.4.6
# and scipy 1.17.1): w, a1, b1, a2, b2 and the log-likelihood it returned, to the last digit.
REFERENCE_FITS = [
    (3, [0, 1, 1, 2, 3, 3, 3, 2, 0, 3],
     (0.4735972200276657, 3.7688444297462365, 0.4786027673746292, 1.3881997632559921,
      2.6767912247993566), -13.321790402177854),
    # step 2 fires: the optimum's component 1 is Beta(4.000015474655661, 4.000033835381917)
    (3, [3, 1, 1, 2, 2, 0],
     (0.999999999, 4.000052196192451, 4.000015474655661, 1.9875327799409344,
      2.7124035226493475), -7.977968093170149),
    # step 2 fires on component 2: the optimum's is Beta(336.6915841980912, 332.4146511764186)
    (3, [3, 1, 1, 2, 1, 3, 1, 2, 1, 3],
     (0.1972727977601675, 280.1199607266311, 1e-09, 332.4146511764186, 341.0235453480582),
     -12.045884547920268),
]


def test_on_a_fitted_mixture_the_rescaling_moves_the_distance_past_the_threshold():
    """Before: left out. Now: the third reference set's component 2, Beta(336.69, 332.41) (mean
    0.50320, sd 0.019) becomes Beta(332.41, 341.02) (mean 0.49361): with weight 0.80 the CDFs
    of the mixture with and without step 2 differ by 0.158, three times the threshold.
    Step 2 fired on 65 of 4,000 random count sets (k 2-4, 4-11 tasks) run through the reference."""
    w, a1, b1, a2, b2 = REFERENCE_FITS[2][2]
    unscaled = Mixture(w, a1, b1, 336.6915841980912, 332.4146511764186)
    assert order_components(w, a1, b1, 336.6915841980912, 332.4146511764186) == \
        Mixture(w, a1, b1, a2, b2)
    assert ks_statistic(unscaled, Mixture(w, a1, b1, a2, b2)) > 3 * KS_THRESHOLD


@pytest.mark.parametrize(("k", "counts", "params", "log_likelihood"), REFERENCE_FITS)
def test_the_fit_is_the_reference_codes_to_1e_9(k, counts, params, log_likelihood):
    """Before: claimed bit-identical, untested; without step 2 the second set's component 1
    was (4.000015474655661, 4.000033835381917). Now: both sets' five numbers and likelihood
    within 1e-9 of what ``fit_mixture_direct`` returned on them."""
    fit = fit_mixture(counts, k)
    m = fit.mixture
    assert (m.w, m.alpha1, m.beta1, m.alpha2, m.beta2) == pytest.approx(params, abs=1e-9, rel=0)
    assert fit.log_likelihood == pytest.approx(log_likelihood, abs=1e-9, rel=0)


def test_k_is_the_most_answers_read_in_any_round():
    """Before: each round's own k. Now: the reference's, the largest bin of all rounds.

    Round 0: q1 reads 2 answers (one unparsed), both right; q2 reads 2, none right: its own
    k would be 2. Rounds 1-2 read 3. Every round is fitted with k = 3, round 0's counts
    0..3 are (1, 0, 1, 0)."""
    run = [_debate("q1", [["4", "4", None]] + [RIGHT] * 2),
           _debate("q2", [["5", None, "5"]] + [WRONG] * 2)]
    result = adaptive_stop(run)
    assert [f.agents for f in result.rounds] == [3, 3, 3]
    assert [f.counts for f in result.rounds] == [(1, 0, 1, 0), (1, 0, 0, 1), (1, 0, 0, 1)]


def test_the_terminal_summary_reads_the_callers_traces_once(tmp_path, monkeypatch):
    """Before: print_summary read traces.jsonl again and refitted. Now: with the caller's
    traces it reads them once (the file is not opened again); with ``stability`` (what
    write_report returns) it does not fit at all."""
    import debate.analysis.report as report
    import debate.analysis.stability as stability

    traces = _run()
    with TraceWriter(tmp_path / "traces.jsonl") as writer:
        for trace in traces:
            writer.write(trace)
    summary = summarize(traces).model_copy(update={"run": str(tmp_path)})
    computed = write_report(tmp_path, summary)
    assert computed is not None and computed.stop == 3

    def no_read(path):
        raise AssertionError(f"read {path} again")

    monkeypatch.setattr(report, "read_traces", no_read)
    console = Console(record=True, width=300)
    print_summary(summary, console, iter(traces), limit=2)
    text = console.export_text()
    assert "stops at round 3 of 0..4" in text
    assert "... and 3 more debates" in text  # the table still shows the first 2

    def no_fit(*args, **kwargs):
        raise AssertionError("fitted again")

    monkeypatch.setattr(stability, "adaptive_stop", no_fit)
    console = Console(record=True, width=300)
    print_summary(summary, console, stability=computed)
    assert "stops at round 3 of 0..4" in console.export_text()
