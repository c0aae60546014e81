"""Roles of MAD (Liang et al., 2023): affirmative and negative debaters, moderator, judge.

All of them keep their own chat. The moderator's reply is parsed into a
typed verdict (JSON or labelled lines, never ``eval``; the reference's own keys
such as "Whether there is a preference" are read too), a :class:`ModeratorVerdict`:
``preference`` is ``True``/``False``/``None`` (unreadable), ``debate_answer`` the
stated answer, and the turn's ``answer`` that answer parsed for the task
(``None`` when it does not parse). The protocol decides whether it ends the debate.
The judge's decision keeps its reason (:class:`MadJudgeDecision`).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import JsonValue

from debate.agents.base import Agent, Parsed, View, question_text, read_answer, role
from debate.models.types import Message, SamplingParams
from debate.scoring.fields import bare_word, parse_fields
from debate.trace import TurnKind
from debate.trace_extensions import TurnExtension

__all__ = ["Affirmative", "MadJudge", "MadJudgeDecision", "Moderator", "ModeratorVerdict",
           "Negative", "VERDICT_SCHEMA", "read_preference"]

VERDICT_SCHEMA: dict[str, Any] = {
    "title": "moderator_verdict",
    "type": "object",
    "properties": {
        "preference": {"type": "string", "enum": ["yes", "no"]},
        "supported_side": {"type": "string"},
        "reason": {"type": "string"},
        "debate_answer": {"type": "string"},
    },
    "required": ["preference", "supported_side", "reason", "debate_answer"],
}
ANSWER_SCHEMA: dict[str, Any] = {
    "title": "judge_answer",
    "type": "object",
    "properties": {"reason": {"type": "string"}, "debate_answer": {"type": "string"}},
    "required": ["reason", "debate_answer"],
}
VERDICT_FIELDS = ("preference", "supported_side", "reason", "debate_answer")
_ALIASES = {"whether_there_is_a_preference": "preference",
            "debate_translation": "debate_answer", "correct_translation": "debate_answer"}


def read_preference(value: object) -> bool | None:
    """Whether a moderator states a preference: yes/true -> True, no/false -> False, else None."""
    return {"yes": True, "true": True, "no": False, "false": False}.get(bare_word(value))


def _verdict_fields(text: str) -> dict[str, Any] | None:
    found = parse_fields(text, VERDICT_FIELDS + tuple(_ALIASES))
    if found is None:
        return None
    fields: dict[str, Any] = {}
    for key, value in found.items():
        fields.setdefault(_ALIASES.get(key, key), value)
    return fields


class ModeratorVerdict(TurnExtension):
    """The MAD moderator's verdict on a round (turn fields); mad ends the debate on it.

    ``reason`` stays where the reply put it among the fields; the preference as written
    is kept beside them as ``stated_preference``.
    """

    stored_none: ClassVar[frozenset[str]] = frozenset({"preference"})

    parse_error: str | None = None
    """Why the reply held no verdict fields (``None``: it held some)."""
    reason: JsonValue = None
    """The reply's ``reason``, as the model wrote it (text, when it follows the schema)."""
    preference: bool | None = None
    """Whether the moderator states a preference (:func:`read_preference`; ``None``:
    unreadable, stored as ``null``)."""
    debate_answer: str
    """The answer it states, stripped (empty: none)."""


class MadJudgeDecision(TurnExtension):
    """The MAD judge's decision (turn fields): its reason, which mad reports, and its answer.

    Both are the reply's own values, where the reply put them among the fields.
    """

    reason: JsonValue = None
    """The reply's ``reason``, as the model wrote it (text, when it follows the schema)."""
    debate_answer: JsonValue = None
    """The reply's ``debate_answer``, as the model wrote it (the turn's answer parses it)."""


class MadDebater(Agent):
    """A MAD debater; ``opens`` says whether it answers first (affirmative)."""

    opens = True
    default_templates = {"meta": "mad_meta", "open": "mad_open", "oppose": "mad_oppose",
                         "reply": "mad_reply"}
    template_fields = {
        "meta": frozenset({"question"}),
        "open": frozenset({"question", "format"}),
        "oppose": frozenset({"opponent", "format"}),
        "reply": frozenset({"opponent", "format"}),
    }

    def messages(self, view: View) -> list[Message]:
        """First turn: open (affirmative) or oppose (negative); later: reply to the other side."""
        question = question_text(view.question)
        fmt = self.format_instruction(view.question)
        meta = self.render("meta", question=question)
        if not view.history and self.opens:
            return self.chat(view, self.render("open", question=question, format=fmt), meta)
        template = "reply" if view.history else "oppose"
        return self.chat(view, self.render(template, opponent=view.peers[-1].raw, format=fmt),
                         meta)


@role("affirmative")
class Affirmative(MadDebater):
    """Answers the question first, then replies to the negative side."""

    opens = True


@role("negative")
class Negative(MadDebater):
    """Disagrees with the affirmative side's answer and argues for its own."""

    opens = False


@role("moderator")
class Moderator(Agent):
    """Reads each round and either declares the answer or lets the debate go on."""

    default_templates = {"meta": "mad_moderator_meta", "judge_round": "mad_moderator"}
    template_fields = {"meta": frozenset({"question"}),
                       "judge_round": frozenset({"round", "affirmative", "negative"})}

    def kind(self, view: View) -> TurnKind:
        """A verdict."""
        return "verdict"

    def params_for(self, view: View) -> SamplingParams:
        """Ask for the verdict schema."""
        return self.with_schema(VERDICT_SCHEMA)

    def messages(self, view: View) -> list[Message]:
        """The round's two sides (``view.peers``: affirmative, negative)."""
        affirmative, negative = view.peers
        prompt = self.render("judge_round", round=view.round + 1, affirmative=affirmative.raw,
                             negative=negative.raw)
        meta = self.render("meta", question=question_text(view.question))
        return self.chat(view, prompt, meta)

    def parse(self, text: str, view: View) -> Parsed:
        """The typed verdict: stated preference, supported side, reason and answer."""
        fields = _verdict_fields(text)
        if fields is None:
            unread: dict[str, Any] = {}
            ModeratorVerdict(parse_error="no verdict fields in the reply", preference=None,
                             debate_answer="").write(unread)
            return Parsed(fields=unread)
        stated = fields.get("preference")
        fields["stated_preference"] = stated
        ModeratorVerdict(reason=fields.get("reason"), preference=read_preference(stated),
                         debate_answer=str(fields.get("debate_answer") or "").strip()
                         ).write(fields)
        return Parsed(read_answer(text, view.question, fields, key="debate_answer"), None, fields)


@role("mad-judge")
class MadJudge(Agent):
    """After the last round without a verdict: lists the candidates, then decides (2 calls)."""

    default_templates = {"meta": "mad_moderator_meta", "candidates": "mad_judge_candidates",
                         "decide": "mad_judge_decide"}
    template_fields = {"meta": frozenset({"question"}),
                       "candidates": frozenset({"affirmative", "negative"}),
                       "decide": frozenset({"question", "format"})}

    def kind(self, view: View) -> TurnKind:
        """A verdict."""
        return "verdict"

    def params_for(self, view: View) -> SamplingParams:
        """The deciding call asks for the answer schema."""
        if view.step == "decide":
            return self.with_schema(ANSWER_SCHEMA)
        return self.params

    def messages(self, view: View) -> list[Message]:
        """Step ``candidates``: both sides' arguments; step ``decide``: pick the answer."""
        question = question_text(view.question)
        if view.step == "decide":
            return self.chat(view, self.render("decide", question=question,
                                               format=self.format_instruction(view.question)))
        affirmative, negative = view.peers
        prompt = self.render("candidates", affirmative=affirmative.raw, negative=negative.raw)
        return self.chat(view, prompt, self.render("meta", question=question))

    def parse(self, text: str, view: View) -> Parsed:
        """Candidates are kept as text; the decision's answer is parsed.

        A ``debate_answer`` field is the answer (or there is none); without the
        field the task's extractor reads the reply.
        """
        if view.step != "decide":
            return Parsed()
        fields = _verdict_fields(text) or {}
        MadJudgeDecision(reason=fields.get("reason"),
                         debate_answer=fields.get("debate_answer")).write(fields)
        return Parsed(read_answer(text, view.question, fields, key="debate_answer"), None, fields)
