"""The :class:`Agent` base class, what an agent sees (:class:`View`), and the role registry.

An agent is a role with a name, a model, an optional system prompt, prompt
templates and a parser. ``await agent.act(view)`` returns one :class:`Turn`.
The protocol decides what goes into the view; the agent decides how it
becomes messages. Failures of the model's *output* (empty, refused, too long
for the context) become a turn with ``error`` set and ``answer=None``; they
never end the debate.
"""

from __future__ import annotations

import asyncio
import string
from collections.abc import Awaitable, Callable, Hashable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeVar

from debate.errors import ConfigError, ModelOutputError
from debate.memo import ByIdentity
from debate.models.cache import call_position
from debate.models.pool import route_key
from debate.models.types import ChatModel, Completion, Message, SamplingParams
from debate.prompts import Template, load_template
from debate.registry import Registry
from debate.scoring import NO_ANSWER, Extraction, answer_instruction, extract, extract_field
from debate.scoring.fields import parse_confidence, parse_fields
from debate.trace import Question, Turn, TurnKind, sampled
from debate.trace_extensions import QUOTED_KEYS

__all__ = ["PARSERS", "ROLES", "Agent", "AnswerGroup", "DebateScope", "Memory", "Parsed", "Parser",
           "View", "debate_scope", "gather_all", "get_role", "question_text", "read_answer", "role"]

Parser = Callable[[str, Question], tuple[Extraction | str | None, float | None]]
"""Turns raw text into (answer, confidence). The answer is an :class:`Extraction`
(answer and rule), or plain text, which counts as explicit."""


PARSERS: Registry[Parser] = Registry("parser", "parser_name", group="debatelab.parsers")
"""Reply parsers by name, for role cards (``parser: answer-confidence``)."""


@dataclass
class Parsed:
    """What a role reads from one reply."""

    answer: Extraction = NO_ANSWER
    """The answer and the rule that found it."""
    confidence: float | None = None
    """A confidence in ``[0, 1]``, when the role asks for one."""
    fields: dict[str, Any] = field(default_factory=dict)
    """Structured fields (explanation, verdict, review score...) for the trace."""


def read_answer(text: str, question: Question, fields: Mapping[str, Any] | None = None,
                key: str = "answer") -> Extraction:
    """The answer of a reply that may carry an answer field (JSON ``answer``, "Answer:").

    When the field is there it is the answer, or there is none: the rest of the
    reply is not scanned (``{"answer": "eighteen", "confidence": 0.9}`` is unparsed,
    never 0.9). Without the field, the task's extractor reads the whole reply.
    """
    if fields is not None and key in fields:
        return extract_field(fields[key], question.task, question.choices)
    return extract(text, question.task, question.choices)


@PARSERS.register("answer")
def default_parser(text: str, question: Question) -> tuple[Extraction, float | None]:
    """The task's answer extractor; no confidence."""
    return extract(text, question.task, question.choices), None


@PARSERS.register("answer-confidence")
def answer_confidence_parser(text: str, question: Question) -> tuple[Extraction, float | None]:
    """The task's answer plus a stated confidence (JSON ``confidence`` or ``Confidence: 0.8``)."""
    fields = parse_fields(text, ("answer", "confidence")) or {}
    return read_answer(text, question, fields), parse_confidence(fields.get("confidence"))


def _render_question(question: Question) -> str:
    context = f"Context:\n{question.context}\n\nQuestion: " if question.context else ""
    choices = ""
    if question.choices:
        letters = string.ascii_uppercase
        choices = "\n\n" + "\n".join(f"{letters[i]}) {c}" for i, c in enumerate(question.choices))
    return load_template("question").render(context=context, text=question.text, choices=choices)


question_text: ByIdentity[Question, str] = ByIdentity(_render_question)
"""The question as shown to agents: context, text and lettered choices (once per question)."""


@dataclass
class DebateScope:
    """The debate the running task belongs to (set by ``DebateProtocol.run``).

    Each call's position in it, ``id/turn-id`` (``#n`` for the n-th repeat of a
    turn id), is part of the call's cache identity. The id is the question's: two
    debates of the same question through one cache (repeated trials in one
    process) get the same replies; give them different seeds to sample anew.
    """

    id: str
    """The debate's id."""
    used: dict[str, int] = field(default_factory=dict)
    """How many calls each turn id has made so far."""

    def position(self, turn_id: str) -> str:
        """The position of the next call making ``turn_id``."""
        n = self.used.get(turn_id, 0)
        self.used[turn_id] = n + 1
        return f"{self.id}/{turn_id}#{n}" if n else f"{self.id}/{turn_id}"


debate_scope: ContextVar[DebateScope | None] = ContextVar("debatelab_debate", default=None)
"""The :class:`DebateScope` of the debate the running task belongs to, if any."""


Memory = Literal["chat", "branch", "rebuild"]
"""How an agent's prompt relates to its earlier calls (see :attr:`View.memory`)."""

B = TypeVar("B")
_T = TypeVar("_T")
"""A role family's brief type (:meth:`View.brief_as`)."""

AnswerGroup = tuple[str | None, Sequence[Turn]]
"""An answer and the turns that gave it (``None``: the turns without a parsed answer)."""


@dataclass(frozen=True, slots=True)
class View:
    """What one agent may see when it acts, and what the protocol asks of it.

    ``question`` to ``tag`` are every protocol's; ``step`` and ``memory`` say which
    action of a multi-step role this is; ``brief`` carries what one role family
    alone reads, as that family's typed brief (a custom protocol gives its custom
    role a brief dataclass of its own). Roles read it with :meth:`brief_as`.
    """

    question: Question
    """The question under debate."""
    round: int
    """The round this action belongs to (part of the turn's id)."""
    history: Sequence[Turn] = ()
    """The agent's own earlier turns, oldest first."""
    peers: Sequence[Turn] = ()
    """Other agents' turns the protocol shows it, in agent order."""
    tag: str = ""
    """Distinguishes several turns of one agent, kind and round (e.g. whom it reviews)."""
    step: str | None = None
    """The step of a multi-step role: ``draft``/``critique``/``refine`` (critique-refine),
    ``solve``/``review``/``revise`` (peer review), ``candidates``/``decide`` (MAD's
    judge), ``closed``/``open`` (SR-DCR's answerer), ``summarize`` (du's peer
    summaries); ``None``: the role's one (or first) action."""
    memory: Memory = "chat"
    """``chat``: continue the agent's own chat (``history``); ``branch`` (peer review,
    compat): branch off its first turn; ``rebuild``: a fresh prompt (Reflect-Critique-Refine)."""
    brief: object | None = None
    """The role family's typed brief; built-in families define theirs beside their role:
    ``DebaterBrief``, ``ReconcileBrief``, ``JudgeBrief``, ``SrDcrBrief``, ``OversightBrief``
    (``None``: the brief's defaults, for a brief whose fields all have one)."""

    def brief_as(self, kind: type[B]) -> B:
        """The view's brief as the role family's ``kind`` of brief.

        ``None`` reads as ``kind()`` when every field of ``kind`` has a default.

        Raises:
            ConfigError: no brief for a role whose brief has required fields, or a
                brief of another kind (both kinds are named).

        """
        brief = self.brief
        if isinstance(brief, kind):
            return brief
        if brief is None:
            try:
                return kind()
            except TypeError:
                raise ConfigError(
                    f"this role reads a {kind.__name__} and the view has no brief: "
                    f"give it as View(..., brief={kind.__name__}(...))") from None
        raise ConfigError(f"this role reads a {kind.__name__} but the protocol gave a "
                          f"{type(brief).__name__}: give it as View(..., "
                          f"brief={kind.__name__}(...))")


async def gather_all(awaitables: Sequence[Awaitable[_T]]) -> list[_T]:
    """Run ``awaitables`` concurrently; results come back in order.

    If one fails (e.g. the endpoint is gone), the others are cancelled and
    awaited before the error propagates: no call outlives its debate.
    """
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


class Agent:
    """Base class of every role. Subclasses implement :meth:`messages` (and maybe ``kind``).

    Args:
        name: unique within a debate, e.g. ``agent-0``.
        model: the (wrapped) model the agent calls.
        system_prompt: sent first in every call, when set.
        templates: template overrides by template name (``initial``, ``debate``...).
        params: sampling parameters; ``sampler`` is set to the agent's name (unless set).
        parser: raw text -> (answer, confidence); default: the task's extractor.
        strict_parsing: keep only explicit answers; a fallback-parsed one becomes ``None``
            (the turn still records what the fallback found, in ``fields``).

    """

    role: ClassVar[str] = "agent"
    """The registered role name."""
    default_templates: ClassVar[dict[str, str | Template]] = {}
    """The role's templates: template name (``initial``...) -> a built-in template's name
    (``debate/prompts/NAME.md``), a ``.md`` file path, or a :class:`~debate.prompts.Template`."""
    template_fields: ClassVar[dict[str, frozenset[str]]] = {}
    """Template name -> the fields the role provides when rendering it (checked at load)."""

    def __init__(
        self,
        name: str,
        model: ChatModel,
        *,
        system_prompt: str | None = None,
        templates: Mapping[str, Template | str] | None = None,
        params: SamplingParams | None = None,
        parser: Parser | None = None,
        strict_parsing: bool = False,
    ) -> None:
        self.name = name
        self.strict_parsing = strict_parsing
        self.card: str | None = None
        """The role card this agent was built from, if any (recorded in traces)."""
        self.model = model
        self.system_prompt = system_prompt
        base = params or SamplingParams()
        self.params = base.model_copy(update={"sampler": base.sampler or name})
        self.parser = parser or default_parser
        self._derived: dict[Hashable, tuple[SamplingParams, SamplingParams]] = {}
        self.templates: dict[str, Template] = {}
        for key, ref in {**self.default_templates, **(templates or {})}.items():
            self.templates[key] = ref if isinstance(ref, Template) else load_template(ref)
        unknown = set(self.templates) - set(self.default_templates)
        if unknown:
            raise ConfigError(f"role {self.role!r} has no template(s) named {sorted(unknown)}; "
                              f"its templates: {sorted(self.default_templates)}")
        for key, template in self.templates.items():
            if key in self.template_fields:
                template.check(self.template_fields[key])

    def render(self, template: str, **values: object) -> str:
        """Render the role's template named ``template``."""
        return self.templates[template].render(**values)

    def messages(self, view: View) -> list[Message]:
        """The exact messages to send for ``view``. Subclasses implement this."""
        raise NotImplementedError

    def kind(self, view: View) -> TurnKind:
        """What kind of turn this action is."""
        return "answer"

    def shown(self, view: View, messages: Sequence[Message]) -> list[str]:
        """Ids of the peers' turns these messages actually show (the turn's ``saw``).

        A peer counts as shown when its reply, or the explanation or critique taken
        from it, appears verbatim in the messages: a role that leaves a peer out of
        its prompt never claims to have shown it. Roles that show peers some other
        way (e.g. by their parsed answer only) override this.
        """
        if not view.peers:
            return []
        contents = [m.content for m in reversed(messages)]  # peers mostly in the last one
        return [t.id for t in view.peers if _appears(t, contents)]

    def params_for(self, view: View) -> SamplingParams:
        """Sampling parameters for this action (roles with structured replies add a schema)."""
        return self.params

    def derived_params(self, key: Hashable, **update: Any) -> SamplingParams:
        """The agent's params with ``update``, built once per ``key`` (and again if they change)."""
        base, params = self._derived.get(key, (None, None))
        if base is not self.params or params is None:  # first use, or the params changed
            params = self.params.model_copy(update=update)
            self._derived[key] = (self.params, params)
        return params

    def with_schema(self, schema: dict[str, Any]) -> SamplingParams:
        """The agent's params asking for a reply that follows ``schema`` (built once)."""
        return self.derived_params(("schema", id(schema)), json_schema=schema)

    def parse(self, text: str, view: View) -> Parsed:
        """Answer, confidence and structured fields from the reply; default: the role's parser."""
        answer, confidence = self.parser(text, view.question)
        return Parsed(_as_extraction(answer), confidence)

    def read(self, completion: Completion, view: View) -> Parsed:
        """What the reply says; roles that need logprobs override this, others :meth:`parse`."""
        return self.parse(completion.text, view)

    async def aread(self, completion: Completion, view: View,
                    messages: Sequence[Message]) -> Parsed:
        """:meth:`read`, for roles whose reading needs slow work off the event loop."""
        return self.read(completion, view)

    def system(self) -> list[Message]:
        """The system message, if any (stable across calls: prefix-cache friendly)."""
        return [Message(role="system", content=self.system_prompt)] if self.system_prompt else []

    def chat(self, view: View, prompt: str, system: str | None = None) -> list[Message]:
        """Continue the agent's own chat: its last prompt, its last reply, then ``prompt``.

        With no history the chat starts with the system message and ``prompt``: the
        agent's own system prompt (a role card's, or a served request's), then the role's
        ``system`` (MAD's meta prompt), one after the other; neither replaces the other.
        Every call's prefix is the previous call.
        """
        if view.history:
            last = view.history[-1]
            return [*last.messages, Message(role="assistant", content=last.raw),
                    Message(role="user", content=prompt)]
        text = "\n\n".join(part for part in (self.system_prompt, system) if part)
        head = [Message(role="system", content=text)] if text else []
        return [*head, Message(role="user", content=prompt)]

    async def act(self, view: View) -> Turn:
        """Call the model on :meth:`messages` and parse the reply into a :class:`Turn`."""
        messages = self.messages(view)
        kind = self.kind(view)
        turn_id = f"r{view.round}/{self.name}/{kind}" + (f"/{view.tag}" if view.tag else "")
        params = self.params_for(view)

        def turn(raw: str, **outcome: Any) -> Turn:  # built once: no validated assignments
            return Turn(id=turn_id, round=view.round, agent=self.name, role=self.role, kind=kind,
                        step=view.step, messages=messages, saw=self.shown(view, messages),
                        model=self.model.name, sampling=sampled(params), raw=raw, **outcome)

        scope = debate_scope.get()
        token = call_position.set(scope.position(turn_id) if scope else turn_id)
        route = route_key.set(f"{scope.id}/{self.name}" if scope else "")  # a pool's affinity
        try:
            completion = await self.model.generate(messages, params)
        except ModelOutputError as exc:
            return turn("", error=str(exc))
        finally:
            route_key.reset(route)
            call_position.reset(token)
        text = completion.text
        parsed = await self.aread(completion, view, messages)
        found, fields = parsed.answer, parsed.fields
        answer = found.answer
        if self.strict_parsing and found.source == "fallback":
            fields = {**fields, "fallback_answer": answer}
            answer = None
        return turn(
            text, answer=answer, answer_from=found.source if found.rule else None,
            answer_rule=found.rule, confidence=parsed.confidence, fields=fields,
            usage=completion.usage, latency=completion.latency,
            finish_reason=completion.finish_reason, cached=completion.cached,
            batch=completion.batch,
            logprobs=(None if completion.logprobs is None
                      else [lp.logprob for lp in completion.logprobs]),
            error=(None if text.strip()
                   else f"empty completion (finish_reason={completion.finish_reason})"),
        )

    def format_instruction(self, question: Question) -> str:
        """How to format the final answer for this question's task."""
        return answer_instruction(question.task)


def _as_extraction(answer: Extraction | str | None) -> Extraction:
    """A custom parser's answer: plain text counts as explicit (rule ``parser``)."""
    if isinstance(answer, Extraction):
        return answer
    return Extraction(answer, "parser" if answer is not None else None)


def _quotable(turn: Turn) -> Iterator[object]:
    """What of a turn a prompt may show verbatim: its reply and its ``quoted`` keys.

    Those are the keys a turn extension declares ``quoted`` (a ReConcile explanation,
    a critique).
    """
    yield turn.raw
    for key in sorted(QUOTED_KEYS):
        yield turn.fields.get(key)


def _appears(turn: Turn, contents: list[str]) -> bool:
    for text in _quotable(turn):
        if isinstance(text, str) and text.strip() and any(text in c for c in contents):
            return True
    return False


ROLES: Registry[type[Agent]] = Registry("role", "role", group="debatelab.roles")
"""Registered roles by name."""

A = TypeVar("A", bound=type[Agent])


def role(name: str) -> Callable[[A], A]:
    """Class decorator registering an :class:`Agent` subclass under ``name``."""
    return ROLES.register(name)


def get_role(name: str) -> type[Agent]:
    """The role class registered as ``name``."""
    return ROLES.lookup(name)
