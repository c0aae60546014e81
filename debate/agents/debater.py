"""The debater of Du et al. (2023): answers, then updates its answer given its peers'.

Memory is a growing chat: a round-r prompt is the agent's round r-1 prompt,
its own round r-1 reply as an assistant message, and one new user message
with the other agents' round r-1 replies. The prefix of every call is the
previous call, byte for byte, so servers with prefix caching reuse it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from debate.agents.base import Agent, Parsed, View, question_text, role
from debate.models.types import Completion, Message
from debate.trace import Turn, TurnKind
from debate.trace_extensions import TurnExtension
from debate.uncertainty import RelevanceScorer, UncertaintyMetric, token_sar, uncertainty

__all__ = ["RCR_FULL_PEERS", "Debater", "DebaterBrief", "TokenUncertainty", "majority_answer"]

RCR_FULL_PEERS = 2
"""Reflect-Critique-Refine shows this many peers in full (DTE critiques two peers)."""


@dataclass(frozen=True, slots=True)
class DebaterBrief:
    """What du's protocols (du, DebUnc) tell a :class:`Debater` besides the view."""

    summary: str | None = None
    """du: a summary of the peers' answers, shown instead of the answers themselves."""
    confidences: Mapping[str, int] | None = None
    """du (DebUnc): each peer's 1-10 confidence by agent name, shown next to its answer."""
    uncertainty: UncertaintyMetric | None = None
    """du (DebUnc): the token-level uncertainty to measure on the reply and record."""
    relevance: RelevanceScorer | None = None
    """du (DebUnc, ``uncertainty="token-sar"``): the scorer of each token's relevance."""


class TokenUncertainty(TurnExtension):
    """A DebUnc reply's token-level uncertainty (turn fields), which du shows as confidences."""

    uncertainty: float
    """The reply's uncertainty (higher: less sure), by ``uncertainty_metric``."""
    uncertainty_metric: str | None = None
    """The metric that measured it (``mean-nll``, ``entropy``, ``token-sar``; ``None`` in
    traces written before the metric was recorded, which measured ``entropy``)."""


@role("debater")
class Debater(Agent):
    """Answers alone in round 0; in later rounds reads its peers' previous answers.

    The view may ask for ``step="summarize"`` (summarise the peers' answers instead
    of answering), carry a :class:`DebaterBrief` with a ``summary`` (shown instead of
    the peers) or ``confidences`` (agent -> 1-10, shown next to each peer: DebUnc), or
    ask for ``memory="rebuild"`` (a fresh
    Reflect-Critique-Refine prompt each round: DTE, whose reference shows the first
    ``RCR_FULL_PEERS`` peers in full and any further peers by their parsed answer only).
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
        "rcr_peer": "rcr_peer",
        "rcr_others": "rcr_others",
        "rcr_other": "rcr_other",
    }
    template_fields = {
        "initial": frozenset({"question", "format"}),
        "debate": frozenset({"peers", "question", "format", "majority"}),
        "peer": frozenset({"agent", "answer"}),
        "alone": frozenset({"question", "format"}),
        "summarize": frozenset({"peers"}),
        "debate_summary": frozenset({"summary", "question", "format"}),
        "debate_confidence": frozenset({"peers", "question", "format"}),
        "peer_confidence": frozenset({"agent", "answer", "confidence"}),
        "rcr": frozenset({"question", "own", "peers", "others", "format", "majority"}),
        "rcr_peer": frozenset({"agent", "answer", "parsed"}),
        "rcr_others": frozenset({"lines"}),
        "rcr_other": frozenset({"agent", "parsed"}),
    }

    def kind(self, view: View) -> TurnKind:
        """``summary`` for the summarising step, else ``answer``."""
        return "summary" if view.step == "summarize" else "answer"

    def read(self, completion: Completion, view: View) -> Parsed:
        """The answer, and with the brief's ``uncertainty`` (DebUnc) its uncertainty.

        The reply's token uncertainty and the metric used go into ``fields``.
        """
        parsed = self.parse(completion.text, view)
        metric = view.brief_as(DebaterBrief).uncertainty
        if metric:
            value, used = uncertainty(completion.logprobs, metric)
            if value is None or used is None:
                parsed.fields["uncertainty_unavailable"] = "the backend returned no logprobs"
            else:
                TokenUncertainty(uncertainty=value, uncertainty_metric=used).write(parsed.fields)
        return parsed

    async def aread(self, completion: Completion, view: View,
                    messages: Sequence[Message]) -> Parsed:
        """:meth:`read`; TokenSAR's relevance scorer (a model) runs in a worker thread."""
        parsed = self.read(completion, view)
        brief = view.brief_as(DebaterBrief)
        scorer = brief.relevance
        tokens = completion.logprobs
        if brief.uncertainty == "token-sar" and scorer is not None and tokens:
            prompt = "\n".join(m.content for m in messages)
            relevance = await asyncio.to_thread(scorer, prompt, [t.token for t in tokens])
            value = token_sar(tokens, relevance)
            if value is not None:
                TokenUncertainty(uncertainty=value,
                                 uncertainty_metric="token-sar").write(parsed.fields)
        return parsed

    def _peers(self, view: View) -> str:
        confidences = view.brief_as(DebaterBrief).confidences
        if confidences:
            return "\n\n".join(self.render("peer_confidence", agent=p.agent, answer=p.raw,
                                             confidence=confidences[p.agent])
                                 for p in view.peers)
        return "\n\n".join(self.render("peer", agent=p.agent, answer=p.raw) for p in view.peers)

    def messages(self, view: View) -> list[Message]:
        """Round 0: the question. Later: own history + one message with the peers' answers."""
        question = question_text(view.question)
        fmt = self.format_instruction(view.question)
        if view.step == "summarize":
            prompt = self.render("summarize", peers=self._peers(view))
            return [*self.system(), Message(role="user", content=prompt)]
        if not view.history:
            return self.chat(view, self.render("initial", question=question, format=fmt))
        if view.memory == "rebuild":
            return [*self.system(), Message(role="user", content=self._rcr(view, question, fmt))]
        if not view.peers:
            return self.chat(view, self.render("alone", question=question, format=fmt))
        brief = view.brief_as(DebaterBrief)
        if brief.summary is not None:
            return self.chat(view, self.render("debate_summary", summary=brief.summary,
                                               question=question, format=fmt))
        if brief.confidences:
            return self.chat(view, self.render("debate_confidence", peers=self._peers(view),
                                               question=question, format=fmt))
        return self.chat(view, self.render("debate", peers=self._peers(view), question=question,
                                           format=fmt, majority=self._majority("debate", view)))

    def _rcr(self, view: View, question: str, fmt: str) -> str:
        full, rest = view.peers[:RCR_FULL_PEERS], view.peers[RCR_FULL_PEERS:]
        peers = "\n\n".join(self.render("rcr_peer", agent=p.agent, answer=p.raw,
                                        parsed=p.answer or "none") for p in full)
        others = "\n\n" + self.render("rcr_others", lines="\n".join(
            self.render("rcr_other", agent=p.agent, parsed=p.answer or "none")
            for p in rest)) if rest else ""  # templates lose edge newlines: join here
        return self.render("rcr", question=question, own=view.history[-1].raw, peers=peers,
                           others=others, format=fmt, majority=self._majority("rcr", view))

    def shown(self, view: View, messages: Sequence[Message]) -> list[str]:
        """Reflect-Critique-Refine also shows the peers beyond the first two, by answer."""
        seen = super().shown(view, messages)
        if view.memory == "rebuild" and view.history:
            seen += [p.id for p in view.peers[RCR_FULL_PEERS:] if p.id not in seen]
        return seen

    def _majority(self, template: str, view: View) -> str:
        """The peers' majority answer, when the role's ``template`` shows it."""
        return majority_answer(view.peers) if "majority" in self.templates[template].fields else ""


def majority_answer(turns: Sequence[Turn]) -> str:
    """The most common parsed answer among ``turns`` (first in order on ties), or ``unknown``."""
    counts: dict[str, int] = {}
    for turn in turns:
        if turn.answer is not None:
            counts[turn.answer] = counts.get(turn.answer, 0) + 1
    return max(counts, key=counts.__getitem__) if counts else "unknown"
