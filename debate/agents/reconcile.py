"""The ReConcile agent (Chen et al., 2023): answer, explanation and confidence, every round.

Round 0 it answers alone; later rounds it reads the previous round's answers
grouped by answer (the :class:`ReconcileBrief`'s ``groups``: (answer, [turns])
pairs, each turn with its explanation and stated confidence) and revises all
three. Convincing samples (the brief's ``samples``), when given, open both prompts.
The prompt is rebuilt every round (no chat history), as in the reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import JsonValue

from debate.agents.base import (
    Agent,
    AnswerGroup,
    Parsed,
    View,
    question_text,
    read_answer,
    role,
)
from debate.models.types import Message, SamplingParams
from debate.scoring.fields import parse_confidence, parse_fields
from debate.settings import Settings
from debate.trace import Turn, TurnKind
from debate.trace_extensions import TurnExtension

__all__ = ["RECONCILE_SCHEMA", "ConvincingSample", "ReconcileBrief", "ReconcileExplanation",
           "Reconciler"]

RECONCILE_SCHEMA: dict[str, Any] = {
    "title": "reconcile_answer",
    "type": "object",
    "properties": {"explanation": {"type": "string"}, "answer": {"type": "string"},
                   "confidence": {"type": "number"}},
    "required": ["explanation", "answer", "confidence"],
}



class ReconcileExplanation(TurnExtension):
    """A ReConcile agent's explanation of its answer (turn fields).

    Its peers read it at the next round table, and an agent's ``saw`` finds it in their
    prompts. It stays where the reply put it among the fields.
    """

    quoted: ClassVar[frozenset[str]] = frozenset({"explanation"})

    explanation: JsonValue = None
    """The reply's ``explanation``, as the model wrote it (text, when it follows the
    schema)."""


class ConvincingSample(Settings):
    """A human explanation that once made an agent correct its answer."""

    question: str
    """The question it explained."""
    explanation: str
    """The explanation that convinced the agent."""
    answer: str
    """The answer it led to."""
    agent: str | None = None
    """The agent it convinced: shown to every *other* agent (``None``: shown to all)."""


@dataclass(frozen=True, slots=True)
class ReconcileBrief:
    """What ReConcile tells a :class:`Reconciler` besides the view."""

    samples: Sequence[ConvincingSample] = ()
    """ReConcile: the convincing samples that open the prompt."""
    groups: Sequence[AnswerGroup] | None = None
    """ReConcile: the previous round's turns grouped by answer (``None``: answer alone)."""


@role("reconciler")
class Reconciler(Agent):
    """Gives answer + explanation + confidence; revises them at the round table."""

    default_templates = {"initial": "reconcile_initial", "discussion": "reconcile_discussion",
                         "group": "reconcile_group", "no_answer": "reconcile_no_answer",
                         "solution": "reconcile_solution",
                         "samples": "reconcile_samples", "sample": "reconcile_sample"}
    template_fields = {
        "initial": frozenset({"samples", "question", "format"}),
        "discussion": frozenset({"samples", "question", "groups", "format"}),
        "group": frozenset({"count", "answer", "solutions"}),
        "no_answer": frozenset({"count", "solutions"}),
        "solution": frozenset({"explanation", "answer", "confidence"}),
        "samples": frozenset({"examples"}),
        "sample": frozenset({"question", "explanation", "answer"}),
    }

    def kind(self, view: View) -> TurnKind:
        """An answer in round 0, a revision later."""
        return "answer" if view.round == 0 else "revision"

    def params_for(self, view: View) -> SamplingParams:
        """Ask for the answer/explanation/confidence schema."""
        return self.with_schema(RECONCILE_SCHEMA)

    def _samples(self, brief: ReconcileBrief) -> str:
        if not brief.samples:
            return ""
        examples = "\n\n".join(self.render("sample", question=s.question,
                                           explanation=s.explanation, answer=s.answer)
                               for s in brief.samples)
        return self.render("samples", examples=examples)

    def messages(self, view: View) -> list[Message]:
        """A fresh prompt: alone in round 0, at the round table later."""
        question = question_text(view.question)
        fmt = self.format_instruction(view.question)
        brief = view.brief_as(ReconcileBrief)
        samples = self._samples(brief)
        if view.round == 0 or brief.groups is None:
            prompt = self.render("initial", samples=samples, question=question, format=fmt)
        else:
            groups = "\n".join(self._group(answer, turns) for answer, turns in brief.groups)
            prompt = self.render("discussion", samples=samples, question=question,
                                 groups=groups, format=fmt)
        return [*self.system(), Message(role="user", content=prompt)]

    def _group(self, answer: str | None, turns: Sequence[Turn]) -> str:
        """One answer group of the round table (``None``: the agents without an answer)."""
        solutions = "\n".join(
            self.render("solution", answer=answer or "none", confidence=_shown(t.confidence),
                        explanation=_explanation(t) or t.raw or "(no reply)")
            for t in turns)
        if answer is None:
            return self.render("no_answer", count=len(turns), solutions=solutions)
        return self.render("group", count=len(turns), answer=answer, solutions=solutions)

    def parse(self, text: str, view: View) -> Parsed:
        """Answer (task-normalized), stated confidence in [0, 1], explanation."""
        fields = parse_fields(text, ("explanation", "answer", "confidence")) or {}
        confidence = parse_confidence(fields.get("confidence"))
        if "confidence" in fields and confidence is None:
            fields["confidence_unreadable"] = True
        ReconcileExplanation(explanation=fields.get("explanation")).write(fields)
        return Parsed(read_answer(text, view.question, fields), confidence, fields)


def _explanation(turn: Turn) -> JsonValue:
    """A turn's explanation (``None``: it gave none)."""
    said = ReconcileExplanation.read(turn)
    return said.explanation if said is not None else None


def _shown(confidence: float | None) -> str:
    return "not stated" if confidence is None else f"{confidence:.2f}"
