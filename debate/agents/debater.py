"""The debater of Du et al. (2023): answers, then updates its answer given its peers'.

Memory is a growing chat: a round-r prompt is the agent's round r-1 prompt,
its own round r-1 reply as an assistant message, and one new user message
with the other agents' round r-1 replies. The prefix of every call is the
previous call, byte for byte, so servers with prefix caching reuse it.
"""

from __future__ import annotations

from debate.agents.base import Agent, View, question_text, role
from debate.models.types import Message

__all__ = ["Debater"]


@role("debater")
class Debater(Agent):
    """Answers alone in round 0; in later rounds reads its peers' previous answers."""

    default_templates = {
        "initial": "solve",
        "debate": "du_debate",
        "peer": "du_peer",
        "alone": "du_alone",
    }
    slot_fields = {
        "initial": frozenset({"question", "format"}),
        "debate": frozenset({"peers", "question", "format"}),
        "peer": frozenset({"agent", "answer"}),
        "alone": frozenset({"question", "format"}),
    }

    def messages(self, view: View) -> list[Message]:
        """Round 0: the question. Later: own history + one message with the peers' answers."""
        question = question_text(view.question)
        fmt = self.format_instruction(view.question)
        if not view.history:
            return self.chat(view, self.render("initial", question=question, format=fmt))
        if view.peers:
            peers = "\n\n".join(self.render("peer", agent=p.agent, answer=p.raw)
                                for p in view.peers)
            return self.chat(view, self.render("debate", peers=peers, question=question,
                                               format=fmt))
        return self.chat(view, self.render("alone", question=question, format=fmt))
