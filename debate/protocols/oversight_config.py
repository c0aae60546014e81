"""Options of the oversight protocols (``debate-qa``, ``consultancy``, ``blind-judge``).

Defaults are Khan et al. 2024's; the protocols are in :mod:`debate.protocols.oversight`,
best-of-N in :mod:`debate.protocols.oversight_best_of`. An option of an earlier version
(:data:`RENAMED`) is an error naming what took its place.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from debate.agents.oversight import JudgeFormat
from debate.protocols.base import ProtocolConfig
from debate.protocols.oversight_best_of import BestOfOpponent

__all__ = ["RENAMED", "BlindJudgeConfig", "ConsultancyConfig", "DebateQaConfig",
           "OversightConfig", "SpeechConfig"]


RENAMED = {
    "judge_confidence": "renamed 'judge_format' (stated -> probabilities, logprobs -> logprobs; "
                        "the default, answer, is the reference's letter verdict)",
    "speech_samples": "replaced by 'best_of' (k speeches sampled, the one the judge rates "
                      "highest continues; the others are kept as samples)",
}
"""Options of earlier versions and what took their place (an old key is an error saying so)."""


class OversightConfig(ProtocolConfig):
    """Options every oversight protocol shares."""

    both_orders: bool = True
    """Run each question twice with the sides swapped (each answer defended from each seat)."""
    distractor_field: str = "distractor"
    """The dataset column with the wrong answer (else one of the other options is drawn)."""
    assignment_seed: int = Field(default=0, ge=0, le=2**63 - 1)
    """Seed of the per-question draw of which seat defends the correct answer first."""
    judge_format: JudgeFormat = "answer"
    """How the judge gives its verdict: ``answer`` (the reference's judge: it names A or B,
    probability 1 on that answer), ``probabilities`` (it states a probability for each
    answer) or ``logprobs`` (it answers A or B; the probabilities are the softmax of the two
    letters' log-probabilities at the answer token; the backend must return them)."""
    quote_match: Literal["reference", "strict"] = "reference"
    """How a quote is checked against the passage (:func:`check_quotes`): ``reference``, the
    reference's ``verify_strict`` (ASCII punctuation deleted, lowercased, a substring of
    the passage so normalised); ``strict``, punctuation made spaces and whole words."""

    @model_validator(mode="before")
    @classmethod
    def _refuse_renamed(cls, data: Any) -> Any:
        """An option of an earlier version is an error naming what took its place."""
        if isinstance(data, dict):
            for old, new in RENAMED.items():
                if old in data:
                    raise ValueError(f"{old}: unknown key; {new}")
        return data


class SpeechConfig(OversightConfig):
    """Options of the protocols in which speakers argue (debate, consultancy)."""

    rounds: int = Field(3, ge=1)
    """Speeches per speaker."""
    word_limit: int = Field(100, ge=1)
    """Words per speech, stated in the prompt (each speech's count is in its fields)."""
    cut_at_words: int | None = Field(None, ge=1)
    """Compat (the reference cuts at 150 words, 300 for consultants): what the opponent
    and the judge see of a longer speech ends after this many words, a quote the cut
    splits closed, then ``... <TRUNCATED>``; the trace keeps the whole reply. ``None``:
    shown whole."""
    interactive_judge: bool = False
    """The judge asks the speakers one question after every round but the last."""
    private_confidence: bool = False
    """After each round each speaker privately states its chance of winning (0-100)."""
    best_of: int = Field(1, ge=1, le=64)
    """Best-of-N: k > 1 speeches are sampled at every point, the preference judge rates
    each, the highest-rated continues and the others are kept as samples (see
    :mod:`debate.protocols.oversight_best_of`)."""
    best_of_judge: Literal["logprobs", "probabilities"] = "logprobs"
    """How the preference judge rates a candidate: ``logprobs`` (the reference's: "respond
    with only A or B", the rating is the probability of the candidate's letter from the
    answer token's log-probabilities) or ``probabilities`` (the judge states them; for
    backends without log-probabilities)."""
    best_of_opponent: BestOfOpponent = "dummy"
    """What the preference judge sees beside a candidate as the opponent's speech of the
    round: ``dummy`` (Khan et al.: the reference's stock line, always), ``spoken`` (the
    speech the speaker read this round, sequential moves; else the dummy), ``sampled``
    (Arnesen et al., ``opponent_n: 1``: the speech the speaker read, else one speech sampled
    from the opponent at this point), ``none`` (Arnesen et al., ``opponent_n: 0``: the
    candidate alone). Consultancy has no opponent: the candidate alone."""


class DebateQaConfig(SpeechConfig):
    """Options of ``debate-qa`` (defaults: Khan et al. 2024)."""

    moves: Literal["simultaneous", "sequential"] = "simultaneous"
    """``simultaneous``: within a round neither debater sees the other's speech;
    ``sequential`` (the reference's ``quality_seq``): round 1 as simultaneous, from round 2
    debater B reads A's speech of the round first. Every speech of every earlier round is
    shown to both."""


class ConsultancyConfig(SpeechConfig):
    """Options of ``consultancy`` (defaults: Khan et al. 2024)."""

    word_limit: int = Field(200, ge=1)
    """Words per speech, stated in the prompt (the reference asks consultants for 200)."""

    interactive_judge: bool = True
    """The judge questions the consultant after every round but the last."""


class BlindJudgeConfig(OversightConfig):
    """Options of ``blind-judge`` (none beyond the shared ones)."""
