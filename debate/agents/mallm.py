r"""MALLM's discussion agents: collective improvement and the drafting panelist.

Kaesberg et al. (2025), "Voting or Consensus? Decision-Making in Multi-Agent Debate"
(ACL Findings 2025), run with MALLM (``Multi-Agent-LLMs/mallm`` @ d9e66bc). Both roles
build a fresh prompt for every call (no chat memory) with MALLM's words, and each call
ends with MALLM's chain-of-thought message "Let's think step by step."
(``FreeTextResponseGenerator.py:60-66``, on by default: ``utils/config.py:33``), unless
the brief switches it off.

Task and input as MALLM builds them (``coordinator.py:226-235``): the task is the
answer-format instruction, followed by "\nContext:\n" and the question's context when it
has one (:func:`mallm_task`); the input is the question alone, its text with its lettered
choices, no context (:func:`mallm_input`; MALLM's multiple-choice datasets put the
choices in the input, ``data/data_downloaders/MMLUPro.py``, and a passage in the
context, ``SQuAD2.py``).

Personas: MALLM's default asks the model for an expert persona per agent
(``agent_generator: expert``, ``utils/config.py:36``), extra calls left out here. The
prompts carry MALLM's own persona-less values instead (``nopersona``,
``models/personas/NoPersonaGenerator.py:25-28``): ``Participant {n}``, "A participant
of the discussion.". An agent card's ``system_prompt`` is the persona slot: it is sent
first in the system message, before MALLM's text.

- :class:`CollectiveImprover` (``improver``): MALLM's collective refinement
  (``discussion_paradigms/collective_refinement.py:95-134``): system "You are a helpful
  assistant taking part in a discussion ..."; user "Your task is: ... The input you have
  to work with is: ... {history} ... Try to improve your previous answer ...", where the
  history (from the second turn on) is the agent's own previous answer and every other
  agent's previous answer in full, ``({persona}) {answer}``, previous turn only.
- :class:`Panelist` (``panelist``): MALLM's ``memory`` paradigm with drafting agents
  (``SimpleResponseGenerator.py:69-93,119-141``): system "You take part in a discussion
  to solve a task.\nTask: ...\nInput: ...\nYour role: ..." plus "\nCurrent Solution:
  {draft}" when there is a draft and "\nThis is the discussion to the current point: \n"
  when there is a discussion; the discussion itself, the agent's own messages as
  ``assistant`` and the others' as ``user`` "{persona}: {message}" (``agents/agent.py:
  271-284``); then "Improve the current solution. If you agree ... [AGREE] ...
  [DISAGREE] ...", or "Propose a solution." with no draft.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from debate.agents.base import Agent, View, question_text, role
from debate.memo import ByIdentity
from debate.models.types import Message
from debate.trace import Question, Turn

__all__ = ["NO_PERSONA_DESCRIPTION", "CollectiveImprover", "MallmBrief", "Panelist",
           "mallm_agrees", "mallm_input", "mallm_task", "no_persona"]

NO_PERSONA_DESCRIPTION = "A participant of the discussion."
"""MALLM's persona description without personas (``NoPersonaGenerator.py:27``)."""


def no_persona(seat: int) -> str:
    """MALLM's persona name for seat ``seat`` (from 0) without personas: ``Participant 1``...

    ``NoPersonaGenerator.py:26``: ``f"Participant {len(already_generated_personas) + 1}"``.
    """
    return f"Participant {seat + 1}"


def _input_of(question: Question) -> str:
    return question_text(question.model_copy(update={"context": None})
                         if question.context else question)


mallm_input: ByIdentity[Question, str] = ByIdentity(_input_of)
"""MALLM's input: the question's text and lettered choices, without its context (that
goes into the task: ``coordinator.py:226-235``)."""


def mallm_task(instruction: str, question: Question) -> str:
    r"""MALLM's task: the instruction, then "\nContext:\n" and the question's context.

    ``coordinator.py:226-229``; no context: the instruction alone.
    """
    return f"{instruction}\nContext:\n{question.context}" if question.context else instruction


def mallm_agrees(text: str) -> bool:
    """MALLM's reading of a reply as agreement: "agree" in it and "disagree" not.

    ``ResponseGenerator.py:176-183``, case-insensitive: ``[AGREE]`` agrees, ``[DISAGREE]``
    does not, and so does a reply with neither word ("I agree" anywhere agrees).
    """
    low = text.lower()
    return "agree" in low and "disagree" not in low


@dataclass(frozen=True, slots=True)
class MallmBrief:
    """What MALLM's protocols tell their agents besides the view."""

    personas: Mapping[str, str] = field(default_factory=dict)
    """Each agent's persona name by agent name (an agent missing here: its own name)."""
    chain_of_thought: bool = True
    """End each call with "Let's think step by step." (MALLM's ``use_chain_of_thought``)."""
    draft: str | None = None
    """:class:`Panelist`: the current solution (``None``: none yet, propose one)."""
    discussion: Sequence[Turn] = ()
    """:class:`Panelist`: every message of the discussion so far, in speaking order."""


class _MallmAgent(Agent):
    """What both MALLM roles share: personas, the system message and chain of thought."""

    def persona(self, view: View, name: str | None = None) -> str:
        """The persona name of ``name`` (default: this agent)."""
        name = name or self.name
        return view.brief_as(MallmBrief).personas.get(name, name)

    def system_message(self, text: str) -> Message:
        """MALLM's system text, after the agent's own system prompt (its persona slot)."""
        return Message(role="system", content="\n\n".join(
            part for part in (self.system_prompt, text) if part))

    def mallm_task(self, question: Question) -> str:
        """MALLM's task for this agent's answer format (:func:`mallm_task`)."""
        return mallm_task(self.format_instruction(question), question)

    def closing(self, view: View) -> list[Message]:
        """MALLM's chain-of-thought message, when the brief asks for it."""
        if not view.brief_as(MallmBrief).chain_of_thought:
            return []
        return [Message(role="user", content=self.render("cot"))]


@role("improver")
class CollectiveImprover(_MallmAgent):
    """Improves its previous answer given every other agent's (MALLM's collective refinement).

    The view's ``history`` holds the agent's own previous answer (none on the first
    turn: MALLM sends the same prompt with an empty history) and ``peers`` the other
    agents' answers of the previous turn, in seat order.
    """

    default_templates = {"system": "ci_system", "prompt": "ci_prompt",
                         "history": "ci_history", "other": "ci_other", "cot": "mallm_cot"}
    template_fields = {
        "system": frozenset({"persona", "description"}),
        "prompt": frozenset({"task", "input", "history"}),
        "history": frozenset({"own", "others"}),
        "other": frozenset({"persona", "answer"}),
        "cot": frozenset(),
    }

    def messages(self, view: View) -> list[Message]:
        """System (persona), the task with the previous turn's answers, chain of thought."""
        history = ""
        if view.history:
            others = "\n\n".join(self.render("other", persona=self.persona(view, p.agent),
                                             answer=p.raw) for p in view.peers)
            history = self.render("history", own=view.history[-1].raw, others=others)
        prompt = self.render("prompt", task=self.mallm_task(view.question),
                             input=mallm_input(view.question), history=history)
        system = self.render("system", persona=self.persona(view),
                             description=NO_PERSONA_DESCRIPTION)
        return [self.system_message(system), Message(role="user", content=prompt),
                *self.closing(view)]


@role("panelist")
class Panelist(_MallmAgent):
    """Proposes a solution, or improves the current one after reading the whole discussion.

    The brief's ``draft`` is the current solution and ``discussion`` every earlier
    message; the view's ``peers`` are the other agents' messages among them (its
    ``saw``).
    """

    default_templates = {"system": "mallm_system", "current": "mallm_current",
                         "discussion": "mallm_discussion", "other": "mallm_other",
                         "improve": "mallm_improve", "propose": "mallm_propose",
                         "cot": "mallm_cot"}
    template_fields = {
        "system": frozenset({"task", "input", "persona", "description"}),
        "current": frozenset({"draft"}),
        "discussion": frozenset(),
        "other": frozenset({"persona", "message"}),
        "improve": frozenset(),
        "propose": frozenset(),
        "cot": frozenset(),
    }

    def messages(self, view: View) -> list[Message]:
        """System (task, persona, draft), the discussion, improve or propose, chain of thought."""
        brief = view.brief_as(MallmBrief)
        system = self.render("system", task=self.mallm_task(view.question),
                             input=mallm_input(view.question), persona=self.persona(view),
                             description=NO_PERSONA_DESCRIPTION)
        if brief.draft:  # templates lose edge newlines: MALLM's "\n" and " \n" are added here
            system += "\n" + self.render("current", draft=brief.draft)
        memory = [Message(role="assistant", content=t.raw) if t.agent == self.name else
                  Message(role="user", content=self.render(
                      "other", persona=self.persona(view, t.agent), message=t.raw))
                  for t in brief.discussion]
        if memory:
            system += "\n" + self.render("discussion") + " \n"
        ask = self.render("improve" if brief.draft else "propose")
        return [self.system_message(system), *memory, Message(role="user", content=ask),
                *self.closing(view)]
