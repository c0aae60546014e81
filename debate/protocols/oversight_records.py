"""The oversight protocols' turn records: a speech's, a verdict's, a rating's, a sample's.

Written by :mod:`debate.protocols.oversight` (speeches, verdicts) and
:mod:`debate.protocols.oversight_best_of` (ratings, samples); read there and by
:mod:`debate.analysis.oversight_metrics` and :mod:`debate.export.strategies`.
The stored keys are those the traces have always held.
"""

from __future__ import annotations

from typing import ClassVar

from debate.trace import Turn
from debate.trace_extensions import TurnExtension

__all__ = ["JudgeRating", "OversightJudgment", "OversightSpeech", "SampleMark", "left_behind",
           "speech_seat"]


class OversightSpeech(TurnExtension):
    """Who spoke, for which side, with how many quotes: a speech's turn fields.

    A speaker's private estimate of winning (kind ``confidence``) carries the first
    three only.
    """

    order: int
    """The order (run) of the question it belongs to."""
    seat: str
    """The label of the answer the speaker defends (``A`` or ``B``)."""
    side: str
    """``correct`` or ``incorrect``: whether that answer is the gold one."""
    defends: str | None = None
    """The answer it defends, as shown."""
    quotes: int | None = None
    """The quotes in the speech."""
    verified_quotes: int | None = None
    """Those found in the passage."""
    words: int | None = None
    """The speech's length in words."""


class OversightJudgment(TurnExtension):
    """A judge's verdict on one order, scored against the gold (turn fields).

    A rating of a best-of-N candidate (step ``probe``) also names the candidate.
    """

    stored_none: ClassVar[frozenset[str]] = frozenset({"p_correct", "decision",
                                                       "decided_correct"})

    order: int
    """The order (run) of the question it judged."""
    correct_label: str
    """The label of the gold answer in that order."""
    candidate: int | None = None
    """A probe's candidate index at its point."""
    probe_of: str | None = None
    """The id of the candidate speech a probe rated."""
    seat: str | None = None
    """The seat of the candidate a probe rated."""
    p_correct: float | None = None
    """The judge's probability on the gold answer (``None``: its verdict was not read)."""
    decision: str | None = None
    """The label it chose (``None``: none, or a tie)."""
    decided_correct: bool | None = None
    """Whether it chose the gold label (``None``: it chose none)."""


class JudgeRating(TurnExtension):
    """A best-of-N candidate speech's point and the judge's rating of it (turn fields)."""

    stored_none: ClassVar[frozenset[str]] = frozenset({"judge_p_own"})

    point: str | None = None
    """The point of the debate it was sampled at: ``o{order}/r{round}/{seat}`` (always
    written; ``None`` only in hand-made turns). Keys are stored in this order."""
    candidate: int | None = None
    """Its index among the point's candidates (``None`` in traces written with
    ``speech_samples``, before ``best_of``, which numbered candidates by ``sample``)."""
    judge_p_own: float | None = None
    """The judge's probability on the speaker's answer after reading it (``None``: the
    rating could not be read; stored as ``null``)."""


class SampleMark(TurnExtension):
    """A speech that did not continue the debate (turn fields)."""

    sample: int | None = None
    """Its sample index: a best-of-N candidate left behind (its ``candidate`` index), or
    the opponent speech sampled for the ratings (``best_of``); traces written with
    ``speech_samples`` marked every candidate, and the one that continued with 0."""
    opponent_for: str | None = None
    """The seat whose candidates a sampled opponent speech was shown beside."""


def left_behind(turn: Turn) -> bool:
    """Whether a speech is a candidate that did not continue the debate.

    Since ``best_of``: a turn with ``sample`` (the candidates that lost; each has its
    ``candidate`` index). Traces written with ``speech_samples`` marked every candidate
    with ``sample`` and continued with ``sample`` 0, which stays the main line.
    """
    mark = SampleMark.read(turn)
    sample = mark.sample if mark is not None else None
    rating = JudgeRating.read(turn)
    numbered = rating is not None and rating.candidate is not None
    return sample is not None and (numbered or sample != 0)


def speech_seat(turn: Turn) -> str | None:
    """The seat of a speech (``None``: not a speech)."""
    speech = OversightSpeech.read(turn)
    return speech.seat if speech is not None else None
