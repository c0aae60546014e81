"""Roles of the oversight protocols (``debate-qa``, ``consultancy``, ``blind-judge``).

Two debaters (or one consultant) argue *assigned* answers to a reading
question; they see the passage, the judge never does (Irving et al. 2018;
Khan et al. 2024). Debaters back claims with ``<quote>...</quote>`` from the
passage; every quote is checked against the passage (:func:`check_quotes`) and
the judge sees it as ``<v_quote>`` (verified) or ``<u_quote>`` (not found).
The judge (:mod:`debate.agents.oversight_judge`, re-exported here) gives a
verdict; one it cannot read is recorded with no decision, never guessed.

What a role needs besides the question travels in :attr:`View.brief`, an
:class:`OversightBrief` (:mod:`debate.agents.oversight_brief`): the two answers,
the seat acting, the transcript so far and the step.
"""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Sequence
from functools import lru_cache
from typing import ClassVar, Literal

from debate.agents.base import Agent, Parsed, View, role
from debate.agents.oversight_brief import (
    JudgeFormat,
    OversightBrief,
    Speech,
    Step,
    brief_of,
    shown_ids,
    transcript_text,
)
from debate.agents.oversight_judge import OversightJudge
from debate.models.types import Message, SamplingParams
from debate.scoring import NO_ANSWER, normalize_gold, normalize_text
from debate.scoring.fields import parse_confidence_percent
from debate.scoring.verdicts import LABELS
from debate.trace import Question, TurnKind

__all__ = ["Consultant", "JudgeFormat", "OversightBrief", "OversightJudge", "QaDebater",
           "Speech", "Step", "answer_key", "answer_pair", "check_quotes", "close_split_quote",
           "first_correct_seat"]

_QUOTE = re.compile(r"<quote>(.*?)</quote>", re.DOTALL | re.IGNORECASE)
_MARKED = re.compile(r"<(/?)[uv]_quote>", re.IGNORECASE)
_OPENING = re.compile(r"<(quote|[uv]_quote)>", re.IGNORECASE)
_STRAIGHT = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'"})
_NO_ASCII_PUNCTUATION = str.maketrans("", "", string.punctuation)
_SPACED = str.maketrans({c: " " for c in string.punctuation + "“”‘’—–…"})


def _reference_form(text: str) -> str:
    """The reference's form (``verify_strict``): quotes straight, no ASCII punctuation, lower."""
    return " ".join(text.translate(_STRAIGHT).translate(_NO_ASCII_PUNCTUATION).lower().split())


def _word_form(text: str) -> str:
    """The strict form: lowercased, punctuation (curly quotes, dashes too) made spaces."""
    return " ".join(text.lower().translate(_SPACED).split())


@lru_cache(maxsize=16)
def _passage_form(passage: str, strict: bool) -> str:
    """A passage's normal form, once per passage (every speech shown is checked against it)."""
    return _word_form(passage) if strict else _reference_form(passage)


def check_quotes(text: str, passage: str, strict: bool = False) -> tuple[str, int, int]:
    """Mark each ``<quote>`` of ``text`` as verified or not against ``passage``.

    Default, the reference's rule (``verify_strict`` in ucl-dark/llm_debate): the
    quote and the passage with curly quotes made straight, ASCII punctuation deleted,
    lowercased and whitespace collapsed; the quote is verified when it is a substring
    of the passage (``"ira bake"`` is found in "Mira baked"). ``strict``: punctuation
    becomes spaces instead, and the quote must match whole words. Either way an empty
    quote is not verified (the reference's substring test passes it), and quotes the
    speaker marked ``<v_quote>``/``<u_quote>`` itself are checked like any other, as the
    reference does. Returns the text with ``<v_quote>``/``<u_quote>`` tags, the number
    of quotes and the number verified.
    """
    if strict:
        target = f" {_passage_form(passage, True)} "

        def found(quote: str) -> bool:
            form = _word_form(quote)
            return bool(form) and f" {form} " in target
    else:
        reference = _passage_form(passage, False)

        def found(quote: str) -> bool:
            form = _reference_form(quote)
            return bool(form) and form in reference

    counts = [0, 0]

    def mark(match: re.Match[str]) -> str:
        body = match.group(1)
        ok = found(body)
        counts[0] += 1
        counts[1] += ok
        tag = "v_quote" if ok else "u_quote"
        return f"<{tag}>{body}</{tag}>"

    return _QUOTE.sub(mark, _MARKED.sub(r"<\1quote>", text)), counts[0], counts[1]


def close_split_quote(text: str) -> str:
    """``text`` with its last quote closed when a cut left it open (the reference's ``truncate``).

    ``... <quote>Mira baked`` becomes ``... <quote>Mira baked</quote>``, so the judge
    sees the quote checked, not a dangling tag. Text whose last opened ``<quote>`` (or
    ``<v_quote>``, ``<u_quote>``) is closed comes back unchanged.
    """
    opened = list(_OPENING.finditer(text))
    if not opened:
        return text
    tag = opened[-1].group(1)
    if f"</{tag.lower()}>" in text[opened[-1].end():].lower():
        return text
    return f"{text}</{tag}>"


def answer_pair(question: Question, distractor_field: str = "distractor") -> tuple[str, str]:
    """(correct answer, wrong answer) of a question, as they are shown.

    The correct one is the gold option (``choice``) or the gold answer as the dataset
    wrote it (``gold_text``); the wrong one is the row's ``distractor_field``, else
    one of the other options, picked by a stable hash of the question's id.
    """
    if question.gold is None:
        raise ValueError(f"question {question.id}: needs a gold answer (the side to defend)")
    if question.choices and question.task == "choice":
        index = string.ascii_uppercase.index(question.gold)
        correct = question.choices[index]
        others = [c for i, c in enumerate(question.choices) if i != index]
    else:
        correct = question.gold_text or question.gold
        others = [c for c in question.choices or [] if _norm(question, c) != question.gold]
    distractor = question.metadata.get(distractor_field)
    if distractor not in (None, ""):
        return correct, str(distractor)
    if not others:
        raise ValueError(f"question {question.id}: no {distractor_field!r} field and no other "
                         "option to draw a wrong answer from")
    pick = int(hashlib.sha256(question.id.encode()).hexdigest(), 16) % len(others)
    return correct, others[pick]


def first_correct_seat(question: Question, seed: int) -> str:
    """The seat (``A``/``B``) that defends the correct answer in a question's first order."""
    digest = hashlib.sha256(f"{seed}:{question.id}".encode()).digest()
    return LABELS[digest[0] & 1]


def _norm(question: Question, answer: str) -> str:
    """``answer`` in the gold's normal form for the question's task."""
    try:
        return normalize_gold(answer, question.task, question.choices)
    except ValueError:
        return normalize_text(answer)


def answer_key(question: Question, answer: str) -> str:
    """The answer as the trace's final answer records it (comparable with the gold)."""
    if question.choices and question.task == "choice" and answer in question.choices:
        return string.ascii_uppercase[question.choices.index(answer)]
    return _norm(question, answer)


@role("qa-debater")
class QaDebater(Agent):
    """Argues for its assigned answer over several rounds, quoting the passage.

    Keeps one chat per order: the first call states the rules, the passage, the
    question and both answers; each later call adds what was said since its last
    speech. The private confidence call branches off that chat: nobody else sees it,
    and its own later speeches do not either.
    """

    confidence_scale: ClassVar[Literal[1, 100]] = 100
    """The scale the ``confidence`` template asks for (``oversight_confidence.md``: 0-100)."""
    default_templates = {"rules": "oversight_debater", "first": "oversight_speak_first",
                         "next": "oversight_speak_next", "confidence": "oversight_confidence"}
    template_fields = {
        "rules": frozenset({"seat", "answer", "other_seat", "other_answer", "rounds",
                            "word_limit"}),
        "first": frozenset({"passage", "question", "answer_a", "answer_b", "seat", "answer",
                            "word_limit"}),
        "next": frozenset({"transcript", "round", "rounds", "seat", "answer", "word_limit"}),
        "confidence": frozenset({"seat", "answer"}),
    }

    def kind(self, view: View) -> TurnKind:
        """A speech is an ``argument``; the private estimate a ``confidence``."""
        return "confidence" if brief_of(view).step == "confidence" else "argument"

    def shown(self, view: View, messages: Sequence[Message]) -> list[str]:
        """The speeches and questions its transcript shows (quotes marked, so not verbatim)."""
        return shown_ids(view)

    def params_for(self, view: View) -> SamplingParams:
        """Sample ``i`` > 0 of a point is its own sampler (and seed): a distinct call."""
        i = brief_of(view).sample
        if not i:
            return self.params
        seed = self.params.seed
        return self.derived_params(("sample", i), sampler=f"{self.params.sampler}#s{i}",
                                   seed=None if seed is None else seed + 1000 * i)

    def _seat(self, brief: OversightBrief) -> tuple[str, str, str, str]:
        assert brief.seat is not None, "a speaker needs its seat"
        i = LABELS.index(brief.seat)
        return brief.seat, brief.answers[i], LABELS[1 - i], brief.answers[1 - i]

    def messages(self, view: View) -> list[Message]:
        """First speech: rules, passage, question; later: the new exchanges; or the estimate."""
        brief = brief_of(view)
        seat, answer, other_seat, other_answer = self._seat(brief)
        if brief.step == "confidence":
            return self.chat(view, self.render("confidence", seat=seat, answer=answer))
        if view.history:
            return self.chat(view, self.render(
                "next", transcript=transcript_text(brief.transcript), round=view.round + 1,
                rounds=brief.rounds, seat=seat, answer=answer, word_limit=brief.word_limit))
        rules = self.render("rules", seat=seat, answer=answer, other_seat=other_seat,
                            other_answer=other_answer, rounds=brief.rounds,
                            word_limit=brief.word_limit)
        first = self.render("first", passage=view.question.context or "",
                            question=view.question.text, answer_a=brief.answers[0],
                            answer_b=brief.answers[1], seat=seat, answer=answer,
                            word_limit=brief.word_limit)
        system = f"{self.system_prompt}\n\n{rules}" if self.system_prompt else rules
        return [Message(role="system", content=system), Message(role="user", content=first)]

    def parse(self, text: str, view: View) -> Parsed:
        """A speech has no answer to parse (its side is assigned); an estimate, a percentage."""
        if brief_of(view).step == "confidence":
            confidence = parse_confidence_percent(text, self.confidence_scale)
            scale = f"no 0-{self.confidence_scale} number"
            fields = {} if confidence is not None else {"parse_error": scale}
            return Parsed(NO_ANSWER, confidence, fields)
        return Parsed()


@role("consultant")
class Consultant(QaDebater):
    """Argues alone for its assigned answer; the judge may question it between rounds."""

    default_templates = {"rules": "oversight_consultant", "first": "oversight_speak_first",
                         "next": "oversight_speak_next", "confidence": "oversight_confidence"}
