"""Ballots and summaries: what a debater is asked when a decision rule needs its vote.

The ``voting`` and ``summary`` judges (:mod:`debate.judges.voting`) ask the debate's
own agents, each through its own model and under its own name, with the prompts of
MALLM (``Multi-Agent-LLMs/mallm`` @ d9e66bc, ``ResponseGenerator.py``):

- a ballot (``voting_base_prompt``, :336-393, and each rule's lines, :408-525): the
  voter's own system prompt, then its role line when the protocol gives one (MALLM's
  persona, ``Your role: ...``), one user message with the rule's
  opening line, the task (with the question's context, as MALLM's ``coordinator.py:226-229``)
  and the question, one user message per solution
  (``Solution 0: ...``, numbered from 0, no author named: MALLM's anonymous vote), and
  one with the rule's answer format. No discussion history (MALLM's default).
- a summary (``generate_summary_prompt``, :531-586): one user message, no persona and
  no history, asking the first agent to combine the solutions into one answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from debate.agents.base import Agent, Parsed, View, role
from debate.agents.mallm import mallm_input, mallm_task
from debate.models.types import Message
from debate.scoring import Extraction
from debate.scoring.ballots import VotingMethod, read_ballot
from debate.trace import TurnKind

__all__ = ["BallotBrief", "Voter"]


@dataclass(frozen=True, slots=True)
class BallotBrief:
    """What a decision rule asks of a :class:`Voter`: a ballot by ``method``, or a summary."""

    solutions: Sequence[str]
    """The solutions, numbered from 0 in this order."""
    method: VotingMethod | None = None
    """The voting rule; ``None``: summarise the solutions into one answer instead."""
    roles: Mapping[str, str] = field(default_factory=dict)
    """A voter's role line by agent name, sent as ``Your role: ...`` after its system prompt
    (MALLM's persona, ``ResponseGenerator.py:349-354``); none by default."""


@role("voter")
class Voter(Agent):
    """Casts a ballot over anonymous solutions, or combines them into one answer.

    A ballot turn's ``answer`` is the ballot as read (``"2"``, ``"0,2"``, ``"2 0 1"``
    or the cumulative JSON object), its ``fields["ballot"]`` the same as numbers, and
    ``fields["ballot_error"]`` why it could not be read (``answer`` is then ``None``).
    A summary turn's answer is read as any answer to the question.
    """

    default_templates = {
        "open": "vote_open",
        "solution": "vote_solution",
        **{f"ask_{m}": f"vote_ask_{m}" for m in ("simple", "approval", "cumulative", "ranked")},
        **{f"answer_{m}": f"vote_answer_{m}"
           for m in ("simple", "approval", "cumulative", "ranked")},
        "summary": "judge_summary",
    }
    template_fields = {
        "open": frozenset({"ask", "task", "question"}),
        "solution": frozenset({"number", "solution"}),
        "summary": frozenset({"task", "question", "solutions"}),
    }

    def kind(self, view: View) -> TurnKind:
        """A ``vote`` (a ballot), or a ``verdict`` (a summary that decides)."""
        return "vote" if view.brief_as(BallotBrief).method else "verdict"

    def messages(self, view: View) -> list[Message]:
        """The ballot (system prompt, opening, one message per solution, format) or summary."""
        brief = view.brief_as(BallotBrief)
        task = mallm_task(self.format_instruction(view.question), view.question)
        question = mallm_input(view.question)
        if brief.method is None:
            solutions = "".join(f"\n\nSolution {i}: {s}" for i, s in enumerate(brief.solutions))
            prompt = self.render("summary", task=task, question=question, solutions=solutions)
            return [Message(role="user", content=prompt)]
        opening = self.render("open", ask=self.render(f"ask_{brief.method}"), task=task,
                              question=question)
        role = brief.roles.get(self.name)
        persona = [Message(role="system", content=f"Your role: {role}")] if role else []
        return [*self.system(), *persona, Message(role="user", content=opening),
                *(Message(role="user", content=self.render("solution", number=i, solution=s))
                  for i, s in enumerate(brief.solutions)),
                Message(role="user", content=self.render(f"answer_{brief.method}"))]

    def parse(self, text: str, view: View) -> Parsed:
        """The ballot (or the summary's answer)."""
        brief = view.brief_as(BallotBrief)
        if brief.method is None:
            return super().parse(text, view)
        ballot = read_ballot(brief.method, text, len(brief.solutions))
        if isinstance(ballot, str):
            return Parsed(fields={"ballot_error": ballot})
        if isinstance(ballot, dict):
            shown = "{" + ", ".join(f'"{k}": {v}' for k, v in ballot.items()) + "}"
            numbers: object = {str(k): v for k, v in ballot.items()}
        else:
            sep = " " if brief.method == "ranked" else ","
            shown, numbers = sep.join(map(str, ballot)), ballot
        return Parsed(Extraction(shown, "ballot"), fields={"ballot": numbers})

    def shown(self, view: View, messages: Sequence[Message]) -> list[str]:
        """The candidates' turns whose solution the ballot lists."""
        return [t.id for t in view.peers]
