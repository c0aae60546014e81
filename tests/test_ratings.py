"""Debater ratings (issue 28 §6) against numbers worked out by hand.

Bradley–Terry on the Elo scale: two models with w wins and l losses between them differ by
400 log10((w + prior) / (l + prior)) points around a mean of 1000; a round robin whose win
counts fit strengths exactly has those strengths as its maximum-likelihood estimate.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from debate.analysis.compare import ratings_table
from debate.analysis.ratings import (
    NO_CROSS_PLAY,
    NOT_FINITE,
    NOT_LINKED,
    RATING_DEFINITIONS,
    Match,
    RatingOptions,
    bradley_terry,
    elo,
    judged_matches,
    rate,
    rate_debaters,
)
from debate.cli import app
from debate.errors import ConfigError
from debate.experiment.runner import run_debate
from debate.settings import validated
from debate.testing import ScriptedModel
from debate.trace import AgentInfo, DebateTrace, FinalAnswer, Question

ALPHA, BETA, GAMMA = "scripted:alpha", "scripted:beta", "scripted:gamma"


def points(diff: float) -> tuple[float, float]:
    """Two models' ratings around the mean 1000, ``diff`` apart."""
    return 1000 + diff / 2, 1000 - diff / 2


def games(*results: tuple[str, str, float], question: str = "q") -> list[Match]:
    """Matches of one question: (model at A, model at B, A's score); correct answer A."""
    return [Match(question, a, b, score, "A") for a, b, score in results]


# -- the fit, by hand ------------------------------------------------------------------


def test_two_models_differ_by_the_log_odds_of_their_win_rate():
    # 3 wins to 1: plain likelihood, p = 3/4, 400 log10(3) = 190.85 points
    log_g = bradley_terry(np.array([[0.0, 3.0], [1.0, 0.0]]), prior=0)
    assert log_g[0] - log_g[1] == pytest.approx(math.log(3))
    assert elo(log_g) == pytest.approx(points(400 * math.log10(3)))
    assert elo(log_g) == pytest.approx([1095.4243, 904.5757], abs=1e-4)
    # the Elo scale's prediction is the win rate: 1 / (1 + 10^(-190.85 / 400)) = 3/4
    r = elo(log_g)
    assert 1 / (1 + 10 ** ((r[1] - r[0]) / 400)) == pytest.approx(0.75)
    # the default prior adds half a win each way: (3.5 / 1.5) -> 147.19 points
    assert elo(bradley_terry(np.array([[0.0, 3.0], [1.0, 0.0]]))) == pytest.approx(
        [1073.5954, 926.4046], abs=1e-4)


def test_a_three_model_round_robin_recovers_strengths_4_2_1():
    # alpha-beta 2:1 (2/3 = 4/6), alpha-gamma 4:1 (4/5), beta-gamma 2:1 (2/3): the
    # likelihood equations W_i = sum_j n_ij g_i / (g_i + g_j) hold for g = (4, 2, 1):
    # alpha 6 = 3*4/6 + 5*4/5, beta 3 = 3*2/6 + 3*2/3, gamma 2 = 5*1/5 + 3*1/3.
    # Ratings 1000 + 400 log10(g / 2): 1000 +- 400 log10(2) = 1120.41, 1000, 879.59
    wins = np.array([[0.0, 2.0, 4.0], [1.0, 0.0, 2.0], [1.0, 1.0, 0.0]])
    assert elo(bradley_terry(wins, prior=0)) == pytest.approx(
        [1120.4120, 1000.0, 879.5880], abs=1e-4)
    # the same from matches, one per question, each seated both ways
    matches = []
    for i, (winner, loser, n) in enumerate([(ALPHA, BETA, 2), (BETA, ALPHA, 1),
                                           (ALPHA, GAMMA, 4), (GAMMA, ALPHA, 1),
                                           (BETA, GAMMA, 2), (GAMMA, BETA, 1)]):
        for k in range(n):
            seated = (winner, loser, 1.0) if k % 2 == 0 else (loser, winner, 0.0)
            matches += games(seated, question=f"q{i}.{k}")
    ratings = rate(matches, RatingOptions(prior=0, resamples=0))
    assert [(r.model, round(r.rating or 0, 4)) for r in ratings.rows] == [
        (ALPHA, 1120.4120), (BETA, 1000.0), (GAMMA, 879.5880)]
    assert [(r.record.matches, r.record.wins) for r in ratings.rows] == [(8, 6), (6, 3), (8, 2)]
    assert ratings.rows[0].low is None and ratings.resamples_used == 0  # no bootstrap


def test_a_tie_is_half_a_win_to_each():
    # alpha wins 1, ties 2, loses 0: 2 wins to 1 -> 400 log10(2) = 120.41 points
    ratings = rate(games((ALPHA, BETA, 1.0), (ALPHA, BETA, 0.5), (BETA, ALPHA, 0.5)),
                   RatingOptions(prior=0, resamples=0))
    alpha, beta = ratings.rows
    assert (alpha.rating, beta.rating) == pytest.approx(points(400 * math.log10(2)))
    assert (alpha.record.wins, alpha.record.ties, alpha.record.score) == (1, 2, 2 / 3)
    assert (beta.record.wins, beta.record.ties, beta.record.score) == (0, 2, 1 / 3)
    # seat A: won once, tied twice -> 2 of 3; by side (correct is A): alpha defended the
    # correct answer twice (1 + 0.5) and the incorrect once (0.5)
    assert ratings.seat_a.score == pytest.approx(2 / 3)
    assert (alpha.correct.matches, alpha.correct.score) == (2, 0.75)
    assert (alpha.incorrect.matches, alpha.incorrect.score) == (1, 0.5)


def test_a_clean_sweep_needs_the_prior_and_separate_groups_have_no_common_scale():
    sweep = games(*[(ALPHA, BETA, 1.0)] * 3)
    plain = rate(sweep, RatingOptions(prior=0))
    assert plain.reason == NOT_FINITE and [r.rating for r in plain.rows] == [None, None]
    assert plain.rows[0].record.wins == 3  # the records stay
    # prior 0.5: 3.5 to 0.5 -> 400 log10(7) = 338.04 points
    smoothed = rate(sweep, RatingOptions(resamples=0))
    assert [r.rating for r in smoothed.rows] == pytest.approx(points(400 * math.log10(7)))
    apart = rate(games((ALPHA, BETA, 1.0), (GAMMA, "scripted:delta", 0.0)))
    assert apart.reason == NOT_LINKED and all(r.rating is None for r in apart.rows)
    assert rate([]).reason == NO_CROSS_PLAY


# -- the bootstrap ---------------------------------------------------------------------


def test_the_interval_is_the_percentiles_of_the_ratings_refitted_on_drawn_questions():
    # two questions: alpha wins q1, beta wins q2. A draw holds q1 twice (1/4 of draws),
    # once each (1/2) or q2 twice (1/4): alpha 400 log10(2.5 / 0.5) / 2 = +139.79, 0 or
    # -139.79. The 2.5th and 97.5th percentiles of 1000 draws are the extremes
    matches = games((ALPHA, BETA, 1.0), question="q1") + games((ALPHA, BETA, 0.0),
                                                                question="q2")
    ratings = rate(matches)
    alpha = next(r for r in ratings.rows if r.model == ALPHA)
    assert alpha.rating == pytest.approx(1000)
    assert (alpha.low, alpha.high) == pytest.approx((860.2060, 1139.7940), abs=1e-4)
    assert ratings.resamples_used == 1000 and ratings.questions == 2


def test_the_bootstrap_is_deterministic_for_a_seed():
    results = [(ALPHA, BETA, 1.0), (BETA, GAMMA, 0.5), (GAMMA, ALPHA, 0.0),
               (BETA, ALPHA, 1.0), (ALPHA, GAMMA, 1.0), (GAMMA, BETA, 1.0)]
    matches = [m for i in range(12) for m in games(results[i % 6], results[(i * 5 + 1) % 6],
                                                    question=f"q{i}")]
    once, again = rate(matches, RatingOptions(seed=7)), rate(matches, RatingOptions(seed=7))
    assert once == again
    bounds = [(r.low, r.high) for r in once.rows]
    assert bounds != [(r.low, r.high) for r in rate(matches, RatingOptions(seed=8)).rows]
    assert all(lo is not None and hi is not None and lo <= r.rating <= hi
               for r, (lo, hi) in zip(once.rows, bounds, strict=True))


def test_the_options_are_settings_with_ranges():
    with pytest.raises(ConfigError, match="resamples"):
        validated(RatingOptions, {"resamples": -1}, "x")
    with pytest.raises(ConfigError, match="did you mean 'seed'"):
        validated(RatingOptions, {"sed": 1}, "x")


# -- matches from traces ---------------------------------------------------------------


def judgment(order: int, correct: str, decision: str | None, read: bool = True,
             speakers: dict[str, str] | None = None) -> dict[str, object]:
    p = {"A": 1.0, "B": 0.0} if decision == "A" else {"A": 0.0, "B": 1.0} \
        if decision == "B" else {"A": 0.5, "B": 0.5}
    return {"order": order, "answers": {"A": "x", "B": "y"}, "correct_label": correct,
            "speakers": {"A": "debater-a", "B": "debater-b"} if speakers is None else speakers,
            "probabilities": p if read else None,
            "p_correct": p[correct] if read else None, "decision": decision}


def trace(qid: str, a: str, b: str, *judgments: dict[str, object],
          protocol: str = "debate-qa") -> DebateTrace:
    agents = [AgentInfo(name="debater-a", role="qa-debater", model=a),
              AgentInfo(name="debater-b", role="qa-debater", model=b),
              AgentInfo(name="judge", role="qa-judge", model="scripted:judge")]
    return DebateTrace(id=f"{a}-{b}-{qid}", protocol=protocol,
                       question=Question(id=qid, text="Who?", gold="x"), agents=agents,
                       turns=[], final=FinalAnswer(answer=None, method="judge",
                                                   details={"judgments": list(judgments)}),
                       stop_reason="max_rounds")


def test_matches_from_judgments_leave_out_self_play_unread_verdicts_and_single_speakers():
    traces = [
        trace("q1", ALPHA, BETA, judgment(0, "A", "A"), judgment(1, "B", None)),  # win, tie
        trace("q2", ALPHA, BETA, judgment(0, "A", None, read=False), judgment(1, "B", "A")),
        trace("q1", ALPHA, ALPHA, judgment(0, "A", "A"), judgment(1, "B", "B")),  # self-play
        trace("q3", ALPHA, BETA, judgment(0, "A", "A", speakers={"A": "consultant"}),
              protocol="consultancy"),
        trace("q4", ALPHA, BETA, judgment(0, "A", "A"), protocol="du"),  # not oversight
    ]
    matches = judged_matches(traces)
    assert [(m.question, m.a, m.b, m.score, m.correct) for m in matches] == [
        ("q1", ALPHA, BETA, 1.0, "A"), ("q1", ALPHA, BETA, 0.5, "B"),
        ("q2", ALPHA, BETA, 1.0, "B")]
    ratings = rate_debaters(traces, RatingOptions(resamples=0))
    assert ratings is not None
    assert (ratings.matches, ratings.self_play, ratings.unread, ratings.solo) == (3, 2, 1, 1)
    assert ratings.judges == ["scripted:judge"] and ratings.questions == 2
    # alpha 2.5 to 0.5, + 0.5 each: 3 to 1 -> 190.85 points
    assert [r.rating for r in ratings.rows] == pytest.approx(points(400 * math.log10(3)))
    assert rate_debaters([traces[-1]]) is None  # no oversight trace: no ratings at all


async def test_matches_from_a_real_debate_qa_run():
    """A judge that always decides for A (the reply reads in the probability format and
    the answer-line format): alpha, seated at A, wins all 4 matches of two
    questions (both orders): 4.5 to 0.5 -> 400 log10(9) = 381.70 points; every draw of the
    questions is the same, so the interval is the point."""
    def judge(messages, params):
        return '{"A": 0.8, "B": 0.2}\nAnswer: A'

    questions = [Question(id=f"q{i}", text=f"Who baked bread {i}?", task="exact", gold="mira",
                          gold_text="Mira", context="Mira baked the bread.",
                          metadata={"distractor": "Tomas"}) for i in (1, 2)]

    async def run(b_model: str) -> list[DebateTrace]:
        models = {"debater-a": ScriptedModel("I argue well.", name="alpha"),
                  "debater-b": ScriptedModel("I argue too.", name=b_model),
                  "judge": ScriptedModel(judge, name="judge")}
        return [await run_debate(q, protocol="debate-qa", models=models, rounds=1)
                for q in questions]

    ratings = rate_debaters(await run("beta"))
    assert ratings is not None and ratings.matches == 4 and ratings.reason is None
    alpha, beta = ratings.rows
    assert (alpha.model, alpha.record.wins, beta.record.wins) == (ALPHA, 4, 0)
    assert (alpha.rating, beta.rating) == pytest.approx(points(400 * math.log10(9)))
    assert (alpha.low, alpha.high) == pytest.approx((alpha.rating, alpha.rating))
    # alpha defended the correct answer in one order of each question and won both ways
    assert (alpha.correct.matches, alpha.correct.score) == (2, 1.0)
    assert (alpha.incorrect.matches, alpha.incorrect.score) == (2, 1.0)
    selfplay = rate_debaters(await run("alpha"))
    assert selfplay is not None
    assert (selfplay.reason, selfplay.self_play, selfplay.rows) == (NO_CROSS_PLAY, 4, [])


# -- debate compare --------------------------------------------------------------------


def write_run(folder, traces) -> str:
    folder.mkdir(parents=True)
    (folder / "traces.jsonl").write_text("".join(t.model_dump_json() + "\n" for t in traces))
    return str(folder)


def tournament(root) -> list[str]:
    """Four questions, each judged alike (order 0: correct A; order 1: correct B):
    ab (alpha at A): alpha wins order 0, order 1 a tie; q5's verdicts unreadable.
    ba (beta at A): alpha (at B) wins order 0, beta wins order 1.
    aa: alpha against itself (self-play)."""
    qs = ["q1", "q2", "q3", "q4"]
    ab = [trace(q, ALPHA, BETA, judgment(0, "A", "A"), judgment(1, "B", None)) for q in qs]
    ab.append(trace("q5", ALPHA, BETA, *(judgment(i, "AB"[i], None, read=False)
                                        for i in (0, 1))))
    ba = [trace(q, BETA, ALPHA, judgment(0, "A", "B"), judgment(1, "B", "A")) for q in qs]
    aa = [trace(q, ALPHA, ALPHA, judgment(0, "A", "A"), judgment(1, "B", "A")) for q in qs]
    return [write_run(root / name, runs) for name, runs in (("ab", ab), ("ba", ba),
                                                              ("aa", aa))]


# per question alpha scores 1 + 0.5 + 1 + 0 = 2.5 of 4, beta 1.5: over four questions 10 to
# 6, with the prior 10.5 to 6.5 -> 400 log10(10.5 / 6.5) = 83.31 points (1041.66, 958.34);
# every draw of the four alike questions gives the same. By side: alpha defended the correct
# answer in ab order 0 (won) and ba order 1 (lost): 50%; the incorrect in ab order 1 (tie)
# and ba order 0 (won): 75%. Beta: correct 0.5 / 2 = 25%, incorrect 1 / 2 = 50%. Seat A
# scored 1.5 per question in ab and 1 in ba: 10 / 16
ALPHA_RATING, BETA_RATING = points(400 * math.log10(10.5 / 6.5))


def test_compare_shows_the_ratings_of_a_tournament(tmp_path):
    runs = tournament(tmp_path)
    result = CliRunner().invoke(app, ["compare", *runs, "--plot", str(tmp_path / "c.svg")],
                                env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert max(map(len, result.output.splitlines())) <= 80
    text = result.output.split("debater ratings")[1].split("each run against")[0]
    flat = " ".join(text.split())
    assert "(Bradley–Terry, Elo scale; judge scripted:judge)" in flat
    assert "scripted:alpha 1042 16 10 50.0% 75.0% [1042–1042]" in flat
    assert "scripted:beta 958 16 6 25.0% 50.0% [958–958]" in flat
    assert ("16 matches on 4 questions (left out: 8 self-play, 2 unread); the speaker "
            "seated at A scored 62.5%") in flat
    assert "1000 of 1000 draws usable, seed 0; prior 0.5" in flat


def test_compare_json_holds_the_ratings(tmp_path):
    runs = tournament(tmp_path)
    result = CliRunner().invoke(app, ["compare", *runs, "--json", "--resamples", "50",
                                      "--seed", "3", "--plot", str(tmp_path / "c.svg")])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [r["name"] for r in data["runs"]] == ["ab", "ba", "aa"]
    assert [(p["run"], p["first"]) for p in data["paired"]] == [("ba", "ab"), ("aa", "ab")]
    ratings = data["ratings"]
    assert ratings["options"] == {"resamples": 50, "seed": 3, "confidence": 0.95,
                                  "prior": 0.5}
    assert (ratings["matches"], ratings["self_play"], ratings["unread"],
            ratings["resamples_used"]) == (16, 8, 2, 50)
    alpha, beta = ratings["rows"]
    assert (alpha["model"], alpha["rating"]) == (ALPHA, pytest.approx(ALPHA_RATING))
    assert (beta["model"], beta["rating"]) == (BETA, pytest.approx(BETA_RATING))
    assert alpha["record"] == {"matches": 16, "wins": 8, "ties": 4, "score": 0.625}
    assert ratings["seat_a"]["score"] == 0.625


def test_compare_without_cross_play_says_so(tmp_path):
    runs = tournament(tmp_path)
    result = CliRunner().invoke(app, ["compare", runs[2], runs[2], "--plot",
                                      str(tmp_path / "c.svg")])
    assert result.exit_code == 0, result.output
    assert NO_CROSS_PLAY in result.output and "debater ratings" not in result.output
    bad = CliRunner().invoke(app, ["compare", *runs, "--resamples", "-1"])
    assert bad.exit_code == 2 and "resamples" in bad.output


def test_every_column_of_the_ratings_table_is_defined():
    ratings = rate(games((ALPHA, BETA, 1.0), (BETA, ALPHA, 0.5)))
    headers = [" ".join(c.header.split()) for c in ratings_table(ratings).columns]
    assert headers == ["debater model", "rating [95% CI]", "matches", "wins (tie ½)",
                       "wins arguing correct", "wins arguing incorrect"]
    # each column's definition (the model's name needs none)
    keys = [["rating", "CI"], ["matches"], ["wins (tie ½)"],
            ["wins arguing correct / incorrect"], ["wins arguing correct / incorrect"]]
    assert all(key in RATING_DEFINITIONS for column in keys for key in column)
    assert "match" in RATING_DEFINITIONS  # what the counts count


def test_a_model_always_seated_at_a_is_flagged():
    """Found in review: with one model at A in every match, an always-A judge's position
    bias became a 'persuasiveness' gap with a zero-width interval, unflagged."""
    from debate.analysis.ratings import Match, rate

    bound = rate([Match(f"q{i}", "alpha", "beta", 1.0, "A") for i in range(4)])
    assert bound.seat_bound == ["alpha at A vs beta"]
    swapped = rate([Match("q0", "alpha", "beta", 1.0, "A"), Match("q1", "beta", "alpha", 1.0, "A")])
    assert swapped.seat_bound == []
