"""The judge role: picks one of several candidate answers and says why.

Its reply is structured (``{"choice": n, "rationale": "..."}``): backends
with structured output enforce the schema, and the tolerant parser reads
JSON or ``Choice: n`` lines from the others. The turn's ``answer`` is the
chosen candidate's *number* as text; the judge maps it to an answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import JsonValue

from debate.agents.base import Agent, Parsed, View, question_text, role
from debate.models.types import Message, SamplingParams
from debate.scoring import NO_ANSWER, Extraction
from debate.scoring.fields import parse_fields
from debate.trace_extensions import TurnExtension

__all__ = ["CHOICE_SCHEMA", "JudgeAgent", "JudgeBrief", "JudgeRationale"]

CHOICE_SCHEMA: dict[str, Any] = {
    "title": "judge_choice",
    "type": "object",
    "properties": {"choice": {"type": "integer"}, "rationale": {"type": "string"}},
    "required": ["choice", "rationale"],
}


@dataclass(frozen=True, slots=True)
class JudgeBrief:
    """What a protocol tells the ``judge`` role (:class:`JudgeAgent`) besides the view."""

    candidates: Sequence[tuple[str | None, str]] = ()
    """The (answer, argument) pairs to choose from, numbered from 1."""


class JudgeRationale(TurnExtension):
    """Why the ``judge`` role chose its candidate (turn fields), which the llm judge reports."""

    rationale: JsonValue = None
    """The reply's ``rationale``, as the model wrote it (text, when it follows the schema)."""


@role("judge")
class JudgeAgent(Agent):
    """Chooses among numbered candidates: the :class:`JudgeBrief`'s (answer, argument) pairs."""

    default_templates = {"choose": "judge_choose", "candidate": "judge_candidate"}
    template_fields = {
        "choose": frozenset({"question", "candidates", "format"}),
        "candidate": frozenset({"number", "answer", "argument"}),
    }

    def kind(self, view: View) -> Any:
        """A verdict."""
        return "verdict"

    def params_for(self, view: View) -> SamplingParams:
        """Ask for the choice schema."""
        return self.with_schema(CHOICE_SCHEMA)

    def messages(self, view: View) -> list[Message]:
        """One message: the question and the numbered candidates."""
        candidates = "\n\n".join(
            self.render("candidate", number=i, answer=answer, argument=argument)
            for i, (answer, argument) in enumerate(view.brief_as(JudgeBrief).candidates,
                                                   start=1))
        prompt = self.render("choose", question=question_text(view.question),
                             candidates=candidates, format=self.format_instruction(view.question))
        return [*self.system(), Message(role="user", content=prompt)]

    def parse(self, text: str, view: View) -> Parsed:
        """The chosen number (checked against the candidates) and the rationale."""
        fields = parse_fields(text, ("choice", "rationale")) or {}
        choice = str(fields.get("choice", "")).strip().strip(".)")
        count = len(view.brief_as(JudgeBrief).candidates)
        valid = choice.isdigit() and 1 <= int(choice) <= count
        JudgeRationale(rationale=fields.get("rationale")).write(fields)
        return Parsed(Extraction(choice, "field") if valid else NO_ANSWER, None, fields)
