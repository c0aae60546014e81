"""What an oversight role is told for one action: :class:`OversightBrief` (the view's ``brief``).

Shared by the speakers (:mod:`debate.agents.oversight`) and the judge
(:mod:`debate.agents.oversight_judge`); both re-export from
:mod:`debate.agents.oversight`, where protocols import them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from debate.agents.base import View

__all__ = ["JudgeFormat", "OversightBrief", "Speech", "Step", "brief_of",
           "shown_ids", "transcript_text"]


Step = Literal["speak", "confidence", "ask", "decide", "probe"]

JudgeFormat = Literal["answer", "probabilities", "logprobs"]
"""How the judge gives a verdict: ``answer`` (the reference's judge: it reasons in
``<thinking>`` tags and ends with ``Answer: <A|B>``), ``probabilities`` (it states a
probability for each answer) or ``logprobs`` (the reference's *preference* judge: it
answers with one letter, read from that token's log-probabilities)."""


@dataclass(frozen=True, slots=True)
class Speech:
    """One entry of a transcript as it is shown: who spoke in which round, and what."""

    speaker: str
    """``Debater A``, ``Consultant``, ``Judge``..."""
    round: int
    text: str
    """For debaters' speeches, with quotes marked verified or unverified."""
    turn_id: str = ""
    """The id of the turn shown (the showing turn's ``saw`` lists it)."""


@dataclass(frozen=True, slots=True)
class OversightBrief:
    """What an oversight role needs for one action (the view's ``brief``)."""

    answers: tuple[str, str]
    """Answer A and answer B, as the debaters and the judge see them."""
    step: Step
    """``speak`` (a debater's speech), ``confidence`` (its private estimate of winning),
    ``ask`` (the judge's question to the debaters), ``decide`` (the judge's verdict),
    ``probe`` (the judge's verdict after one sampled speech, for preference data)."""
    seat: str | None = None
    """The label of the answer the acting debater or consultant defends."""
    transcript: tuple[Speech, ...] = ()
    """What was said so far (for a debater: since its last speech). A judge with no
    transcript is blind: its prompt mentions no speakers and no quotes."""
    rounds: int = 3
    """The number of rounds of the debate (shown to the speakers)."""
    word_limit: int = 150
    """Words per speech (shown to the speakers)."""
    opponent: bool = True
    """Whether the speaker has an opponent (debate) or argues alone (consultancy)."""
    sample: int = 0
    """Which of the candidate speeches sampled at this point (``best_of``) this is."""
    judge_format: JudgeFormat = "answer"
    """How the judge gives its verdict (:data:`JudgeFormat`)."""


def brief_of(view: View) -> OversightBrief:
    """The view's brief (an oversight role acting without one: ``ConfigError``)."""
    return view.brief_as(OversightBrief)


def shown_ids(view: View) -> list[str]:
    """The turns an oversight role's messages show: its brief's transcript."""
    brief = view.brief
    if not isinstance(brief, OversightBrief):
        return []
    return [s.turn_id for s in brief.transcript if s.turn_id]


def transcript_text(speeches: tuple[Speech, ...]) -> str:
    """The transcript as the roles read it: ``Speaker (round n):`` then the text."""
    return "\n\n".join(f"{s.speaker} (round {s.round + 1}):\n{s.text}" for s in speeches)
