"""Correctness: gold answers normalized as replies are, and answers compared with them."""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from typing import TYPE_CHECKING

from debate.scoring.extract import normalize_text, numeric_answer, yesno_answer
from debate.scoring.numbers import NumericTolerance, numbers_match

if TYPE_CHECKING:
    from debate.trace import DebateTrace, TaskType

__all__ = ["final_correct", "is_correct", "normalize_gold", "strip_choice_labels"]

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
        value = numeric_answer(text if "####" in text or "boxed" in text else f"#### {text}").answer
        if value is None:
            raise ValueError(f"gold {text!r} holds no number")
        return value
    if task == "yesno":
        value = yesno_answer(text, "field").answer
        if value is None:
            raise ValueError(f"gold {text!r} is not yes/no")
        return value
    return normalize_text(text)


def final_correct(trace: DebateTrace) -> bool | None:
    """Whether a debate's final answer is correct, scored now as every answer is.

    Every reader of traces (metrics, ``results.csv``, reports, the viewer, paired
    comparisons, exports) scores this way, not by the ``correct`` the trace recorded: a
    trace written by an older debatelab (which let 70001 pass for 70000) is scored by
    today's rules, like its rounds.
    """
    q = trace.question
    return is_correct(trace.final.answer, q.gold, q.task, q.numeric_tolerance)


def is_correct(answer: str | None, gold: str | None, task: TaskType,
               tolerance: NumericTolerance | None = None) -> bool | None:
    """Whether ``answer`` matches ``gold``; ``None`` without gold; never True for ``None``.

    Numbers compare by exact value (``70001`` is not ``70000``, ``0.5`` is ``1/2``),
    or within ``tolerance`` when given; other tasks compare normalized texts.
    """
    if gold is None:
        return None
    if answer is None:
        return False
    if task == "numeric":
        return numbers_match(answer, gold, tolerance)
    return answer == gold
