"""Confidence-weighted vote with ReConcile's recalibration (Chen et al., 2023).

Stated confidences are poorly calibrated, so the reference maps a stated
confidence p to a weight: p <= 0.6 -> 0.1; 0.6 < p < 0.8 -> 0.3;
0.8 <= p < 0.9 -> 0.5; 0.9 <= p < 1.0 -> 0.8; p = 1.0 -> 1.0. Weights are
summed per answer; the first answer seen gets +1e-5 so ties resolve to it.
An answer without a readable confidence weighs as p <= 0.6 (0.1).
"""

from __future__ import annotations

from collections.abc import Sequence

from debate.agents.base import Agent
from debate.judges.base import Decision, Judge, JudgeConfig, judge
from debate.trace import FinalAnswer, Question, Turn

__all__ = ["ConfidenceWeightedConfig", "ConfidenceWeightedJudge", "recalibrate", "weighted_vote"]

FIRST_SEEN_BONUS = 1e-5


def recalibrate(confidence: float | None) -> float:
    """ReConcile's weight for a stated confidence in ``[0, 1]``."""
    if confidence is None or confidence <= 0.6:
        return 0.1
    if confidence < 0.8:
        return 0.3
    if confidence < 0.9:
        return 0.5
    if confidence < 1.0:
        return 0.8
    return 1.0


def weighted_vote(turns: Sequence[Turn], recalibrated: bool = True) -> FinalAnswer:
    """The answer with the largest summed (recalibrated) confidence."""
    weights: dict[str, float] = {}
    raw: list[tuple[str, str | None, float | None]] = []
    for turn in turns:
        raw.append((turn.agent, turn.answer, turn.confidence))
        if turn.answer is None:
            continue
        weight = recalibrate(turn.confidence) if recalibrated else (turn.confidence or 0.0)
        if not weights:
            weight += FIRST_SEEN_BONUS
        weights[turn.answer] = weights.get(turn.answer, 0.0) + weight
    details = {"confidences": [{"agent": a, "answer": ans, "confidence": c} for a, ans, c in raw],
               "recalibrated": recalibrated, "tie_bonus_first_answer": FIRST_SEEN_BONUS}
    if not weights:
        return FinalAnswer(answer=None, method="confidence-weighted", details=details)
    best = max(weights, key=lambda a: weights[a])
    return FinalAnswer(answer=best, method="confidence-weighted",
                       votes={a: round(w, 6) for a, w in weights.items()}, details=details)


class ConfidenceWeightedConfig(JudgeConfig):
    """Options of the ``confidence-weighted`` judge."""

    recalibrate: bool = True
    """Weigh each answer by ReConcile's recalibrated confidence (``False``: the stated one)."""


@judge("confidence-weighted")
class ConfidenceWeightedJudge(Judge[ConfidenceWeightedConfig]):
    """Sum of recalibrated stated confidences per answer (ReConcile)."""

    async def decide(self, question: Question, candidates: Sequence[Turn],
                     agent: Agent | None = None, round_: int = 0) -> Decision:
        """Weigh each parsed answer by its (recalibrated) confidence."""
        return Decision(weighted_vote(candidates, self.config.recalibrate))
