"""Ratings of debater models from judged cross-play debates: Bradley–Terry on the Elo scale.

Read from the traces of the oversight protocols through ``final.details["judgments"]``
(one judgment per order of a question: ``speakers``, ``correct_label``, ``p_correct``,
``decision``) and the agents' ``model``:

- a *match* is one judgment between two speakers of different models: the model
  seated at A against the model seated at B. The speaker the judge decided for wins;
  a read verdict without a decision (equal probabilities) is a tie, half a win to
  each; an unread verdict (``p_correct`` is ``None``) is dropped (counted as unread).
  A judgment between two speakers of the same model (self-play) says nothing about
  which model persuades better: dropped, counted as self-play. Consultancy and the
  blind judge have fewer than two speakers: no matches. A model is an agent's
  ``model`` string (two agents of one model with other prompts are self-play).
- rating: the Bradley–Terry model, P(i beats j) = g_i / (g_i + g_j), fitted by
  maximum likelihood with Hunter's MM algorithm (2004) after ``prior`` virtual wins
  are added each way to every pair of models that met (0.5, one virtual tie per
  pair: for two models the rating difference is then the Haldane–Anscombe log-odds
  of the win rate, finite when one model won every match; 0: the plain maximum
  likelihood). On the Elo scale, R_i = 1000 + 400 log10 g_i with the ratings' mean
  at 1000 (:data:`ELO_MEAN`): 400 points are 10:1 odds, P(i beats j) =
  1 / (1 + 10^((R_j - R_i) / 400)). Two models with w wins and l losses between
  them differ by 400 log10((w + prior) / (l + prior)).
- interval: the percentile bootstrap over questions (all the matches of a question,
  in every run, are drawn together), ``resamples`` draws from numpy's PCG64 seeded
  with ``seed`` (the same runs, given in the same order, and seed: the same
  intervals), each refitted and anchored alike; the 2.5th and 97.5th percentiles
  (``confidence`` 0.95). A draw in which the ratings do not exist (a model left out
  or cut off from the others) is skipped; ``resamples_used`` counts the rest.
- wins by side (the papers' persuasiveness split): each model's score in the rated
  matches in which it argued for the correct answer, and for the incorrect one.

The ratings do not exist when the models that met do not form one linked group
(every model reachable from every other through matches, and with ``prior`` 0
through wins both ways): then the rows keep their records and ``reason`` says why.
Matches are pooled over every run given, whoever judged (``judges`` names them). A
model seated at A in every order of a run shares the judge's position bias:
``seat_a`` is the score of the speaker seated at A.

How the papers rate: Khan et al. 2024 (ucl-dark/llm_debate, ``core/scoring/ratings.py``
and ``trueskill.py``) fit Elo ratings (400-point scale, started at 1500) to each
pairing's aggregate win rate by least squares (Nelder-Mead; every pairing weighs the
same whatever its number of matches), skip self-play, and give Elo no interval (their
uncertainty is TrueSkill's sigma); their split rates each model twice, as a player for
the correct answer and one for the incorrect. Arnesen et al. 2024 (nyu-debate-modeling,
``experiments/results_collector.py``) fit Bradley–Terry by maximum likelihood over
single debates (BFGS, natural-log scale, shown as exp). Here: the likelihood of every
match (as Arnesen et al.), on Khan et al.'s Elo scale, with a bootstrap interval. No
sequential Elo: its ratings depend on the order in which the matches are replayed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, Field, computed_field

from debate.analysis.oversight_metrics import OVERSIGHT_PROTOCOLS
from debate.settings import Settings
from debate.trace import DebateTrace

__all__ = ["ELO_MEAN", "ELO_SCALE", "NO_CROSS_PLAY", "RATING_DEFINITIONS", "Match",
           "RatingOptions", "RatingRow", "Ratings", "Record", "bradley_terry", "elo",
           "judged_matches", "rate", "rate_debaters"]

ELO_MEAN = 1000.0
"""The mean of the ratings (the anchor: Bradley–Terry fixes only their differences)."""
ELO_SCALE = 400.0
"""Rating points per factor of 10 in the odds of winning."""
TOLERANCE = 1e-10
"""The MM iteration stops when no log-strength moves more than this (1.7e-8 Elo points)."""
MAX_ITERATIONS = 10_000
"""The MM iteration stops here at the latest."""
NO_CROSS_PLAY = "no cross-play: ratings need two debater models"
NOT_LINKED = ("no ratings: the debater models do not all meet in one linked group of "
              "matches")
NOT_FINITE = ("no ratings: with prior 0 a model that won (or lost) every match against "
              "the others has no finite rating; use a prior above 0")

RATING_DEFINITIONS: dict[str, str] = {
    "match": "one judgment (one order of a question) between two speakers of different "
             "models; the speaker the judge decided for wins, a tie is half a win each; "
             "unread verdicts and self-play (one model on both seats) are left out",
    "rating": "Bradley–Terry maximum likelihood (with prior virtual wins each way per pair "
              "that met) on the Elo scale: 1000 + 400 log10(strength), mean 1000; 400 "
              "points are 10:1 odds of winning",
    "CI": "percentile bootstrap over questions (seeded): the ratings refitted on questions "
          "drawn with replacement; 95%: their 2.5th to 97.5th percentile",
    "matches": "rated matches the model played",
    "wins (tie ½)": "matches won, plus half the ties",
    "wins arguing correct / incorrect": "(wins + ties / 2) / matches, over the rated "
                                        "matches in which the model defended the correct "
                                        "/ the incorrect answer",
}


class RatingOptions(Settings):
    """How the ratings are fitted and their intervals drawn."""

    resamples: int = Field(default=1000, ge=0, le=10_000)
    """Bootstrap draws of the questions for the intervals (0: no interval)."""
    seed: int = Field(default=0, ge=0, le=2**32 - 1)
    """Seed of the bootstrap's generator: one seed, the same intervals."""
    confidence: float = Field(default=0.95, gt=0, lt=1)
    """Coverage of the percentile interval (0.95: the 2.5th to the 97.5th percentile)."""
    prior: float = Field(default=0.5, ge=0, le=100)
    """Virtual wins added each way to every pair of models that met (0: plain likelihood)."""


@dataclass(frozen=True, slots=True)
class Match:
    """One judged match between the models seated at A and at B."""

    question: str
    """The question's id (the bootstrap draws questions)."""
    a: str
    """The model of the speaker seated at A."""
    b: str
    """The model of the speaker seated at B."""
    score: float
    """A's score: 1 won, 0.5 tie, 0 lost."""
    correct: str
    """The label of the correct answer (``A`` or ``B``)."""


class Record(BaseModel):
    """Matches played, won and tied."""

    matches: int = 0
    wins: int = 0
    ties: int = 0

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented idiom
    @property
    def score(self) -> float | None:
        """``(wins + ties / 2) / matches``; ``None`` without matches."""
        return (self.wins + self.ties / 2) / self.matches if self.matches else None

    def add(self, score: float) -> None:
        """Count one match in which this side scored ``score`` (1, 0.5 or 0)."""
        self.matches += 1
        self.wins += score == 1
        self.ties += score == 0.5


class RatingRow(BaseModel):
    """One debater model."""

    model: str
    rating: float | None
    """On the Elo scale (``None``: the ratings do not exist, see ``Ratings.reason``)."""
    low: float | None = None
    """The interval's lower end (``None``: no bootstrap)."""
    high: float | None = None
    record: Record = Field(default_factory=Record)
    """All its rated matches."""
    correct: Record = Field(default_factory=Record)
    """Its rated matches defending the correct answer."""
    incorrect: Record = Field(default_factory=Record)
    """Its rated matches defending the incorrect answer."""


class Ratings(BaseModel):
    """Ratings of the debater models of oversight runs (see the module docstring)."""

    rows: list[RatingRow] = Field(default_factory=list)
    """One per model, the highest rating first."""
    judges: list[str] = Field(default_factory=list)
    """The judges' models over the judgments read."""
    questions: int = 0
    """Questions with a rated match (the bootstrap's units)."""
    matches: int = 0
    self_play: int = 0
    """Judgments between two speakers of one model (left out)."""
    unread: int = 0
    """Judgments between two models whose verdict could not be read (left out)."""
    solo: int = 0
    """Judgments with fewer than two speakers (consultancy, blind judge)."""
    seat_a: Record = Field(default_factory=Record)
    """The matches as the speaker seated at A scored them (the judge's position bias)."""
    options: RatingOptions = Field(default_factory=RatingOptions)
    resamples_used: int = 0
    """Bootstrap draws in which the ratings existed (the interval's draws)."""
    reason: str | None = None
    """Why there are no ratings (``None``: there are)."""
    seat_bound: list[str] = Field(default_factory=list)
    """Pairs of models that met with one of them always seated at A (``"X at A vs Y"``):
    their ratings hold the judge's position bias too. Swap the models' seats in a
    second run and compare both to cancel it (the references swap debaters)."""


@dataclass(slots=True)
class _Judged:
    matches: list[Match] = field(default_factory=list)
    judges: dict[str, None] = field(default_factory=dict)
    self_play: int = 0
    unread: int = 0
    solo: int = 0


def _judged(traces: Iterable[DebateTrace]) -> _Judged | None:
    out, seen = _Judged(), False
    for trace in traces:
        if trace.protocol not in OVERSIGHT_PROTOCOLS:
            continue
        seen = True
        models = {agent.name: agent.model for agent in trace.agents}
        for judgment in trace.final.details.get("judgments") or []:
            speakers = judgment.get("speakers") or {}
            if "A" not in speakers or "B" not in speakers:
                out.solo += 1
                continue
            a, b = (models.get(speakers[s], speakers[s]) for s in ("A", "B"))
            if a == b:
                out.self_play += 1
            elif judgment.get("p_correct") is None:
                out.unread += 1
            else:
                decision = judgment.get("decision")
                score = 1.0 if decision == "A" else 0.0 if decision == "B" else 0.5
                out.matches.append(Match(trace.question.id, a, b, score,
                                         judgment["correct_label"]))
                out.judges.setdefault(models.get("judge", "judge"))
    return out if seen else None


def judged_matches(traces: Iterable[DebateTrace]) -> list[Match]:
    """The rated matches of the oversight traces among ``traces`` (see the module docstring)."""
    judged = _judged(traces)
    return judged.matches if judged is not None else []


def _linked(edges: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Whether each (n, n) graph of ``edges`` (i -> j) leads from every node to every other."""
    n = edges.shape[-1]
    reach = (edges | np.eye(n, dtype=bool)).astype(np.int64)
    for _ in range(max(1, math.ceil(math.log2(n)))):  # paths up to 2^k steps long
        reach = ((reach @ reach) > 0).astype(np.int64)
    return np.asarray(reach.all(axis=(-2, -1)))


def bradley_terry(wins: NDArray[np.float64], prior: float = 0.5) -> NDArray[np.float64]:
    """Log-strengths (natural log, mean 0) from win matrices; ``nan`` where none exist.

    ``wins[..., i, j]``: the wins of model i over model j (a tie is half a win each).
    ``prior`` wins are added each way to every pair that met. The strengths exist when
    wins lead from every model to every other; then Hunter's MM update
    g_i <- W_i / sum_j n_ij / (g_i + g_j) (W_i: i's wins, n_ij: matches of i and j)
    climbs to the maximum of the likelihood.
    """
    w = np.asarray(wins, dtype=np.float64)
    played = w + np.swapaxes(w, -1, -2)
    w = w + prior * (played > 0)
    n = w + np.swapaxes(w, -1, -2)
    out = np.full(w.shape[:-1], np.nan)
    ok = _linked(w > 0)
    if not ok.any():
        return out
    w, n = w[ok], n[ok]
    total = w.sum(axis=-1)
    log_g = np.zeros(total.shape)
    for _ in range(MAX_ITERATIONS):
        g = np.exp(log_g)
        denominator = (n / (g[..., :, None] + g[..., None, :])).sum(axis=-1)
        new = np.log(total / denominator)
        new -= new.mean(axis=-1, keepdims=True)
        done = np.abs(new - log_g).max() < TOLERANCE
        log_g = new
        if done:
            break
    out[ok] = log_g
    return out


def elo(log_strengths: NDArray[np.float64]) -> NDArray[np.float64]:
    """Natural log-strengths (mean 0) on the Elo scale: ``1000 + 400 log10(g)``."""
    return np.asarray(ELO_MEAN + ELO_SCALE * log_strengths / math.log(10))


def _per_question(matches: Sequence[Match], models: list[str],
                  questions: list[str]) -> NDArray[np.float64]:
    """``w[q, i, j]``: model i's wins over model j in question q's matches."""
    index = {m: i for i, m in enumerate(models)}
    place = {q: i for i, q in enumerate(questions)}
    w = np.zeros((len(questions), len(models), len(models)))
    for m in matches:
        q, a, b = place[m.question], index[m.a], index[m.b]
        w[q, a, b] += m.score
        w[q, b, a] += 1 - m.score
    return w


def _bootstrap(per_question: NDArray[np.float64],
               options: RatingOptions) -> tuple[NDArray[np.float64], int] | None:
    """The percentiles (2, n) of the ratings refitted on draws of the questions."""
    rng = np.random.default_rng(options.seed)
    q = per_question.shape[0]
    fitted = []
    for start in range(0, options.resamples, 1000):  # bounded memory
        counts = rng.multinomial(q, np.full(q, 1 / q), size=min(1000, options.resamples - start))
        log_g = bradley_terry(np.einsum("bq,qij->bij", counts, per_question), options.prior)
        fitted.append(log_g[~np.isnan(log_g).any(axis=-1)])
    drawn = np.concatenate(fitted) if fitted else np.zeros((0, per_question.shape[1]))
    if not len(drawn):
        return None
    tail = 50 * (1 - options.confidence)
    return np.percentile(elo(drawn), [tail, 100 - tail], axis=0), len(drawn)


def rate(matches: Sequence[Match], options: RatingOptions | None = None) -> Ratings:
    """Ratings, intervals and records of the models in ``matches``."""
    options = options or RatingOptions()
    models = sorted({m.a for m in matches} | {m.b for m in matches})
    questions = list(dict.fromkeys(m.question for m in matches))
    records = {model: (Record(), Record(), Record()) for model in models}
    seat_a = Record()
    for m in matches:
        seat_a.add(m.score)
        for model, score, label in ((m.a, m.score, "A"), (m.b, 1 - m.score, "B")):
            whole, correct, incorrect = records[model]
            for record in (whole, correct if m.correct == label else incorrect):
                record.add(score)
    seated: dict[frozenset[str], set[tuple[str, str]]] = {}
    for m in matches:
        seated.setdefault(frozenset((m.a, m.b)), set()).add((m.a, m.b))
    bound = [f"{a} at A vs {b}" for ways in seated.values() if len(ways) == 1
             for a, b in ways]
    ratings = Ratings(questions=len(questions), matches=len(matches), seat_a=seat_a,
                      options=options, seat_bound=sorted(bound))
    if len(models) < 2:
        ratings.reason = NO_CROSS_PLAY
        return ratings
    per_question = _per_question(matches, models, questions)
    total = per_question.sum(axis=0)
    log_g = bradley_terry(total, options.prior)
    if np.isnan(log_g).any():
        met = _linked(total + total.T > 0)
        ratings.reason = NOT_FINITE if options.prior == 0 and met else NOT_LINKED
        points: list[float | None] = [None] * len(models)
        bounds: list[tuple[float | None, float | None]] = [(None, None)] * len(models)
    else:
        points = [float(r) for r in elo(log_g)]
        drawn = _bootstrap(per_question, options) if options.resamples else None
        bounds = [(None, None)] * len(models)
        if drawn is not None:
            interval, ratings.resamples_used = drawn
            bounds = [(float(lo), float(hi)) for lo, hi in interval.T]
    rows = [RatingRow(model=model, rating=point, low=low, high=high, record=whole,
                      correct=correct, incorrect=incorrect)
            for model, point, (low, high), (whole, correct, incorrect)
            in zip(models, points, bounds, records.values(), strict=True)]
    ratings.rows = sorted(rows, key=lambda r: (-(r.rating or 0.0), r.model))
    return ratings


def rate_debaters(traces: Iterable[DebateTrace],
                  options: RatingOptions | None = None) -> Ratings | None:
    """The debater ratings of the oversight traces in ``traces``; ``None`` without any."""
    judged = _judged(traces)
    if judged is None:
        return None
    ratings = rate(judged.matches, options)
    return ratings.model_copy(update={"judges": list(judged.judges),
                                      "self_play": judged.self_play,
                                      "unread": judged.unread, "solo": judged.solo})
