"""Critique-and-refine roles: solver, critic, refiner, and the self-refiner playing all three.

One class serves every step (``view.extra["step"]``: draft, critique or
refine), so a single model can critique and refine itself (self-refine) and
separate models can split the work (critique-refine). Prompts are rebuilt
each step from the problem, the current solution and the critique. The
critic's reply is structured (``verdict`` accept/revise plus ``critique``);
an unreadable verdict counts as "revise", recorded in the turn.
"""

from __future__ import annotations

import re
from typing import Any

from debate.agents.base import Agent, View, question_text, role
from debate.models.types import Message, SamplingParams
from debate.parsing import parse_fields
from debate.trace import TurnKind

__all__ = ["CRITIQUE_SCHEMA", "Critic", "CritiqueRefineAgent", "Refiner", "SelfRefiner", "Solver"]

CRITIQUE_SCHEMA: dict[str, Any] = {
    "title": "critique",
    "type": "object",
    "properties": {"verdict": {"type": "string", "enum": ["accept", "revise"]},
                   "critique": {"type": "string"}},
    "required": ["verdict", "critique"],
}
_KINDS: dict[str, TurnKind] = {"draft": "answer", "critique": "critique", "refine": "revision"}


class CritiqueRefineAgent(Agent):
    """Drafts, critiques or refines, by ``view.extra["step"]``."""

    default_templates = {"draft": "solve", "critique": "cr_critique", "refine": "cr_refine"}
    slot_fields = {"draft": frozenset({"question", "format"}),
                   "critique": frozenset({"question", "solution"}),
                   "refine": frozenset({"question", "solution", "critique", "format"})}

    def kind(self, view: View) -> TurnKind:
        """Answer (draft), critique or revision."""
        return _KINDS[view.extra.get("step", "draft")]

    def params_for(self, view: View) -> SamplingParams:
        """The critique step asks for the verdict schema."""
        if view.extra.get("step") == "critique":
            return self.with_schema(CRITIQUE_SCHEMA)
        return self.params

    def messages(self, view: View) -> list[Message]:
        """A fresh prompt: the problem, the current solution (``view.peers[0]``), the critique."""
        step = view.extra.get("step", "draft")
        question = question_text(view.question)
        fmt = self.format_instruction(view.question)
        if step == "draft":
            prompt = self.render("draft", question=question, format=fmt)
        elif step == "critique":
            prompt = self.render("critique", question=question, solution=view.peers[0].raw)
        else:
            solution, critique = view.peers
            prompt = self.render("refine", question=question, solution=solution.raw,
                                 critique=critique.fields.get("critique") or critique.raw,
                                 format=fmt)
        return [*self.system(), Message(role="user", content=prompt)]

    def parse(self, text: str, view: View) -> tuple[str | None, float | None, dict[str, Any]]:
        """Critiques: the verdict (``accepted``); drafts and refinements: the answer."""
        if view.extra.get("step") != "critique":
            return super().parse(text, view)
        fields = parse_fields(text, ("verdict", "critique")) or {}
        verdict = str(fields.get("verdict", "")).strip().lower()
        if not verdict:
            keyword = re.search(r"\b(accept|revise)\b", text, re.IGNORECASE)
            verdict = keyword.group(1).lower() if keyword else ""
            fields["verdict_from_text"] = bool(keyword)
        fields["accepted"] = verdict == "accept"
        if verdict not in ("accept", "revise"):
            fields["parse_error"] = "no accept/revise verdict; treated as revise"
        return None, None, fields


@role("solver")
class Solver(CritiqueRefineAgent):
    """Writes the first draft."""


@role("critic")
class Critic(CritiqueRefineAgent):
    """Critiques the current solution, or accepts it."""


@role("refiner")
class Refiner(CritiqueRefineAgent):
    """Revises the solution given the critique."""


@role("self-refiner")
class SelfRefiner(CritiqueRefineAgent):
    """Drafts, critiques and refines its own solution (self-refine)."""
