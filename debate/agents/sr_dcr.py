"""Roles of SR-DCR ("When to Trust Context: Self-Reflective Debates for Context Reliability").

- ``context-answerer``: answers closed-book (no context; logprobs requested,
  and a stated confidence as the fallback) or open-book (with the context).
- ``defender``: argues from the passage that the context answer is right.
- ``challenger``: the critic; argues from its own knowledge, *without* the
  passage unless ``view.extra["critic_sees_context"]`` (the notebook's variant).
- ``reliability-judge``: reads the debate and says REASONABLE or UNREASONABLE.
"""

from __future__ import annotations

import math
import re
from typing import Any

from debate.agents.base import Agent, View, question_text, role
from debate.models.types import Message, SamplingParams
from debate.parsing import parse_confidence, parse_fields
from debate.scoring import extract_answer
from debate.trace import Question, TurnKind

__all__ = ["Challenger", "ContextAnswerer", "Defender", "ReliabilityJudgeAgent",
           "parse_reliability", "sequence_confidence"]

RELIABILITY_SCHEMA: dict[str, Any] = {
    "title": "context_reliability",
    "type": "object",
    "properties": {"verdict": {"type": "string", "enum": ["REASONABLE", "UNREASONABLE"]},
                   "reason": {"type": "string"}},
    "required": ["verdict", "reason"],
}


def sequence_confidence(logprobs: list[float]) -> float:
    """The probability of the whole reply: exp of the summed token log-probabilities."""
    return math.exp(sum(logprobs))


def parse_reliability(text: str) -> str | None:
    """``reasonable`` / ``unreasonable`` (case-insensitive, JSON or free text), else ``None``."""
    fields = parse_fields(text, ("verdict",)) or {}
    source = str(fields.get("verdict", text)).lower()
    words = re.findall(r"\b(unreasonable|reasonable|not reasonable)\b", source)
    if not words:
        return None
    return "reasonable" if words[0] == "reasonable" else "unreasonable"


def _closed_book(question: Question) -> Question:
    return question.model_copy(update={"context": None})


def _answer(value: str, question: Question) -> str | None:
    value = value.strip()
    if not value:
        return None
    return extract_answer(f"\\boxed{{{value}}}", question.task, question.choices) or \
        extract_answer(value, question.task, question.choices)


@role("context-answerer")
class ContextAnswerer(Agent):
    """Answers with (``step=open``) or without (``step=closed``) the context."""

    default_templates = {"closed": "sr_closed_book", "open": "sr_open_book"}
    slot_fields = {"closed": frozenset({"question"}),
                   "open": frozenset({"question", "context"})}

    def params_for(self, view: View) -> SamplingParams:
        """Both answers ask for logprobs (token-level confidence)."""
        return self.params.model_copy(update={"logprobs": True})

    def messages(self, view: View) -> list[Message]:
        """The closed-book or open-book prompt."""
        q = view.question
        if view.extra.get("step") == "open":
            prompt = self.render("open", question=question_text(_closed_book(q)),
                                 context=q.context or "")
        else:
            prompt = self.render("closed", question=question_text(_closed_book(q)))
        return [*self.system(), Message(role="user", content=prompt)]

    def parse(self, text: str, view: View) -> tuple[str | None, float | None, dict[str, Any]]:
        """The short answer and the stated confidence (closed book)."""
        fields = parse_fields(text, ("answer", "confidence")) or {}
        answer = _answer(str(fields.get("answer", "")), view.question) or \
            extract_answer(text, view.question.task, view.question.choices)
        stated = parse_confidence(fields.get("confidence"))
        return answer, stated, {**fields, "stated_confidence": stated}


class _Arguer(Agent):
    slot: str = ""

    def kind(self, view: View) -> TurnKind:
        """An argument."""
        return "argument"

    def transcript(self, view: View) -> str:
        """The debate so far (``view.peers``), one line per argument."""
        lines = [self.render("line", speaker=t.agent, text=t.raw) for t in view.peers]
        return "\n".join(lines) if lines else "(nothing yet)"


@role("defender")
class Defender(_Arguer):
    """Argues, from the passage, that the context answer is right."""

    default_templates = {"argue": "sr_defender", "line": "sr_line"}
    slot_fields = {"argue": frozenset({"context", "question", "context_answer", "transcript"}),
                   "line": frozenset({"speaker", "text"})}

    def messages(self, view: View) -> list[Message]:
        """Context, question, the context answer and the transcript."""
        q = view.question
        prompt = self.render("argue", context=q.context or "",
                             question=question_text(_closed_book(q)),
                             context_answer=view.extra["context_answer"],
                             transcript=self.transcript(view))
        return [*self.system(), Message(role="user", content=prompt)]


@role("challenger")
class Challenger(_Arguer):
    """The critic: argues from its own knowledge, without the passage (the paper's setting)."""

    default_templates = {"argue": "sr_critic", "line": "sr_line"}
    slot_fields = {"argue": frozenset({"context_block", "question", "context_answer",
                                       "transcript"}),
                   "line": frozenset({"speaker", "text"})}

    def messages(self, view: View) -> list[Message]:
        """Question, claimed answer, transcript; the passage only if asked."""
        q = view.question
        block = f"\nContext:\n{q.context}\n" if view.extra.get("critic_sees_context") else ""
        prompt = self.render("argue", context_block=block,
                             question=question_text(_closed_book(q)),
                             context_answer=view.extra["context_answer"],
                             transcript=self.transcript(view))
        return [*self.system(), Message(role="user", content=prompt)]


@role("reliability-judge")
class ReliabilityJudgeAgent(_Arguer):
    """Reads the debate and decides whether the context is reasonable."""

    default_templates = {"judge": "sr_judge", "line": "sr_line"}
    slot_fields = {"judge": frozenset({"context", "question", "transcript"}),
                   "line": frozenset({"speaker", "text"})}

    def kind(self, view: View) -> TurnKind:
        """A verdict."""
        return "verdict"

    def params_for(self, view: View) -> SamplingParams:
        """Ask for the verdict schema."""
        return self.with_schema(RELIABILITY_SCHEMA)

    def messages(self, view: View) -> list[Message]:
        """Context, question and the whole debate."""
        q = view.question
        prompt = self.render("judge", context=q.context or "",
                             question=question_text(_closed_book(q)),
                             transcript=self.transcript(view))
        return [*self.system(), Message(role="user", content=prompt)]

    def parse(self, text: str, view: View) -> tuple[str | None, float | None, dict[str, Any]]:
        """The verdict, lower case, as the turn's answer (``None`` when unreadable)."""
        verdict = parse_reliability(text)
        fields = parse_fields(text, ("verdict", "reason")) or {}
        if verdict is None:
            fields["parse_error"] = "no REASONABLE/UNREASONABLE verdict"
        return verdict, None, fields
