"""Majority vote over parsed answers, with a deterministic, recorded tie rule.

Unparseable answers (``None``) are dropped, never counted. Ties go to the
tied answer given first in agent order (the first agent's answer when all
differ), and the trace records that rule and the tied answers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from debate.agents.base import Agent
from debate.judges.base import Decision, Judge, judge
from debate.trace import FinalAnswer, Question, Turn

__all__ = ["TIE_RULE", "LastJudge", "MajorityJudge", "is_consensus", "majority_vote"]

TIE_RULE = "first in agent order among tied answers"


def majority_vote(turns: Sequence[Turn], method: str = "majority") -> FinalAnswer:
    """The most common parsed answer among ``turns`` (in agent order)."""
    answers = [t.answer for t in turns if t.answer is not None]
    if not answers:
        return FinalAnswer(answer=None, method=method,
                           details={"reason": "no parseable answer", "dropped": len(turns)})
    counts = Counter(answers)
    top = max(counts.values())
    tied = [a for a in counts if counts[a] == top]  # Counter keeps first-seen order
    details: dict[str, object] = {"dropped": len(turns) - len(answers)}
    tie_break = None
    if len(tied) > 1:
        tie_break = TIE_RULE
        details["tied"] = tied
    return FinalAnswer(answer=tied[0], method=method,
                       votes={a: float(n) for a, n in counts.items()},
                       tie_break=tie_break, details=details)


def is_consensus(turns: Sequence[Turn]) -> bool:
    """True when every turn has the same parseable answer."""
    answers = {t.answer for t in turns}
    return len(turns) > 0 and len(answers) == 1 and None not in answers


@judge("last")
class LastJudge(Judge):
    """The last candidate's answer (critique-refine: the final refinement)."""

    async def decide(self, question: Question, candidates: Sequence[Turn],
                     agent: Agent | None = None, round_: int = 0) -> Decision:
        """Take the last candidate."""
        if not candidates:
            return Decision(FinalAnswer(answer=None, method="last"))
        last = candidates[-1]
        return Decision(FinalAnswer(answer=last.answer, method="last",
                                    details={"turn": last.id, "candidates": len(candidates)}))


@judge("majority")
class MajorityJudge(Judge):
    """Majority vote; ties go to the first tied answer in agent order."""

    async def decide(self, question: Question, candidates: Sequence[Turn],
                     agent: Agent | None = None, round_: int = 0) -> Decision:
        """Count the parsed answers."""
        return Decision(majority_vote(candidates))
