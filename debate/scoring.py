r"""Answer extraction and correctness, per task type, recording how each answer was found.

Every extraction is an :class:`Extraction`: the normalized answer and the
rule that found it. Rules are *explicit* (the model put its answer where it
was asked to) or *fallbacks* (a guess from free text); metrics report the
share of each, and ``strict_parsing`` keeps only explicit answers.

==========  ==========================================  ===========================
task        explicit                                    fallback
==========  ==========================================  ===========================
numeric     ``\boxed{42}``, ``#### 42``, "answer is 42"   the last number
choice      ``\boxed{B}``, "answer: (B)", an answer       "(B)" / "B)" / "option B" in
            field                                       the text, the text of exactly
                                                        one option
yesno       ``\boxed{yes}``, "answer is no", a field    the last yes/no/true/false word
exact       ``\boxed{...}``, "answer: ...", a field       none: no explicit answer is unparsed
==========  ==========================================  ===========================

Choice letters go as far as the question's choices (A-R for 18 options; any
letter when the choices are unknown). Yes/no is never read from words such
as "correct" or "wrong". Extractors return ``Extraction(None)`` when there
is no answer; ``None`` is never correct (the Du et al. reference counted
unparseable answers as correct; we do not).
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from debate.trace import TaskType

__all__ = ["EXPLICIT_RULES", "FALLBACK_RULES", "Extraction", "answer_instruction", "count_numbers",
           "extract", "extract_answer", "extract_field", "is_correct", "normalize_gold"]

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

_NUM = r"-?\$?\s?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:/\d+)?%?|-?\.\d+"
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
    start = text.rfind("\\boxed")
    while start != -1:
        i = text.find("{", start)
        if i != -1 and text[start + 6:i].strip() == "":
            depth, j = 0, i
            while j < len(text):
                if text[j] == "{":
                    depth += 1
                elif text[j] == "}":
                    depth -= 1
                    if depth == 0:
                        return text[i + 1:j].strip()
                j += 1
        start = text.rfind("\\boxed", 0, start)
    return None


def _to_number(token: str) -> float | None:
    if token.isascii() and token.isdigit():  # the common case: a plain integer
        return float(token)
    token = token.replace(",", "").replace("$", "").replace(" ", "").rstrip(".")
    token = token.rstrip("%")  # "50%" reads as 50, as GSM8K golds write it
    try:
        if "/" in token:
            num, den = token.split("/", 1)
            value = float(num) / float(den)
        else:
            value = float(token)
    except (ValueError, ZeroDivisionError):
        return None
    return value


def format_number(value: float) -> str:
    """Canonical text of a number: ``12.0`` -> ``12``, ``0.5`` -> ``0.5``."""
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(round(value, 9))


def _number(tokens: list[str], rule: str) -> Extraction:
    """The last of ``tokens`` as a canonical number."""
    for token in tokens[-1:]:
        value = _to_number(token)
        if value is not None:
            return Extraction(format_number(value), rule)
    return NO_ANSWER


def count_numbers(text: str) -> int:
    """How many numbers ``text`` holds (``3 apples and 4 more``: 2)."""
    return len(_NUM_RE.findall(text.replace("{,}", ",")))


def _numeric_in(content: str, rule: str) -> Extraction:
    """The last number in an answer span (a boxed expression or an answer field)."""
    content = content.replace("\\$", "").replace("\\%", "%").replace("\\!", "")
    content = _FRAC_RE.sub(r"\1/\2", content)
    return _number(_NUM_RE.findall(content.replace("{,}", ",")), rule)


def _numeric(text: str) -> Extraction:
    boxed = last_boxed(text)
    if boxed is not None:
        found = _numeric_in(boxed, "boxed")
        if found.answer is not None:
            return found
    for regex, rule in ((_HASHES_RE, "hashes"), (_ANSWER_IS_RE, "answer-line")):
        found = _number([m.group(1) for m in regex.finditer(text)], rule)
        if found.answer is not None:
            return found
    return _number(_NUM_RE.findall(text), "last-number")


@lru_cache(maxsize=64)
def _letter_patterns(letters: str) -> tuple[re.Pattern[str], ...]:
    """(answer-line, whole-span, line-start, parenthesised, option-word) patterns.

    Letters in free text are capitals only ("the answer is a cat" names no
    option), "I" followed by a lower-case word is the pronoun, and a letter
    followed by "and"/"or" or by more letters is a list, not an answer
    ("I cannot answer: A and B both fit").
    """
    cls = f"[{letters}]"
    letter = (rf"(?!I\s+[a-z])({cls})(?![A-Za-z])"
              r"(?!\)?\s+(?:and|or)\b)(?!\)?\s*[,/&]\s*\(?[A-Z]\b)")
    return (
        re.compile(rf"(?i:{_LABEL})\(?{letter}\)?"),
        re.compile(rf"\(?({cls})\)?(?:[\).:].*)?", re.DOTALL | re.IGNORECASE),
        re.compile(rf"^\s*\(?({cls})[\).:]", re.MULTILINE),
        re.compile(rf"\(({cls})\)"),
        re.compile(rf"(?i:\b(?:option|choice)\b)\s*(?i:is\b)?\s*\(?{letter}"),
    )


def _letters(choices: Sequence[str] | None) -> str:
    return string.ascii_uppercase[:len(choices)] if choices else string.ascii_uppercase


def _choice_text(text: str, choices: Sequence[str] | None, rule: str) -> Extraction:
    """The option whose text, alone among the options, appears in ``text``."""
    if not choices:
        return NO_ANSWER
    lowered = text.lower()
    hits = [i for i, c in enumerate(choices) if c.strip() and c.strip().lower() in lowered]
    return Extraction(string.ascii_uppercase[hits[0]], rule) if len(hits) == 1 else NO_ANSWER


def _choice_in(content: str, choices: Sequence[str] | None, rule: str) -> Extraction:
    """A choice given in an answer span: a letter, or the text of exactly one option."""
    answer_line, whole, line_start, parenthesised, option = _letter_patterns(_letters(choices))
    match = whole.fullmatch(content.strip())
    if match:
        return Extraction(match.group(1).upper(), rule)
    for pattern in (answer_line, line_start, parenthesised, option):
        found = pattern.findall(content)
        if found:
            return Extraction(str(found[-1]).upper(), rule)
    return _choice_text(content, choices, rule)


def _choice(text: str, choices: Sequence[str] | None) -> Extraction:
    boxed = last_boxed(text)
    if boxed is not None:
        return _choice_in(boxed, choices, "boxed")
    answer_line, _, line_start, parenthesised, option = _letter_patterns(_letters(choices))
    for pattern, rule in ((answer_line, "answer-line"), (line_start, "letter"),
                          (parenthesised, "letter"), (option, "letter")):
        found = pattern.findall(text)
        if found:
            return Extraction(str(found[-1]).upper(), rule)
    return _choice_text(text, choices, "choice-text")


def _yesno_word(word: str, rule: str) -> Extraction:
    return Extraction("yes" if word in _YES else "no", rule)


def _yesno_in(content: str, rule: str) -> Extraction:
    """The first yes/no/true/false word of an answer span."""
    found = _YESNO_WORD.search(content.lower())
    return _yesno_word(found.group(1), rule) if found else NO_ANSWER


def _yesno(text: str) -> Extraction:
    boxed = last_boxed(text)
    if boxed is not None:
        return _yesno_in(boxed, "boxed")
    lowered = text.lower()
    stated = _YESNO_ANSWER.findall(lowered)
    if stated:
        return _yesno_word(stated[-1], "answer-line")
    words = _YESNO_WORD.findall(lowered)
    return _yesno_word(words[-1], "keyword") if words else NO_ANSWER


def normalize_text(text: str) -> str:
    """Lowercase, drop punctuation and articles, collapse spaces (SQuAD-style)."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in string.punctuation)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def _exact_in(content: str, rule: str) -> Extraction:
    normalized = normalize_text(content.replace("\\text", ""))
    return Extraction(normalized, rule) if normalized else NO_ANSWER


def _exact(text: str) -> Extraction:
    boxed = last_boxed(text)
    if boxed is not None:
        return _exact_in(boxed, "boxed")
    stated = _EXACT_ANSWER.findall(text)
    return _exact_in(stated[-1], "answer-line") if stated else NO_ANSWER


def extract(text: str, task: TaskType, choices: Sequence[str] | None = None) -> Extraction:
    """The answer in a model's reply and the rule that found it."""
    if not text or not text.strip():
        return NO_ANSWER
    if task == "numeric":
        return _numeric(text)
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
    content = str(value).strip() if value is not None else ""
    if not content:
        return NO_ANSWER
    inner = last_boxed(content)
    if inner is not None:
        content = inner
    if task == "numeric":
        return _numeric_in(content, "field")
    if task == "choice":
        return _choice_in(content, choices, "field")
    if task == "yesno":
        return _yesno_in(content, "field")
    return _exact_in(content, "field")


def extract_answer(text: str, task: TaskType, choices: Sequence[str] | None = None) -> str | None:
    """The normalized answer in a model's reply, or ``None`` when there is none."""
    return extract(text, task, choices).answer


_OPTION_LABEL = re.compile(r"\s*\(?([A-Za-z])\s*[).:]\s*(.*)", re.S)


def strip_choice_labels(choices: Sequence[str]) -> list[str]:
    """Options without the letter labels they already carry: ``["A)4", "B) 5"]`` -> ``["4", "5"]``.

    Only when *every* option starts with its own letter (else they would be shown
    as ``A) A)4``); otherwise unchanged, so ``"A. Lincoln"`` among unlabelled
    options keeps its text.
    """
    labels = [_OPTION_LABEL.fullmatch(choice) for choice in choices]
    if choices and all(label and label.group(1).upper() == string.ascii_uppercase[i]
                       and label.group(2).strip() for i, label in enumerate(labels)):
        return [label.group(2).strip() for label in labels if label]
    return list(choices)


def normalize_gold(gold: object, task: TaskType, choices: Sequence[str] | None = None) -> str:
    """A dataset's gold answer in the form :func:`extract_answer` produces.

    For ``choice``, a letter, a 0-based index or the text of an option all work.
    Raises ``ValueError`` (with the reason) when the gold cannot be read.
    """
    text = str(gold).strip()
    if task == "choice":
        letters = string.ascii_uppercase[:len(choices)] if choices else string.ascii_uppercase
        if re.fullmatch(r"[A-Za-z]", text) and text.upper() in letters:
            return text.upper()
        if choices:
            if re.fullmatch(r"\d+", text) and int(text) < len(choices):
                return string.ascii_uppercase[int(text)]
            for i, choice in enumerate(choices):
                if normalize_text(choice) == normalize_text(text):
                    return string.ascii_uppercase[i]
        label = _OPTION_LABEL.fullmatch(text)  # "A)", "(B)", "C. 5" (with its option's text)
        if label and (letter := label.group(1).upper()) in letters:
            rest = label.group(2).strip()
            index = letters.index(letter)
            if not rest or (choices and normalize_text(choices[index]) == normalize_text(rest)):
                return letter
        raise ValueError(f"gold {text!r} is not a letter, an index or one of the choices")
    if task == "numeric":
        value = _numeric(text if "####" in text or "boxed" in text else f"#### {text}").answer
        if value is None:
            raise ValueError(f"gold {text!r} holds no number")
        return value
    if task == "yesno":
        value = _yesno_in(text, "field").answer
        if value is None:
            raise ValueError(f"gold {text!r} is not yes/no")
        return value
    return normalize_text(text)


def is_correct(answer: str | None, gold: str | None, task: TaskType,
               rel_tol: float = 1e-4, abs_tol: float = 1e-6) -> bool | None:
    """Whether ``answer`` matches ``gold``; ``None`` without gold; never True for ``None``."""
    if gold is None:
        return None
    if answer is None:
        return False
    if task == "numeric":
        a, g = _to_number(answer), _to_number(gold)
        if a is None or g is None:
            return False
        return math.isclose(a, g, rel_tol=rel_tol, abs_tol=abs_tol)
    return answer == gold
