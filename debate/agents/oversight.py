"""Roles of the oversight protocols (``debate-qa``, ``consultancy``, ``blind-judge``).

Two debaters (or one consultant) argue *assigned* answers to a reading
question; they see the passage, the judge never does (Irving et al. 2018;
Khan et al. 2024). Debaters back claims with ``<quote>...</quote>`` from the
passage; every quote is checked against the passage (:func:`check_quotes`) and
the judge sees it as ``<v_quote>`` (verified) or ``<u_quote>`` (not found).
The judge states a probability for each answer; :func:`parse_probabilities`
reads it, and a reply it cannot read is recorded with no decision, never
guessed.

What a role needs besides the question travels in :attr:`View.oversight`, an
:class:`OversightBrief`: the two answers, the seat acting, the transcript so
far and the step.
"""

from __future__ import annotations

import hashlib
import math
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from debate.agents.base import Agent, Parsed, View, role
from debate.models.types import Completion, Message, SamplingParams, TokenLogprob
from debate.parsing import parse_json_object
from debate.scoring import NO_ANSWER, Extraction, normalize_gold, normalize_text
from debate.trace import Question, TurnKind

__all__ = ["LABELS", "Consultant", "OversightBrief", "OversightJudge", "QaDebater", "Speech",
           "answer_key", "answer_pair", "check_quotes", "first_correct_seat",
           "letter_probabilities", "parse_confidence_percent", "parse_probabilities"]

LABELS = ("A", "B")
"""The two answers' labels, in the order the judge sees them; debater A defends answer A."""

Step = Literal["speak", "confidence", "ask", "decide", "probe"]


@dataclass(frozen=True, slots=True)
class Speech:
    """One entry of a transcript as it is shown: who spoke in which round, and what."""

    speaker: str
    """``Debater A``, ``Consultant``, ``Judge``..."""
    round: int
    text: str
    """For debaters' speeches, with quotes marked verified or unverified."""
    turn_id: str = ""
    """The id of the turn shown (the showing turn's ``saw`` lists it)."""


@dataclass(frozen=True, slots=True)
class OversightBrief:
    """What an oversight role needs for one action (the view's ``oversight``)."""

    answers: tuple[str, str]
    """Answer A and answer B, as the debaters and the judge see them."""
    step: Step
    """``speak`` (a debater's speech), ``confidence`` (its private estimate of winning),
    ``ask`` (the judge's question to the debaters), ``decide`` (the judge's probabilities),
    ``probe`` (the judge's probabilities after one sampled speech, for preference data)."""
    seat: str | None = None
    """The label of the answer the acting debater or consultant defends."""
    transcript: tuple[Speech, ...] = ()
    """What was said so far (for a debater: since its last speech)."""
    rounds: int = 3
    """The number of rounds of the debate (shown to the speakers)."""
    word_limit: int = 150
    """Words per speech (shown to the speakers)."""
    opponent: bool = True
    """Whether the speaker has an opponent (debate) or argues alone (consultancy)."""
    sample: int = 0
    """Which of the speeches sampled at this point (``speech_samples``) this is."""
    judge_confidence: Literal["stated", "logprobs"] = "stated"
    """How the judge's probabilities are read (see :func:`letter_probabilities`)."""


_QUOTE = re.compile(r"<quote>(.*?)</quote>", re.DOTALL | re.IGNORECASE)
_PUNCT = str.maketrans({c: " " for c in string.punctuation + "“”‘’—–…"})


def _squash(text: str) -> str:
    """Lowercase, punctuation to spaces, whitespace collapsed (the quote check's form)."""
    return " ".join(text.lower().translate(_PUNCT).split())


def check_quotes(text: str, passage: str) -> tuple[str, int, int]:
    """Mark each ``<quote>`` of ``text`` as verified or not against ``passage``.

    A quote is verified when, lowercased with punctuation and runs of whitespace
    each made one space, it occurs in the passage so normalised; an empty quote
    is not. Returns the text with ``<v_quote>``/``<u_quote>`` tags, the number of
    quotes and the number verified.
    """
    target = f" {_squash(passage)} "
    counts = [0, 0]

    def mark(match: re.Match[str]) -> str:
        body = match.group(1)
        squashed = _squash(body)
        ok = bool(squashed) and f" {squashed} " in target
        counts[0] += 1
        counts[1] += ok
        tag = "v_quote" if ok else "u_quote"
        return f"<{tag}>{body}</{tag}>"

    return _QUOTE.sub(mark, text), counts[0], counts[1]


_PROB = re.compile(r"(?:answer\s*|p\s*\(\s*|\bprob(?:ability)?\s*(?:of\s*)?(?:answer\s*)?)?"
                   r"\b([AB])\b\s*\)?\s*[:=]\s*(\d*\.?\d+)\s*(%?)(\s*(?:-|–|to)\s*\d)?",
                   re.IGNORECASE)


def parse_probabilities(text: str) -> tuple[dict[str, float] | None, str | None]:
    """The judge's probability for answers A and B: ``({"A": p, "B": 1 - p}, None)``.

    Read from a JSON object (``{"A": 0.7, "B": 0.3}``) or labelled lines
    (``A: 0.7``, ``Answer B: 30%``, ``P(A) = 0.7``; the last mention of each
    counts). Values are in ``[0, 1]``, or percentages with ``%``, or both bare
    numbers summing to 100. One stated value gives the other as its complement;
    two that do not sum to 1 are scaled to (the reply is kept in the trace). Returns
    ``(None, reason)`` when the reply states none, a value is out of range, or both
    are 0: no decision is made from it.
    """
    found: dict[str, tuple[float, bool]] = {}
    obj = parse_json_object(text)
    if obj is not None:
        for key, value in obj.items():
            label = str(key).strip().upper().removeprefix("ANSWER").strip(" _")
            if label in LABELS and isinstance(value, int | float) and not isinstance(value, bool):
                found[label] = (float(value), False)
            elif label in LABELS and isinstance(value, str):
                number = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(%?)\s*", value)
                if number:
                    found[label] = (float(number.group(1)), bool(number.group(2)))
    if not found:
        for match in _PROB.finditer(text):
            if match.group(4):
                return None, f"a range for {match.group(1).upper()}, not one probability"
            found[match.group(1).upper()] = (float(match.group(2)), bool(match.group(3)))
    if not found:
        return None, "no probability for A or B in the reply"
    bare = [v for v, pct in found.values() if not pct]
    as_percent = len(found) == 2 and bare and abs(sum(v for v, _ in found.values()) - 100) <= 1
    probs: dict[str, float] = {}
    for label, (value, pct) in found.items():
        p = value / 100 if pct or as_percent else value
        if not 0 <= p <= 1:
            return None, f"probability of {label} out of range: {value:g}{'%' if pct else ''}"
        probs[label] = p
    if len(probs) == 1:
        (label, p), = probs.items()
        probs[LABELS[1 - LABELS.index(label)]] = 1 - p
    total = probs["A"] + probs["B"]
    if total <= 0:
        return None, "both probabilities are 0"
    return {label: probs[label] / total for label in LABELS}, None


def letter_probabilities(tokens: Sequence[TokenLogprob] | None
                         ) -> tuple[dict[str, float] | None, str | None]:
    """P(A) and P(B) from the answer token's log-probabilities (the reference's judge).

    The first token's alternatives (``top``, with the token itself) are searched for
    ``A`` and ``B`` (surrounding spaces ignored); one missing counts as log-probability
    -100, and the two are normalised (a softmax over the pair). ``(None, reason)``
    without log-probabilities or when neither letter is among them.
    """
    if not tokens:
        return None, "the backend returned no log-probabilities"
    first = tokens[0]
    found: dict[str, float] = {}
    for token, logprob in [*(first.top or {}).items(), (first.token, first.logprob)]:
        label = token.strip().upper()
        if label in LABELS:
            found[label] = max(found.get(label, -math.inf), logprob)
    if not found:
        return None, "neither A nor B among the answer token's log-probabilities"
    la, lb = found.get("A", -100.0), found.get("B", -100.0)
    top = max(la, lb)
    ea, eb = math.exp(la - top), math.exp(lb - top)
    return {"A": ea / (ea + eb), "B": eb / (ea + eb)}, None


_OUT_OF_100 = re.compile(r"\s*(?:/|out\s+of)\s*100\b", re.IGNORECASE)


def parse_confidence_percent(text: str) -> float | None:
    """A stated chance of winning, 0-100 (``73``, ``73%``, ``73/100``, ``{"confidence": 73}``).

    Returned as 0-1; ``None`` when the reply states no number, several different ones
    (``between 60 and 70``), or one outside 0-100.
    """
    obj = parse_json_object(text)
    value: object = None
    if obj is not None:
        value = next((v for k, v in obj.items() if "confiden" in str(k).lower()
                      or "probab" in str(k).lower()), None)
    if value is None:
        numbers = set(re.findall(r"(?<![\w.])(\d+(?:\.\d+)?)(?![\w.])",
                                 _OUT_OF_100.sub("", text)))
        if len(numbers) != 1:
            return None
        value = numbers.pop()
    try:
        number = float(str(value).strip().rstrip("%"))
    except ValueError:
        return None
    return number / 100 if 0 <= number <= 100 else None


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


def _brief(view: View) -> OversightBrief:
    brief = view.oversight
    if brief is None:
        raise ValueError("an oversight role needs view.oversight (an OversightBrief)")
    return brief


def _shown(view: View) -> list[str]:
    """The turns an oversight role's messages show: its brief's transcript."""
    brief = view.oversight
    return [s.turn_id for s in brief.transcript if s.turn_id] if brief is not None else []


def _transcript(speeches: tuple[Speech, ...]) -> str:
    return "\n\n".join(f"{s.speaker} (round {s.round + 1}):\n{s.text}" for s in speeches)


@role("qa-debater")
class QaDebater(Agent):
    """Argues for its assigned answer over several rounds, quoting the passage.

    Keeps one chat per order: the first call states the rules, the passage, the
    question and both answers; each later call adds what was said since its last
    speech. The private confidence call branches off that chat: nobody else sees it,
    and its own later speeches do not either.
    """

    default_templates = {"rules": "oversight_debater", "first": "oversight_speak_first",
                         "next": "oversight_speak_next", "confidence": "oversight_confidence"}
    template_fields = {
        "rules": frozenset({"seat", "answer", "other_seat", "other_answer", "rounds",
                            "word_limit"}),
        "first": frozenset({"passage", "question", "answer_a", "answer_b", "seat", "answer",
                            "word_limit", "so_far"}),
        "next": frozenset({"transcript", "round", "rounds", "seat", "answer", "word_limit"}),
        "confidence": frozenset({"seat", "answer"}),
    }

    def kind(self, view: View) -> TurnKind:
        """A speech is an ``argument``; the private estimate a ``confidence``."""
        return "confidence" if _brief(view).step == "confidence" else "argument"

    def shown(self, view: View, messages: Sequence[Message]) -> list[str]:
        """The speeches and questions its transcript shows (quotes marked, so not verbatim)."""
        return _shown(view)

    def params_for(self, view: View) -> SamplingParams:
        """Sample ``i`` > 0 of a point is its own sampler (and seed): a distinct call."""
        i = _brief(view).sample
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
        brief = _brief(view)
        seat, answer, other_seat, other_answer = self._seat(brief)
        if brief.step == "confidence":
            return self.chat(view, self.render("confidence", seat=seat, answer=answer))
        if view.history:
            return self.chat(view, self.render(
                "next", transcript=_transcript(brief.transcript), round=view.round + 1,
                rounds=brief.rounds, seat=seat, answer=answer, word_limit=brief.word_limit))
        rules = self.render("rules", seat=seat, answer=answer, other_seat=other_seat,
                            other_answer=other_answer, rounds=brief.rounds,
                            word_limit=brief.word_limit)
        so_far = (f"So far this round:\n\n{_transcript(brief.transcript)}\n\n"
                  if brief.transcript else "")  # sequential moves: the opponent spoke first
        first = self.render("first", passage=view.question.context or "",
                            question=view.question.text, answer_a=brief.answers[0],
                            answer_b=brief.answers[1], seat=seat, answer=answer,
                            word_limit=brief.word_limit, so_far=so_far)
        system = f"{self.system_prompt}\n\n{rules}" if self.system_prompt else rules
        return [Message(role="system", content=system), Message(role="user", content=first)]

    def parse(self, text: str, view: View) -> Parsed:
        """A speech has no answer to parse (its side is assigned); an estimate, a percentage."""
        if _brief(view).step == "confidence":
            confidence = parse_confidence_percent(text)
            fields = {} if confidence is not None else {"parse_error": "no 0-100 number"}
            return Parsed(NO_ANSWER, confidence, fields)
        return Parsed()


@role("consultant")
class Consultant(QaDebater):
    """Argues alone for its assigned answer; the judge may question it between rounds."""

    default_templates = {"rules": "oversight_consultant", "first": "oversight_speak_first",
                         "next": "oversight_speak_next", "confidence": "oversight_confidence"}


@role("qa-judge")
class OversightJudge(Agent):
    """Reads the question, both answers and the transcript, never the passage.

    Step ``ask``: one question to the speakers; ``decide``/``probe``: a probability
    for each answer. A blind judge gets no transcript.
    """

    default_templates = {"rules": "oversight_judge", "task": "oversight_judge_task",
                         "ask": "oversight_judge_ask", "decide": "oversight_judge_decide",
                         "letter": "oversight_judge_letter"}
    template_fields = {
        "rules": frozenset(),
        "task": frozenset({"question", "answer_a", "answer_b", "transcript"}),
        "ask": frozenset(),
        "decide": frozenset(),
        "letter": frozenset(),
    }

    def kind(self, view: View) -> TurnKind:
        """A question to the speakers, or a verdict."""
        return "question" if _brief(view).step == "ask" else "verdict"

    def messages(self, view: View) -> list[Message]:
        """One fresh prompt: what the judge may see, then what it must do."""
        brief = _brief(view)
        transcript = _transcript(brief.transcript) if brief.transcript else "(no debate)"
        task = self.render("task", question=view.question.text, answer_a=brief.answers[0],
                           answer_b=brief.answers[1], transcript=transcript)
        step = self.render("ask" if brief.step == "ask" else
                           "letter" if brief.judge_confidence == "logprobs" else "decide")
        rules = self.render("rules")
        system = f"{self.system_prompt}\n\n{rules}" if self.system_prompt else rules
        return [Message(role="system", content=system),
                Message(role="user", content=f"{task}\n\n{step}")]

    def shown(self, view: View, messages: Sequence[Message]) -> list[str]:
        """The speeches and questions its transcript shows (quotes marked, so not verbatim)."""
        return _shown(view)

    def params_for(self, view: View) -> SamplingParams:
        """With ``judge_confidence: logprobs``, verdicts ask for the top 5 log-probabilities."""
        brief = _brief(view)
        if brief.step == "ask" or brief.judge_confidence == "stated":
            return self.params
        return self.derived_params("letter", logprobs=True, top_logprobs=5)

    def read(self, completion: Completion, view: View) -> Parsed:
        """Probabilities (decide, probe), stated or from the answer token; a question as text."""
        brief = _brief(view)
        if brief.step == "ask":
            return Parsed()
        if brief.judge_confidence == "logprobs":
            probs, error = letter_probabilities(completion.logprobs)
        else:
            probs, error = parse_probabilities(completion.text)
        if probs is None:
            return Parsed(NO_ANSWER, None, {"parse_error": error, "probabilities": None})
        decision = max(LABELS, key=lambda label: probs[label])
        tie = probs["A"] == probs["B"]
        return Parsed(NO_ANSWER if tie else Extraction(decision, "field"), None,
                      {"probabilities": probs})
