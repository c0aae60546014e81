"""The :class:`Agent` base class, what an agent sees (:class:`View`), and the role registry.

An agent is a role with a name, a model, an optional system prompt, prompt
templates and a parser. ``await agent.act(view)`` returns one :class:`Turn`.
The protocol decides what goes into the view; the agent decides how it
becomes messages. Failures of the model's *output* (empty, refused, too long
for the context) become a turn with ``error`` set and ``answer=None``; they
never end the debate.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from debate.errors import ConfigError, ModelOutputError
from debate.memo import ByIdentity
from debate.models.types import ChatModel, Message, SamplingParams
from debate.parsing import parse_confidence, parse_fields
from debate.prompts import Template, load_template
from debate.registry import Registry
from debate.scoring import answer_instruction, extract_answer
from debate.trace import Question, Turn, TurnKind

__all__ = ["PARSERS", "ROLES", "Agent", "Parser", "View", "get_role", "question_text", "role"]

Parser = Callable[[str, Question], tuple[str | None, float | None]]
"""Turns raw text into (answer, confidence)."""


PARSERS: Registry[Parser] = Registry("parser", "parser_name", group="debatelab.parsers")
"""Reply parsers by name, for role cards (``parser: answer-confidence``)."""


@PARSERS.register("answer")
def default_parser(text: str, question: Question) -> tuple[str | None, float | None]:
    """The task's answer extractor; no confidence."""
    return extract_answer(text, question.task, question.choices), None


@PARSERS.register("answer-confidence")
def answer_confidence_parser(text: str, question: Question) -> tuple[str | None, float | None]:
    """The task's answer plus a stated confidence (JSON ``confidence`` or ``Confidence: 0.8``)."""
    fields = parse_fields(text, ("answer", "confidence")) or {}
    answer = None
    if fields.get("answer"):
        answer = extract_answer(f"\\boxed{{{fields['answer']}}}", question.task, question.choices)
    if answer is None:
        answer = extract_answer(text, question.task, question.choices)
    return answer, parse_confidence(fields.get("confidence"))


def _render_question(question: Question) -> str:
    context = f"Context:\n{question.context}\n\nQuestion: " if question.context else ""
    choices = ""
    if question.choices:
        letters = string.ascii_uppercase
        choices = "\n\n" + "\n".join(f"{letters[i]}) {c}" for i, c in enumerate(question.choices))
    return load_template("question").render(context=context, text=question.text, choices=choices)


question_text: ByIdentity[Question, str] = ByIdentity(_render_question)
"""The question as shown to agents: context, text and lettered choices (once per question)."""


@dataclass(frozen=True)
class View:
    """What one agent may see when it acts."""

    question: Question
    round: int
    history: Sequence[Turn] = ()
    """The agent's own earlier turns, oldest first."""
    peers: Sequence[Turn] = ()
    """Other agents' turns the protocol shows it, in agent order."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Protocol-specific inputs (e.g. a critique to address, the step of a cycle)."""
    tag: str = ""
    """Distinguishes several turns of one agent, kind and round (e.g. whom it reviews)."""


class Agent:
    """Base class of every role. Subclasses implement :meth:`messages` (and maybe ``kind``).

    Args:
        name: unique within a debate, e.g. ``agent-0``.
        model: the (wrapped) model the agent calls.
        system_prompt: sent first in every call, when set.
        templates: template overrides by slot name (``initial``, ``debate``...).
        params: sampling parameters; ``slot`` is set to the agent's name.
        parser: raw text -> (answer, confidence); default: the task's extractor.

    """

    role: ClassVar[str] = "agent"
    """The registered role name."""
    default_templates: ClassVar[dict[str, str]] = {}
    """Template slot -> built-in template name."""
    slot_fields: ClassVar[dict[str, frozenset[str]]] = {}
    """Template slot -> the fields the role provides when rendering it."""

    def __init__(
        self,
        name: str,
        model: ChatModel,
        *,
        system_prompt: str | None = None,
        templates: Mapping[str, Template | str] | None = None,
        params: SamplingParams | None = None,
        parser: Parser | None = None,
    ) -> None:
        self.name = name
        self.model = model
        self.system_prompt = system_prompt
        base = params or SamplingParams()
        self.params = base.model_copy(update={"slot": base.slot or name})
        self.parser = parser or default_parser
        self._schema_params: dict[int, tuple[SamplingParams, SamplingParams]] = {}
        self.templates: dict[str, Template] = {}
        for slot, ref in {**self.default_templates, **(templates or {})}.items():
            self.templates[slot] = ref if isinstance(ref, Template) else load_template(ref)
        unknown = set(self.templates) - set(self.default_templates)
        if unknown:
            raise ConfigError(f"role {self.role!r} has no template slot(s) {sorted(unknown)}; "
                              f"slots: {sorted(self.default_templates)}")
        for slot, template in self.templates.items():
            if slot in self.slot_fields:
                template.check(self.slot_fields[slot])

    def render(self, slot: str, **values: object) -> str:
        """Render the template in ``slot``."""
        return self.templates[slot].render(**values)

    def messages(self, view: View) -> list[Message]:
        """The exact messages to send for ``view``. Subclasses implement this."""
        raise NotImplementedError

    def kind(self, view: View) -> TurnKind:
        """What kind of turn this action is."""
        return "answer"

    def params_for(self, view: View) -> SamplingParams:
        """Sampling parameters for this action (roles with structured replies add a schema)."""
        return self.params

    def with_schema(self, schema: dict[str, Any]) -> SamplingParams:
        """The agent's params asking for a reply that follows ``schema`` (built once)."""
        base, params = self._schema_params.get(id(schema), (None, None))
        if base is not self.params or params is None:  # first use, or the params changed
            params = self.params.model_copy(update={"json_schema": schema})
            self._schema_params[id(schema)] = (self.params, params)
        return params

    def parse(self, text: str, view: View) -> tuple[str | None, float | None, dict[str, Any]]:
        """(answer, confidence, structured fields) from the reply; default: the role's parser."""
        answer, confidence = self.parser(text, view.question)
        return answer, confidence, {}

    def system(self) -> list[Message]:
        """The system message, if any (stable across calls: prefix-cache friendly)."""
        return [Message(role="system", content=self.system_prompt)] if self.system_prompt else []

    def chat(self, view: View, prompt: str, system: str | None = None) -> list[Message]:
        """Continue the agent's own chat: its last prompt, its last reply, then ``prompt``.

        With no history the chat starts with the system message (``system`` or the
        agent's own) and ``prompt``. Every call's prefix is the previous call.
        """
        if view.history:
            last = view.history[-1]
            return [*last.messages, Message(role="assistant", content=last.raw),
                    Message(role="user", content=prompt)]
        head = [Message(role="system", content=system)] if system else self.system()
        return [*head, Message(role="user", content=prompt)]

    async def act(self, view: View) -> Turn:
        """Call the model on :meth:`messages` and parse the reply into a :class:`Turn`."""
        messages = self.messages(view)
        kind = self.kind(view)
        turn_id = f"r{view.round}/{self.name}/{kind}" + (f"/{view.tag}" if view.tag else "")

        def turn(raw: str, **outcome: Any) -> Turn:  # built once: no validated assignments
            return Turn(id=turn_id, round=view.round, agent=self.name, role=self.role, kind=kind,
                        messages=messages, saw=[t.id for t in view.peers],
                        model=self.model.name, raw=raw, **outcome)

        try:
            completion = await self.model.generate(messages, self.params_for(view))
        except ModelOutputError as exc:
            return turn("", error=str(exc))
        text = completion.text
        answer, confidence, fields = self.parse(text, view)
        return turn(
            text, answer=answer, confidence=confidence, fields=fields,
            usage=completion.usage, latency=completion.latency,
            finish_reason=completion.finish_reason, cached=completion.cached,
            logprobs=(None if completion.logprobs is None
                      else [lp.logprob for lp in completion.logprobs]),
            error=(None if text.strip()
                   else f"empty completion (finish_reason={completion.finish_reason})"),
        )

    def format_instruction(self, question: Question) -> str:
        """How to format the final answer for this question's task."""
        return answer_instruction(question.task)


ROLES: Registry[type[Agent]] = Registry("role", "role", group="debatelab.roles")
"""Registered roles by name."""

A = TypeVar("A", bound=type[Agent])


def role(name: str) -> Callable[[A], A]:
    """Class decorator registering an :class:`Agent` subclass under ``name``."""
    return ROLES.register(name)


def get_role(name: str) -> type[Agent]:
    """The role class registered as ``name``."""
    return ROLES.lookup(name)
