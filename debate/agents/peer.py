"""The agent of multi-agent peer review (Xu et al., 2023): solves, reviews, revises.

As in the reference's recorded transcripts, each agent keeps ONE chat:
after its solution it reviews the other agents one after another in that
chat (each review call continues the previous one), and the revise message
("here are the feedbacks for your solution", the reviews it received) is
appended to the same chat. So the reviser sees its own solution, the other
agents' solutions, its reviews of them and the reviews it received.
``view.memory = "branch"`` (compat) makes each review and the
revision branch off the solving chat instead: [problem, own solution, one
request]. The 1-10 confidence a reviewer writes stays inside the review text
the reviewed agent reads; it is also parsed into the review turn
(``confidence`` in [0, 1], :class:`PeerReview`'s ``confidence_1_10``) for analysis and
export.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, ClassVar

from debate.agents.base import Agent, Parsed, View, question_text, role
from debate.models.types import Message
from debate.scoring.fields import parse_confidence
from debate.trace import TurnKind
from debate.trace_extensions import TurnExtension

__all__ = ["PeerReview", "PeerReviewer", "review_confidence"]

_CONFIDENCE = re.compile(r"confidence[^0-9\n]{0,30}(\d+(?:\.\d+)?)\s*(?:/\s*10|out of 10)?",
                         re.IGNORECASE)


def review_confidence(text: str) -> float | None:
    """The reviewer's 1-10 confidence (last one stated), or ``None``."""
    found = _CONFIDENCE.findall(text)
    if not found:
        return None
    value = float(found[-1])
    return value if 1 <= value <= 10 else None


class PeerReview(TurnExtension):
    """Whose solution a review is of, and the reviewer's stated confidence (turn fields).

    Peer review gives each agent the reviews of its own solution.
    """

    stored_none: ClassVar[frozenset[str]] = frozenset({"confidence_1_10"})

    confidence_1_10: float | None = None
    """The 1-10 confidence the reviewer stated (``None``: none, or out of range; stored as
    ``null``)."""
    reviewed: str
    """The name of the agent whose solution was reviewed."""


_KINDS: dict[str, TurnKind] = {"solve": "answer", "review": "review", "revise": "revision"}


@role("peer")
class PeerReviewer(Agent):
    """One agent of peer review; ``view.step`` is solve, review or revise."""

    default_templates = {"solve": "peer_solve", "review": "peer_review",
                         "feedback": "peer_feedback", "revise": "peer_revise"}
    template_fields = {"solve": frozenset({"question", "format"}),
                       "review": frozenset({"solution"}),
                       "feedback": frozenset({"review", "reviewer"}),
                       "revise": frozenset({"reviews", "question", "format"})}

    def kind(self, view: View) -> TurnKind:
        """answer, review or revision."""
        return _KINDS[view.step or "solve"]

    def messages(self, view: View) -> list[Message]:
        """Solve; review the last of ``view.peers``; revise with the reviews among them.

        ``view.history`` is the agent's own turns so far (its chat); with
        ``memory="branch"`` only the solution is kept.
        """
        step = view.step or "solve"
        question = question_text(view.question)
        fmt = self.format_instruction(view.question)
        if step == "solve":
            return self.chat(view, self.render("solve", question=question, format=fmt))
        if view.memory == "branch":
            view = replace(view, history=view.history[:1])
        if step == "review":
            return self.chat(view, self.render("review", solution=view.peers[-1].raw))
        reviews = "\n\n".join(self.render("feedback", review=t.raw, reviewer=t.agent)
                              for t in view.peers if t.kind == "review")
        return self.chat(view, self.render("revise", reviews=reviews, question=question,
                                           format=fmt))

    def parse(self, text: str, view: View) -> Parsed:
        """Reviews: the 1-10 confidence; solutions: the answer."""
        if view.step == "review":
            score = review_confidence(text)
            fields: dict[str, Any] = {}
            PeerReview(confidence_1_10=score, reviewed=view.peers[-1].agent).write(fields)
            return Parsed(confidence=parse_confidence(score, scale=10), fields=fields)
        return super().parse(text, view)
