"""The agent of multi-agent peer review (Xu et al., 2023): solves, reviews, revises.

All three steps branch off the agent's own solving chat: a review is
[problem, own solution, "review this other solution"], a revision is
[problem, own solution, "here is the feedback on your solution"]. The 1-10
confidence a reviewer writes stays inside the review text the reviewed agent
reads; it is also parsed into the review turn (``confidence`` in [0, 1],
``fields["confidence_1_10"]``) for analysis and export.
"""

from __future__ import annotations

import re
from typing import Any

from debate.agents.base import Agent, View, question_text, role
from debate.models.types import Message
from debate.parsing import parse_confidence
from debate.trace import TurnKind

__all__ = ["PeerReviewer", "review_confidence"]

_CONFIDENCE = re.compile(r"confidence[^0-9\n]{0,30}(\d+(?:\.\d+)?)\s*(?:/\s*10|out of 10)?",
                         re.IGNORECASE)


def review_confidence(text: str) -> float | None:
    """The reviewer's 1-10 confidence (last one stated), or ``None``."""
    found = _CONFIDENCE.findall(text)
    if not found:
        return None
    value = float(found[-1])
    return value if 1 <= value <= 10 else None


_KINDS: dict[str, TurnKind] = {"solve": "answer", "review": "review", "revise": "revision"}


@role("peer")
class PeerReviewer(Agent):
    """One agent of peer review; ``view.extra["step"]`` is solve, review or revise."""

    default_templates = {"solve": "peer_solve", "review": "peer_review",
                         "feedback": "peer_feedback", "revise": "peer_revise"}
    slot_fields = {"solve": frozenset({"question", "format"}), "review": frozenset({"solution"}),
                   "feedback": frozenset({"review", "reviewer"}),
                   "revise": frozenset({"reviews", "format"})}

    def kind(self, view: View) -> TurnKind:
        """answer, review or revision."""
        return _KINDS[view.extra.get("step", "solve")]

    def messages(self, view: View) -> list[Message]:
        """Each step branches off the agent's solving chat (``view.history[0]``)."""
        step = view.extra.get("step", "solve")
        fmt = self.format_instruction(view.question)
        if step == "solve":
            return self.chat(view, self.render("solve", question=question_text(view.question),
                                               format=fmt))
        solved = View(view.question, view.round, history=view.history[:1])
        if step == "review":
            return self.chat(solved, self.render("review", solution=view.peers[0].raw))
        reviews = "\n\n".join(self.render("feedback", review=t.raw, reviewer=t.agent)
                              for t in view.peers)
        return self.chat(solved, self.render("revise", reviews=reviews, format=fmt))

    def parse(self, text: str, view: View) -> tuple[str | None, float | None, dict[str, Any]]:
        """Reviews: the 1-10 confidence; solutions: the answer."""
        if view.extra.get("step") == "review":
            score = review_confidence(text)
            target = view.peers[0].agent
            return None, parse_confidence(score, scale=10), {"confidence_1_10": score,
                                                             "reviewed": target}
        return super().parse(text, view)
