"""Extraction: the answer a reply gives, and the rule that found it (see :mod:`debate.scoring`)."""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

from debate.scoring.fields import parse_json_object
from debate.scoring.numbers import canonical_number, parse_number

if TYPE_CHECKING:
    from debate.trace import TaskType

__all__ = ["EXPLICIT_RULES", "FALLBACK_RULES", "NO_ANSWER", "Extraction", "answer_instruction",
           "asked_form", "count_numbers", "extract", "extract_answer", "extract_field",
           "last_boxed", "normalize_text"]

EXPLICIT_RULES = frozenset({"boxed", "hashes", "answer-line", "field"})
"""Rules that read an answer the model gave in the asked form."""
FALLBACK_RULES = frozenset({"last-number", "letter", "keyword", "choice-text"})
"""Rules that guess an answer from free text."""


@dataclass(frozen=True, slots=True)
class Extraction:
    """An extracted answer and the rule that found it (``None``, ``None``: no answer)."""

    answer: str | None
    """The normalized answer, or ``None`` when the reply holds none."""
    rule: str | None = None
    """How it was found: one of :data:`EXPLICIT_RULES` or :data:`FALLBACK_RULES`
    (a custom parser may name its own, counted as explicit)."""

    @property
    def source(self) -> Literal["explicit", "fallback"] | None:
        """``explicit``, ``fallback``, or ``None`` when there is no answer."""
        if self.answer is None:
            return None
        return "fallback" if self.rule in FALLBACK_RULES else "explicit"


NO_ANSWER = Extraction(None)

_NUM = (r"[-−]?[$€£¥₹]?\s?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+\b)?"
        r"(?:/\d+)?%?|[-−]?\.\d+")
"""A number as models write it: sign (ASCII or typeset), currency, thousands, decimals,
an exponent (read up to 1e400: :func:`debate.scoring.numbers.parse_number`), a fraction, a percent
sign."""
_NUM_RE = re.compile(_NUM)
_HASHES_RE = re.compile(r"####\s*(" + _NUM + ")")
_LABEL = r"\b(?:final\s+)?answer\b\**\s*(?:is\b|[:=])\s*[:=]?\s*\**\s*"
"""An answer line's label: "answer is", "Answer:", "**Final answer**:" (not "answer isn't")."""
_ANSWER_IS_RE = re.compile(_LABEL + r"\(?(" + _NUM + r")", re.IGNORECASE)
_FRAC_RE = re.compile(r"\\d?frac\{(-?\d+)\}\{(-?\d+)\}")
_YES = {"yes", "true"}
_NO = {"no", "false"}
_YESNO_WORD = re.compile(r"\b(yes|no|true|false)\b")
# the word must end the answer ("the answer is no longer obvious" states none)
_YESNO_ANSWER = re.compile(_LABEL + r"(yes|no|true|false)\b(?!\s+[a-z])")
_EXACT_ANSWER = re.compile(_LABEL + r"(.+)", re.IGNORECASE)
_ANSWER_LINE = re.compile(r"^[ \t]*(?:[-*>#]+[ \t]+)?\**[ \t]*(?:final[ \t]+)?answer[ \t]*\**"
                          r"[ \t]*[:=][ \t]*(.*)$", re.IGNORECASE | re.MULTILINE)
"""A line that starts with the answer's label ("Answer: ...", "**Final answer**: ...")."""
_JSON_ANSWER = re.compile(r"[\"'](?:final[ _])?answer[\"']\s*:", re.IGNORECASE)
_ANSWER_KEY = re.compile(r"(?:final[ _])?answer", re.IGNORECASE)
_OUT_OF = r"(?:[ \t]*(?:%|percent|/[ \t]*\d+|out[ \t]+of[ \t]+\d+))"
_CONFIDENCE = re.compile(
    r"\b(?:confidence|certainty)\b[\"'*]*[ \t]*(?:level|score|rating)?[\"'*]*[ \t]*"
    r"(?:(?:is|of|at)\b|[:=(]\**\s*)?[ \t]*(?:about|around|roughly|~)?[ \t]*\d+(?:\.\d+)?"
    rf"{_OUT_OF}?"
    rf"|(?:\b\d+(?:\.\d+)?{_OUT_OF}|\b0?\.\d+|\b1\.0+)[ \t]*"
    r"(?:confident|confidence|certain|certainty|sure)\b",
    re.IGNORECASE)
"""A number that states a confidence ("90% confident", "confidence: 0.9"): never an answer."""
_CONFIDENCE_WORDS = ("confiden", "certain", "sure")
"""A cheap test before :data:`_CONFIDENCE` (which is tried at every digit otherwise)."""
_ARTICLES = re.compile(r"\b(a|an|the)\b")

INSTRUCTIONS: dict[str, str] = {
    "numeric": "Put your final answer, a single number, in the form \\boxed{answer} "
               "at the end of your response.",
    "choice": "Put the letter of your final choice in the form \\boxed{X} at the end of "
              "your response.",
    "yesno": "Put your final answer, yes or no, in the form \\boxed{answer} at the end "
             "of your response.",
    "exact": "Put your final answer in the form \\boxed{answer} at the end of your response.",
}


def answer_instruction(task: TaskType) -> str:
    """How agents are asked to format their final answer for ``task``."""
    return INSTRUCTIONS[task]


def last_boxed(text: str) -> str | None:
    r"""The content of the last ``\boxed{...}`` (nested braces allowed)."""
    found = _last_boxed_at(text)
    return None if found is None else found[0]


_BOX = re.compile(r"\\boxed\s*\{")
_BRACE = re.compile(r"[{}]")


def _last_boxed_at(text: str) -> tuple[str, int] | None:
    """The last closed box's content and where it ends (linear time, however many boxes)."""
    if "\\boxed" not in text:
        return None
    opens = [m.end() - 1 for m in _BOX.finditer(text)]
    if not opens:
        return None
    closes: dict[int, int] = {}  # each "{" with its "}", in one pass
    stack: list[int] = []
    for brace in _BRACE.finditer(text, opens[0]):
        if brace.group() == "{":
            stack.append(brace.start())
        elif stack:
            closes[stack.pop()] = brace.start()
    for i in reversed(opens):
        j = closes.get(i)
        if j is not None:
            return text[i + 1:j].strip(), j + 1
    return None


def _number(tokens: list[str], rule: str, first: bool = False) -> Extraction:
    """The last (or ``first``) of ``tokens`` as a canonical number."""
    for token in tokens[:1] if first else tokens[-1:]:
        value = parse_number(token)
        if value is not None:
            return Extraction(canonical_number(value), rule)
    return NO_ANSWER


def count_numbers(text: str) -> int:
    """How many numbers ``text`` holds (``3 apples and 4 more``: 2)."""
    return len(_NUM_RE.findall(text.replace("{,}", ",")))


def _without_confidence(text: str) -> str:
    """``text`` with every stated confidence blanked (same length: positions stay)."""
    lowered = text.lower()
    if not any(word in lowered for word in _CONFIDENCE_WORDS):
        return text
    return _CONFIDENCE.sub(lambda m: " " * len(m.group()), text)


def _numeric_in(content: str, rule: str) -> Extraction:
    """The number of an answer span (a box, a field, an answer line).

    A computation gives its result, after the last ``=`` (``2 + 16 = 18``); else a
    span that starts with a number gives that one ("18 (step 3)", "18 dollars per 2
    weeks"); else its last number ("After 2 weeks she saves $18").
    """
    content = content.replace("\\$", "").replace("\\%", "%").replace("\\!", "")
    content = _FRAC_RE.sub(r"\1/\2", _without_confidence(content)).replace("{,}", ",")
    if "=" in content:
        return _number(_NUM_RE.findall(content[content.rindex("=") + 1:]), rule, first=True)
    leading = _NUM_RE.match(content.lstrip(" \t*"))
    if leading is not None:
        return _number([leading.group()], rule)
    return _number(_NUM_RE.findall(content), rule)


def _numeric_stated(text: str) -> Extraction:
    """``#### 42`` or "the answer is 42" in free text, else none."""
    if "####" in text:
        found = _number([m.group(1) for m in _HASHES_RE.finditer(text)], "hashes")
        if found.answer is not None:
            return found
    if "answer" in text.lower():  # the label's regex is slow to try at every word
        return _number([m.group(1) for m in _ANSWER_IS_RE.finditer(text)], "answer-line")
    return NO_ANSWER


def _last_number(text: str) -> Extraction:
    """The last number in ``text`` (read from its end: no number is 64 characters long)."""
    tail = text[-512:]
    matches = list(_NUM_RE.finditer(tail))
    if len(tail) < len(text) and not (matches and matches[-1].start() > 64):
        matches = list(_NUM_RE.finditer(text))
    return _number([matches[-1].group()], "last-number") if matches else NO_ANSWER


def numeric_answer(text: str) -> Extraction:
    """A reply without the asked form: ``#### 42``, "the answer is 42", else the last number."""
    text = _without_confidence(text)
    if "frac" in text:  # "the answer is \\frac{3}{4}"
        text = _FRAC_RE.sub(r"\1/\2", text)
    found = _numeric_stated(text)
    return found if found.answer is not None else _last_number(text)


@lru_cache(maxsize=64)
def _letter_patterns(letters: str) -> tuple[re.Pattern[str], ...]:
    """(answer-line, whole-span, leading, line-start, parenthesised, option-word, two) patterns.

    Letters in free text are capitals only ("the answer is a cat" names no
    option), "I" followed by a lower-case word is the pronoun, and a letter
    followed by "and"/"or" or by more letters is a list, not an answer
    ("I cannot answer: A and B both fit"); ``two`` finds such a list.
    """
    cls = f"[{letters}]"
    letter = (rf"(?!I\s+[a-z])({cls})(?![A-Za-z])"
              r"(?!\)?\s+(?:and|or)\b)(?!\)?\s*[,/&]\s*\(?[A-Z]\b)")
    return (
        re.compile(rf"(?i:{_LABEL})\(?{letter}\)?"),
        re.compile(rf"\(?({cls})\)?(?:[\).:].*)?", re.DOTALL | re.IGNORECASE),
        re.compile(rf"^\s*\**\s*\(?{letter}"),
        re.compile(rf"^\s*\(?({cls})[\).:]", re.MULTILINE),
        re.compile(rf"\(({cls})\)"),
        re.compile(rf"(?i:\b(?:option|choice)\b)\s*(?i:is\b)?\s*\(?{letter}"),
        re.compile(rf"(?=(?<![A-Za-z])\(?({cls})\)?\s*(?:,|/|&|\band/or\b|\band\b|\bor\b)\s*"
                   rf"\(?({cls})\)?(?![A-Za-z]))"),
    )


def _letters(choices: Sequence[str] | None) -> str:
    return string.ascii_uppercase[:len(choices)] if choices else string.ascii_uppercase


def _in_pair(text: str, at: int, two: re.Pattern[str]) -> bool:
    """Whether position ``at`` lies in two options named as one ("(A) and (B)", "A or C")."""
    # a look-ahead: "(A), (B) or (C)" holds the pairs A-B and B-C, overlapping
    return any(m.group(1) != m.group(2) and m.start() <= at < m.end(2)
               for m in two.finditer(text))


def _choice_text(text: str, choices: Sequence[str] | None, rule: str) -> Extraction:
    """The option whose text, alone among the options, appears in ``text``."""
    if not choices:
        return NO_ANSWER
    lowered = text.lower()
    hits = [i for i, c in enumerate(choices) if c.strip() and c.strip().lower() in lowered]
    return Extraction(string.ascii_uppercase[hits[0]], rule) if len(hits) == 1 else NO_ANSWER


def _choice_in(content: str, choices: Sequence[str] | None, rule: str) -> Extraction:
    """A choice given in an answer span: a letter, or the text of exactly one option."""
    answer_line, whole, leading, line_start, parenthesised, option, two = _letter_patterns(
        _letters(choices))
    pair = two.match(content.strip(" \t*"))
    if pair and pair.group(1) != pair.group(2):  # "A and B", "(A) or (C)": two, not one
        return NO_ANSWER
    match = whole.fullmatch(content.strip())
    if match:
        return Extraction(match.group(1).upper(), rule)
    for pattern in (answer_line, leading, line_start, parenthesised, option):
        found = pattern.findall(content)
        if found:
            return Extraction(str(found[-1]).upper(), rule)
    return _choice_text(content, choices, rule)


def _choice(text: str, choices: Sequence[str] | None) -> Extraction:
    """A reply without the asked form: "the answer is (B)", else a letter or an option's text."""
    _, _, _, line_start, parenthesised, option, two = _letter_patterns(_letters(choices))
    stated = _choice_stated(text, choices)
    if stated.answer is not None:
        return stated
    for pattern in (line_start, parenthesised, option):
        matches = list(pattern.finditer(text))
        if matches:  # "(A) and (B) both fit": two options, no answer
            last = matches[-1]
            if _in_pair(text, last.start(1), two):
                return NO_ANSWER
            return Extraction(last.group(1).upper(), "letter")
    return _choice_text(text, choices, "choice-text")


def _choice_stated(text: str, choices: Sequence[str] | None) -> Extraction:
    """"The answer is (B)" in free text, else none."""
    found = _letter_patterns(_letters(choices))[0].findall(text)
    return Extraction(str(found[-1]).upper(), "answer-line") if found else NO_ANSWER


def _yesno_word(word: str, rule: str) -> Extraction:
    return Extraction("yes" if word in _YES else "no", rule)


def yesno_answer(content: str, rule: str) -> Extraction:
    """The first yes/no/true/false word of an answer span."""
    found = _YESNO_WORD.search(content.lower())
    return _yesno_word(found.group(1), rule) if found else NO_ANSWER


def _yesno_stated(text: str) -> Extraction:
    """"The answer is no" in free text, else none."""
    stated = _YESNO_ANSWER.findall(text.lower())
    return _yesno_word(stated[-1], "answer-line") if stated else NO_ANSWER


def _yesno(text: str) -> Extraction:
    """A reply without the asked form: "the answer is no", else the last yes/no word."""
    stated = _yesno_stated(text)
    if stated.answer is not None:
        return stated
    words = _YESNO_WORD.findall(text.lower())
    return _yesno_word(words[-1], "keyword") if words else NO_ANSWER


def normalize_text(text: str) -> str:
    """Lowercase, drop punctuation and articles, collapse spaces (SQuAD-style)."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in string.punctuation)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def _exact_in(content: str, rule: str) -> Extraction:
    normalized = normalize_text(_without_confidence(content.replace("\\text", "")))
    return Extraction(normalized, rule) if normalized else NO_ANSWER


def _exact(text: str) -> Extraction:
    """A reply without the asked form: the last "the answer is ...", else none."""
    stated = _EXACT_ANSWER.findall(text)
    return _exact_in(stated[-1], "answer-line") if stated else NO_ANSWER


_SHORT_ANSWER = 3
"""Most words on the line under a label alone ("Answer:" then "42 dollars") read as its answer."""
_NEXT_LINE = re.compile(r"\S[^\n]*")


def asked_form(text: str) -> tuple[str, str] | None:
    r"""The span of the reply's answer in an asked form, and its rule; ``None`` without one.

    The last ``\boxed{}`` (the form agents are asked for); else the ``answer`` field
    of the reply's JSON object; else the last line that starts with ``Answer:``. A
    label alone on its line takes the next line when that is short (three words at
    most, no ``:`` or ``=``); before a longer one it is a heading, not an answer.
    """
    found = _asked(text)
    return None if found is None else (found[0], found[1])


def _asked(text: str) -> tuple[str, str, int] | None:
    """:func:`asked_form`, with where the form ends."""
    boxed = _last_boxed_at(text)
    if boxed is not None:
        return boxed[0], "boxed", boxed[1]
    keys = list(_JSON_ANSWER.finditer(text))
    if keys:
        obj = parse_json_object(text)
        for key, value in (obj or {}).items():
            if _ANSWER_KEY.fullmatch(str(key).strip()):
                end = max(text.rfind("}") + 1, keys[-1].end())  # the object's end, about
                return ("" if value is None else str(value)), "field", end
    lines = list(_ANSWER_LINE.finditer(text))
    if not lines:
        return None
    last = lines[-1]
    content, end = last.group(1).strip(" \t*"), last.end()
    if not content:  # a label alone: the next line when it is short, else a heading
        following = _NEXT_LINE.search(text, end)
        if following is None or len(following.group().split()) > _SHORT_ANSWER or any(
                mark in following.group() for mark in ":="):  # "Step 1: 16-3=13"
            return None
        content, end = following.group().strip(" \t*"), following.end()
    return content, "answer-line", end


def _span(content: str, task: TaskType, choices: Sequence[str] | None, rule: str
          ) -> Extraction:
    """The answer in an answer span (a box's inside, a field's value, an answer line)."""
    content = content.strip()
    inner = last_boxed(content)
    if inner is not None:
        content = inner
    if not content:
        return NO_ANSWER
    if task == "numeric":
        return _numeric_in(content, rule)
    if task == "choice":
        return _choice_in(content, choices, rule)
    if task == "yesno":
        return yesno_answer(content, rule)
    return _exact_in(content, rule)


_STATED: dict[str, Callable[[str, Sequence[str] | None], Extraction]] = {
    "numeric": lambda text, _: _numeric_stated(_without_confidence(text)),
    "choice": lambda text, choices: _choice_stated(text, choices),
    "yesno": lambda text, _: _yesno_stated(text),
    "exact": lambda text, _: _exact(text),
}
"""Each task's answer stated in free text ("the answer is 42", ``#### 42``), else none."""


def extract(text: str, task: TaskType, choices: Sequence[str] | None = None) -> Extraction:
    """The answer in a model's reply and the rule that found it.

    When the reply holds an asked form (:func:`asked_form`) the answer is read
    there; when that holds none, only an answer stated after it counts ("Answer:
    let me think. ... The final answer is 14."), never a fallback's guess. Without
    an asked form, the task's stated answer, then its fallbacks, read the reply.
    """
    if not text or not text.strip():
        return NO_ANSWER
    asked = _asked(text)
    if asked is not None:
        found = _span(asked[0], task, choices, asked[1])
        if found.answer is None and asked[2] < len(text):  # "Answer: let me think. ..."
            return _STATED[task](text[asked[2]:], choices)
        return found
    if task == "numeric":
        return numeric_answer(text)
    if task == "choice":
        return _choice(text, choices)
    if task == "yesno":
        return _yesno(text)
    return _exact(text)


def extract_field(value: object, task: TaskType,
                  choices: Sequence[str] | None = None) -> Extraction:
    r"""The answer in a value the model gave as its answer (a JSON field, an "Answer:" line).

    The value is read as an answer span, like the inside of ``\boxed{}``; when it
    holds no answer of the task's type the result is no answer (rule ``None``):
    the rest of the reply is not scanned for one.
    """
    return NO_ANSWER if value is None else _span(str(value), task, choices, "field")


def extract_answer(text: str, task: TaskType, choices: Sequence[str] | None = None) -> str | None:
    """The normalized answer in a model's reply, or ``None`` when there is none."""
    return extract(text, task, choices).answer
