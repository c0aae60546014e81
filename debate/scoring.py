r"""Answer extraction and correctness, per task type.

- ``numeric`` (GSM8K-style): ``\boxed{42}``, ``#### 42``, "the answer is 1,234",
  then the last number in the text; compared with a tolerance.
- ``choice``: a letter (``\boxed{B}``, "answer: (B)", "B) ..."), or the text of
  exactly one option; compared as letters.
- ``yesno``: yes / no (also true / false).
- ``exact``: normalized exact match (case, punctuation, articles, spaces).

Extractors return a normalized string or ``None``; ``None`` is never correct
(the Du et al. reference counted unparseable answers as correct; we do not).
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Sequence

from debate.trace import TaskType

__all__ = ["answer_instruction", "extract_answer", "is_correct", "normalize_gold"]

_NUM = r"-?\$?\s?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:/\d+)?%?|-?\.\d+"
_NUM_RE = re.compile(_NUM)
_HASHES_RE = re.compile(r"####\s*(" + _NUM + ")")
_ANSWER_IS_RE = re.compile(
    r"(?:final answer|answer)\s*(?:is|:|=)?\s*(?:is\s*)?[:=]?\s*\**\s*\(?(" + _NUM + r")",
    re.IGNORECASE,
)
_LETTER_PATTERNS = [
    re.compile(r"(?:final answer|answer|option|choice)\s*(?:is|:|=)?\s*(?:is\s*)?[:=]?\s*\**\s*"
               r"\(?([A-J])\)?(?![A-Za-z])", re.IGNORECASE),
    re.compile(r"^\s*\(?([A-J])[\).:]", re.MULTILINE),
    re.compile(r"\(([A-J])\)"),
]
_FRAC_RE = re.compile(r"\\d?frac\{(-?\d+)\}\{(-?\d+)\}")
_YES = {"yes", "true", "correct"}
_NO = {"no", "false", "incorrect"}
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


def _numeric(text: str) -> str | None:
    candidates: list[str] = []
    boxed = last_boxed(text)
    if boxed is not None:
        boxed = boxed.replace("\\$", "").replace("\\%", "%").replace("\\!", "")
        boxed = _FRAC_RE.sub(r"\1/\2", boxed)
        candidates += _NUM_RE.findall(boxed.replace("{,}", ","))[-1:]
    if not candidates:
        candidates += [m.group(1) for m in _HASHES_RE.finditer(text)][-1:]
    if not candidates:
        candidates += [m.group(1) for m in _ANSWER_IS_RE.finditer(text)][-1:]
    if not candidates:
        candidates += _NUM_RE.findall(text)[-1:]
    for token in candidates:
        value = _to_number(token)
        if value is not None:
            return format_number(value)
    return None


def _choice(text: str, choices: Sequence[str] | None) -> str | None:
    boxed = last_boxed(text)
    if boxed is not None:
        letter = re.fullmatch(r"\(?([A-Ja-j])\)?(?:[\).:].*)?", boxed.strip(), re.DOTALL)
        if letter:
            return letter.group(1).upper()
        text = boxed
    for pattern in _LETTER_PATTERNS:
        found = pattern.findall(text)
        if found:
            return str(found[-1]).upper()
    if choices:
        lowered = text.lower()
        hits = [i for i, c in enumerate(choices) if c.strip() and c.strip().lower() in lowered]
        if len(hits) == 1:
            return string.ascii_uppercase[hits[0]]
    return None


def _yesno(text: str) -> str | None:
    boxed = last_boxed(text)
    source = boxed if boxed is not None else text
    words = re.findall(r"[a-z]+", source.lower())
    answer_is = re.findall(r"answer\s*(?:is|:)\s*\**\s*(yes|no|true|false)", source.lower())
    if answer_is:
        words = answer_is
    for word in reversed(words) if boxed is None and not answer_is else words:
        if word in _YES:
            return "yes"
        if word in _NO:
            return "no"
    return None


def normalize_text(text: str) -> str:
    """Lowercase, drop punctuation and articles, collapse spaces (SQuAD-style)."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in string.punctuation)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def _exact(text: str) -> str | None:
    boxed = last_boxed(text)
    if boxed is None:
        match = re.findall(r"answer\s*(?:is|:)\s*(.+)", text, re.IGNORECASE)
        boxed = match[-1] if match else text
    normalized = normalize_text(boxed.replace("\\text", ""))
    return normalized or None


def extract_answer(text: str, task: TaskType, choices: Sequence[str] | None = None) -> str | None:
    """The normalized answer in a model's reply, or ``None`` when there is none."""
    if not text or not text.strip():
        return None
    if task == "numeric":
        return _numeric(text)
    if task == "choice":
        return _choice(text, choices)
    if task == "yesno":
        return _yesno(text)
    return _exact(text)


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
        raise ValueError(f"gold {text!r} is not a letter, an index or one of the choices")
    if task == "numeric":
        value = _numeric(text if "####" in text or "boxed" in text else f"#### {text}")
        if value is None:
            raise ValueError(f"gold {text!r} holds no number")
        return value
    if task == "yesno":
        value = _yesno(text)
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
