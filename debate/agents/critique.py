"""Critique-and-refine roles: solver, critic, refiner, and the self-refiner playing all three.

One class serves every step (``view.step``: draft, critique or
refine), so a single model can critique and refine itself (self-refine) and
separate models can split the work (critique-refine). Prompts are rebuilt
each step from the problem, the current solution and the critique:
``view.peers`` ends with the current solution (and, to refine, its critique);
any turns before those are earlier (solution, critique) pairs, shown as the
history of attempts (Self-Refine keeps every earlier iteration). The
critic's reply is structured (``verdict`` accept/revise plus ``critique``).
Only an explicit verdict counts: a JSON ``verdict`` field or a "Verdict:" line
whose value is accept or revise ("Verdict: Accept." reads as accept). Free
text is never searched for the words ("I cannot accept this; revise" names no
verdict): an unreadable verdict is recorded as ``None`` and the protocol's
``unparsed_verdict`` policy decides.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import JsonValue

from debate.agents.base import Agent, Parsed, View, question_text, role
from debate.models.types import Message, SamplingParams
from debate.scoring.fields import bare_word, parse_fields
from debate.trace import Turn, TurnKind
from debate.trace_extensions import TurnExtension

__all__ = ["CRITIQUE_SCHEMA", "Critic", "CritiqueRefineAgent", "CritiqueVerdict", "Refiner",
           "SelfRefiner", "Solver", "read_verdict"]

CRITIQUE_SCHEMA: dict[str, Any] = {
    "title": "critique",
    "type": "object",
    "properties": {"verdict": {"type": "string", "enum": ["accept", "revise"]},
                   "critique": {"type": "string"}},
    "required": ["verdict", "critique"],
}
_KINDS: dict[str, TurnKind] = {"draft": "answer", "critique": "critique", "refine": "revision"}
_VERDICTS: dict[str, Literal["accept", "revise"]] = {
    "accept": "accept", "accepted": "accept", "revise": "revise", "revision": "revise",
    "reject": "revise", "rejected": "revise"}


class CritiqueVerdict(TurnExtension):
    """A critic's verdict on the current solution and its critique (turn fields).

    Critique-refine ends the loop on ``accept``; a critique's text is what the refiner
    reads. ``critique`` stays where the reply put it among the fields.
    """

    stored_none: ClassVar[frozenset[str]] = frozenset({"stated_verdict", "verdict"})
    quoted: ClassVar[frozenset[str]] = frozenset({"critique"})

    critique: JsonValue = None
    """The reply's ``critique``, as the model wrote it (text, when it follows the schema)."""
    stated_verdict: JsonValue = None
    """The reply's ``verdict``, as the model wrote it (stored as ``null`` when absent)."""
    verdict: Literal["accept", "revise"] | None = None
    """The verdict read from it (:func:`read_verdict`; ``None``: neither, stored as
    ``null``)."""
    parse_error: str | None = None
    """Why no verdict could be read (``None``: it was read)."""


def _critique_text(turn: Turn) -> str:
    said = CritiqueVerdict.read(turn)
    critique = said.critique if said is not None else None
    return critique if isinstance(critique, str) and critique else turn.raw


def read_verdict(value: object) -> Literal["accept", "revise"] | None:
    """``accept`` / ``revise`` from a verdict field's value, or ``None`` when it is neither.

    The whole value must be the verdict (case, spaces and punctuation aside):
    ``"Accept."`` is accept, ``"I cannot accept this; revise"`` is no verdict.
    """
    return _VERDICTS.get(bare_word(value))


class CritiqueRefineAgent(Agent):
    """Drafts, critiques or refines, by ``view.step`` (``None``: draft)."""

    default_templates = {"draft": "solve", "critique": "cr_critique", "refine": "cr_refine",
                         "history": "cr_history", "attempt": "cr_attempt"}
    template_fields = {
        "draft": frozenset({"question", "format"}),
        "critique": frozenset({"question", "history", "solution"}),
        "refine": frozenset({"question", "history", "solution", "critique", "format"}),
        "history": frozenset({"attempts"}),
        "attempt": frozenset({"number", "solution", "critique"}),
    }

    def kind(self, view: View) -> TurnKind:
        """Answer (draft), critique or revision."""
        return _KINDS[view.step or "draft"]

    def params_for(self, view: View) -> SamplingParams:
        """The critique step asks for the verdict schema."""
        if view.step == "critique":
            return self.with_schema(CRITIQUE_SCHEMA)
        return self.params

    def messages(self, view: View) -> list[Message]:
        """A fresh prompt: the problem, the current solution (``view.peers[0]``), the critique."""
        step = view.step or "draft"
        question = question_text(view.question)
        fmt = self.format_instruction(view.question)
        if step == "draft":
            prompt = self.render("draft", question=question, format=fmt)
        elif step == "critique":
            *earlier, solution = view.peers
            prompt = self.render("critique", question=question, history=self._history(earlier),
                                 solution=solution.raw)
        else:
            *earlier, solution, critique = view.peers
            prompt = self.render("refine", question=question, history=self._history(earlier),
                                 solution=solution.raw, critique=_critique_text(critique),
                                 format=fmt)
        return [*self.system(), Message(role="user", content=prompt)]

    def _history(self, earlier: list[Turn]) -> str:
        """Earlier (solution, critique) pairs as numbered attempts; empty without any."""
        if not earlier:
            return ""
        attempts = "\n\n".join(
            self.render("attempt", number=i + 1, solution=earlier[2 * i].raw,
                        critique=_critique_text(earlier[2 * i + 1]))
            for i in range(len(earlier) // 2))
        return self.render("history", attempts=attempts)

    def parse(self, text: str, view: View) -> Parsed:
        """Critiques: the verdict (``verdict``: accept, revise or ``None``); else the answer."""
        if view.step != "critique":
            return super().parse(text, view)
        fields = parse_fields(text, ("verdict", "critique")) or {}
        stated = fields.get("verdict")
        verdict = read_verdict(stated)
        CritiqueVerdict(critique=fields.get("critique"), stated_verdict=stated, verdict=verdict,
                        parse_error=None if verdict is not None
                        else "no accept/revise verdict").write(fields)
        return Parsed(fields=fields)


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
