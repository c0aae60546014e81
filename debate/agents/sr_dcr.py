"""Roles of SR-DCR ("When to Trust Context: Self-Reflective Debates for Context Reliability").

- ``context-answerer``: answers closed-book (no context) or open-book (with
  it). As in the reference, the closed-book prompt asks for the answer alone
  with a short ``max_tokens``, and the model's confidence is the sequence
  probability of the *answer's* tokens (exp of their summed logprobs): a
  label such as "Answer:" or trailing text never lowers it. With
  ``confidence="stated"`` (backends without logprobs) the prompt also asks for
  a "Confidence:" line and that number is the confidence.
- ``defender``: argues from the passage that the context answer is right.
- ``context-critic``: the paper's critic; argues from its own knowledge,
  *without* the passage unless the brief's ``critic_sees_context`` (the
  notebook's variant). (``critic`` is critique-refine's role.)
- ``reliability-judge``: reads the debate transcript only (never the passage,
  as the reference judge decides "solely on the debate content") and says
  REASONABLE or UNREASONABLE.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import JsonValue

from debate.agents.base import Agent, Parsed, View, question_text, role
from debate.errors import ConfigError
from debate.models.types import Completion, Message, SamplingParams, TokenLogprob
from debate.scoring import NO_ANSWER, Extraction, count_numbers, extract_field
from debate.scoring.fields import parse_confidence, parse_fields
from debate.trace import Question, TurnKind
from debate.trace_extensions import TurnExtension

__all__ = ["ClosedBookConfidence", "ContextAnswerer", "ContextCritic", "Defender",
           "ReliabilityJudgeAgent", "ReliabilityVerdict", "SrDcrBrief", "answer_span",
           "parse_reliability", "sequence_confidence", "span_logprobs"]

RELIABILITY_SCHEMA: dict[str, Any] = {
    "title": "context_reliability",
    "type": "object",
    "properties": {"verdict": {"type": "string", "enum": ["REASONABLE", "UNREASONABLE"]},
                   "reason": {"type": "string"}},
    "required": ["verdict", "reason"],
}
_LABEL = re.compile(r"\**\s*(?:final\s+)?answer\s*\**\s*[:=\-]\s*", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class SrDcrBrief:
    """What SR-DCR tells its answerer, defender and critic besides the view."""

    context_answer: str | None = None
    """SR-DCR's defender and critic: the answer the passage gives, which they argue over."""
    critic_sees_context: bool = False
    """SR-DCR's critic: show it the passage too (the notebook's variant; not the paper's)."""
    confidence_from: Literal["logprobs", "stated"] = "logprobs"
    """SR-DCR's answerer: the closed-book confidence from the answer tokens' logprobs, or a
    confidence the model states on a second line."""
    answer_max_tokens: int | None = None
    """SR-DCR's answerer: the token budget of its short answers (``None``: the agent's own)."""


def sequence_confidence(logprobs: Sequence[float]) -> float:
    """The probability of a token sequence: exp of the summed token log-probabilities."""
    return math.exp(sum(logprobs))


def answer_span(text: str) -> tuple[int, int]:
    """Where the answer is in a reply that was asked to be the answer alone.

    That is its first non-empty line, without an "Answer:" label, surrounding
    spaces or a final full stop.
    """
    start = len(text) - len(text.lstrip())
    end = text.find("\n", start)
    end = len(text) if end == -1 else end
    label = _LABEL.match(text, start, end)
    if label:
        start = label.end()
    while end > start and (text[end - 1].isspace() or text[end - 1] == "."):
        end -= 1
    return start, end


def span_logprobs(tokens: Sequence[TokenLogprob], text: str, span: tuple[int, int]
                  ) -> list[float] | None:
    """The logprobs of the tokens that overlap ``span`` of ``text``.

    ``None`` when the tokens do not spell ``text`` (their offsets are then unknown).
    """
    if "".join(t.token for t in tokens) != text:
        return None
    start, end = span
    chosen, offset = [], 0
    for token in tokens:
        token_end = offset + len(token.token)
        if token_end > start and offset < end:
            chosen.append(token.logprob)
        offset = token_end
    return chosen


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


class ReliabilityVerdict(TurnExtension):
    """The reliability judge's reason, or why its verdict could not be read (turn fields)."""

    reason: JsonValue = None
    """The reply's ``reason``, as the model wrote it (text, when it follows the schema)."""
    parse_error: str | None = None
    """Why no REASONABLE/UNREASONABLE verdict could be read (``None``: it was read)."""


class ClosedBookConfidence(TurnExtension):
    """How the closed-book answer's confidence was measured (turn fields), for sr-dcr's report."""

    answer_tokens: int | None = None
    """The number of tokens whose log-probabilities were summed (``None``: none were)."""
    confidence_source: str
    """``logprobs`` (the answer span's tokens), ``logprobs (whole reply)`` (the span's
    offsets were unknown), ``stated`` (a confidence line) or ``none`` (no confidence)."""


@role("context-answerer")
class ContextAnswerer(Agent):
    """Answers with (``step=open``) or without (``step=closed``) the context.

    The :class:`SrDcrBrief`'s ``confidence_from`` (``logprobs`` or ``stated``) and
    ``answer_max_tokens`` (the short answer budget of both answers) say how.
    """

    default_templates = {"closed": "sr_closed_book", "closed_stated": "sr_closed_book_stated",
                         "open": "sr_open_book"}
    template_fields = {"closed": frozenset({"question"}), "closed_stated": frozenset({"question"}),
                       "open": frozenset({"question", "context"})}

    def params_for(self, view: View) -> SamplingParams:
        """A short answer budget; the closed-book answer asks for logprobs.

        A stated confidence needs a second line, so that reply keeps the agent's
        own ``max_tokens`` instead of the answer budget.
        """
        brief = view.brief_as(SrDcrBrief)
        step, max_tokens = view.step, brief.answer_max_tokens
        stated = brief.confidence_from == "stated"
        logprobs = step == "closed" and not stated
        if step == "closed" and stated:
            max_tokens = None
        return self.derived_params(("answer", logprobs, max_tokens), logprobs=logprobs,
                                   max_tokens=max_tokens or self.params.max_tokens)

    def messages(self, view: View) -> list[Message]:
        """The closed-book or open-book prompt."""
        q = view.question
        question = question_text(_closed_book(q))
        if view.step == "open":
            prompt = self.render("open", question=question, context=q.context or "")
        elif view.brief_as(SrDcrBrief).confidence_from == "stated":
            prompt = self.render("closed_stated", question=question)
        else:
            prompt = self.render("closed", question=question)
        return [*self.system(), Message(role="user", content=prompt)]

    def read(self, completion: Completion, view: View) -> Parsed:
        """The answer (the reply's answer span) and, closed book, the confidence in it."""
        text = completion.text
        start, end = answer_span(text)
        q = view.question
        fields: dict[str, Any] = {"answer_span": text[start:end]}
        answer = extract_field(text[start:end], q.task, q.choices)
        if q.task == "numeric" and answer.answer is not None and count_numbers(
                text[start:end]) > 1:  # a sentence, not the answer alone: its last number
            answer = Extraction(answer.answer, "last-number")  # is a guess, and says so
        if view.step != "closed":
            return Parsed(answer, None, fields)
        confidence, source, tokens = None, "none", None
        if view.brief_as(SrDcrBrief).confidence_from == "stated":
            stated = parse_fields(text, ("confidence",)) or {}
            confidence = parse_confidence(stated.get("confidence"))
            source = "stated" if confidence is not None else "none"
        elif completion.logprobs:
            chosen = span_logprobs(completion.logprobs, text, (start, end))
            if chosen is None:  # offsets unknown: the whole reply, recorded as such
                chosen, source = [t.logprob for t in completion.logprobs], "logprobs (whole reply)"
            else:
                source = "logprobs"
            confidence = sequence_confidence(chosen) if chosen else None
            tokens = len(chosen)
        ClosedBookConfidence(answer_tokens=tokens, confidence_source=source).write(fields)
        return Parsed(answer, confidence, fields)


class _Arguer(Agent):
    def kind(self, view: View) -> TurnKind:
        """An argument."""
        return "argument"

    def transcript(self, view: View) -> str:
        """The debate so far (``view.peers``), one line per argument."""
        lines = [self.render("line", speaker=t.agent, text=t.raw) for t in view.peers]
        return "\n".join(lines) if lines else "(nothing yet)"

    def context_answer(self, view: View) -> str:
        """The answer from the passage that the debate is about (the brief's ``context_answer``)."""
        answer = view.brief_as(SrDcrBrief).context_answer
        if answer is None:
            raise ConfigError(f"role {self.role!r} argues over the context answer: give it "
                              "as View(..., brief=SrDcrBrief(context_answer=...))")
        return answer


@role("defender")
class Defender(_Arguer):
    """Argues, from the passage, that the context answer is right."""

    default_templates = {"argue": "sr_defender", "line": "sr_line"}
    template_fields = {"argue": frozenset({"context", "question", "context_answer", "transcript"}),
                       "line": frozenset({"speaker", "text"})}

    def messages(self, view: View) -> list[Message]:
        """Context, question, the context answer and the transcript."""
        q = view.question
        prompt = self.render("argue", context=q.context or "",
                             question=question_text(_closed_book(q)),
                             context_answer=self.context_answer(view),
                             transcript=self.transcript(view))
        return [*self.system(), Message(role="user", content=prompt)]


@role("context-critic")
class ContextCritic(_Arguer):
    """SR-DCR's critic: argues from its own knowledge, without the passage (the paper's setting)."""

    default_templates = {"argue": "sr_critic", "line": "sr_line"}
    template_fields = {"argue": frozenset({"context_block", "question", "context_answer",
                                           "transcript"}),
                       "line": frozenset({"speaker", "text"})}

    def messages(self, view: View) -> list[Message]:
        """Question, claimed answer, transcript; the passage only if asked."""
        q = view.question
        sees = view.brief_as(SrDcrBrief).critic_sees_context
        block = f"\nContext:\n{q.context}\n" if sees else ""
        prompt = self.render("argue", context_block=block,
                             question=question_text(_closed_book(q)),
                             context_answer=self.context_answer(view),
                             transcript=self.transcript(view))
        return [*self.system(), Message(role="user", content=prompt)]


@role("reliability-judge")
class ReliabilityJudgeAgent(_Arguer):
    """Reads the debate transcript (only) and decides whether the context is reasonable."""

    default_templates = {"judge": "sr_judge", "line": "sr_line"}
    template_fields = {"judge": frozenset({"transcript"}), "line": frozenset({"speaker", "text"})}

    def kind(self, view: View) -> TurnKind:
        """A verdict."""
        return "verdict"

    def params_for(self, view: View) -> SamplingParams:
        """Ask for the verdict schema."""
        return self.with_schema(RELIABILITY_SCHEMA)

    def messages(self, view: View) -> list[Message]:
        """The whole debate, and nothing else: no passage, no question."""
        prompt = self.render("judge", transcript=self.transcript(view))
        return [*self.system(), Message(role="user", content=prompt)]

    def parse(self, text: str, view: View) -> Parsed:
        """The verdict, lower case, as the turn's answer (``None`` when unreadable)."""
        verdict = parse_reliability(text)
        fields = parse_fields(text, ("verdict", "reason")) or {}
        ReliabilityVerdict(reason=fields.get("reason"),
                           parse_error=None if verdict is not None
                           else "no REASONABLE/UNREASONABLE verdict").write(fields)
        return Parsed(Extraction(verdict, "field") if verdict else NO_ANSWER, None, fields)
