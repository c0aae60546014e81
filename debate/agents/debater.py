"""The debater of Du et al. (2023): answers, then updates its answer given its peers'.

Memory is a growing chat: a round-r prompt is the agent's round r-1 prompt,
its own round r-1 reply as an assistant message, and one new user message
with the other agents' round r-1 replies. The prefix of every call is the
previous call, byte for byte, so servers with prefix caching reuse it.
"""

from __future__ import annotations

from collections.abc import Sequence

from debate.agents.base import Agent, View, question_text, role
from debate.models.types import Message
from debate.trace import Turn, TurnKind

__all__ = ["Debater", "majority_answer"]


@role("debater")
class Debater(Agent):
    """Answers alone in round 0; in later rounds reads its peers' previous answers.

    ``view.extra`` may carry ``step="summarize"`` (summarise the peers' answers
    instead of answering), ``summary`` (show that summary instead of the peers),
    ``confidences`` (agent -> 1-10, shown next to each peer: DebUnc) or
    ``memory="rebuild"`` (a fresh Reflect-Critique-Refine prompt each round: DTE).
    """

    default_templates = {
        "initial": "solve",
        "debate": "du_debate",
        "peer": "du_peer",
        "alone": "du_alone",
        "summarize": "du_summarize",
        "debate_summary": "du_debate_summary",
        "debate_confidence": "du_debate_confidence",
        "peer_confidence": "du_peer_confidence",
        "rcr": "rcr",
    }
    slot_fields = {
        "initial": frozenset({"question", "format"}),
        "debate": frozenset({"peers", "question", "format", "majority"}),
        "peer": frozenset({"agent", "answer"}),
        "alone": frozenset({"question", "format"}),
        "summarize": frozenset({"peers"}),
        "debate_summary": frozenset({"summary", "question", "format"}),
        "debate_confidence": frozenset({"peers", "question", "format"}),
        "peer_confidence": frozenset({"agent", "answer", "confidence"}),
        "rcr": frozenset({"question", "own", "peers", "format", "majority"}),
    }

    def kind(self, view: View) -> TurnKind:
        """``summary`` for the summarising step, else ``answer``."""
        return "summary" if view.extra.get("step") == "summarize" else "answer"

    def _peers(self, view: View) -> str:
        confidences = view.extra.get("confidences")
        if confidences:
            return "\n\n".join(self.render("peer_confidence", agent=p.agent, answer=p.raw,
                                             confidence=confidences[p.agent])
                                 for p in view.peers)
        return "\n\n".join(self.render("peer", agent=p.agent, answer=p.raw) for p in view.peers)

    def messages(self, view: View) -> list[Message]:
        """Round 0: the question. Later: own history + one message with the peers' answers."""
        question = question_text(view.question)
        fmt = self.format_instruction(view.question)
        if view.extra.get("step") == "summarize":
            prompt = self.render("summarize", peers=self._peers(view))
            return [*self.system(), Message(role="user", content=prompt)]
        if not view.history:
            return self.chat(view, self.render("initial", question=question, format=fmt))
        if view.extra.get("memory") == "rebuild":
            majority = self._majority("rcr", view)
            prompt = self.render("rcr", question=question, own=view.history[-1].raw,
                                 peers=self._peers(view), format=fmt, majority=majority)
            return [*self.system(), Message(role="user", content=prompt)]
        if not view.peers:
            return self.chat(view, self.render("alone", question=question, format=fmt))
        if "summary" in view.extra:
            return self.chat(view, self.render("debate_summary", summary=view.extra["summary"],
                                               question=question, format=fmt))
        if view.extra.get("confidences"):
            return self.chat(view, self.render("debate_confidence", peers=self._peers(view),
                                               question=question, format=fmt))
        return self.chat(view, self.render("debate", peers=self._peers(view), question=question,
                                           format=fmt, majority=self._majority("debate", view)))

    def _majority(self, slot: str, view: View) -> str:
        """The peers' majority answer, when the slot's template shows it."""
        return majority_answer(view.peers) if "majority" in self.templates[slot].fields else ""


def majority_answer(turns: Sequence[Turn]) -> str:
    """The most common parsed answer among ``turns`` (first in order on ties), or ``unknown``."""
    counts: dict[str, int] = {}
    for turn in turns:
        if turn.answer is not None:
            counts[turn.answer] = counts.get(turn.answer, 0) + 1
    return max(counts, key=counts.__getitem__) if counts else "unknown"
