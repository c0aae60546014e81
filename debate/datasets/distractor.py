"""A dataset row's wrong answer (its ``distractor`` column), as the oversight protocols show it.

Debate-QA, consultancy and blind judging pit the gold answer against one wrong answer
(:func:`debate.agents.oversight.answer_pair` reads it from ``question.metadata["distractor"]``,
else draws another option). Any dataset names it in one column, ``distractor`` unless
``fields.distractor`` maps another; QuALITY's reader fills it by the papers' rule
(:mod:`debate.datasets.quality`).
"""

from __future__ import annotations

import math
import string
from typing import Any

from debate.errors import DatasetError
from debate.scoring import normalize_gold
from debate.trace import TaskType

__all__ = ["read_distractor"]


def read_distractor(value: Any, column: str, where: str, task: TaskType,
                    choices: list[str] | None, gold: str | None) -> str | None:
    """The wrong answer a row's ``column`` holds, as shown; ``None`` where it is empty.

    For a multiple-choice question it is written like the gold (a letter, a 0-based index or
    the option's text) and becomes the option's text; otherwise it is the text as written.
    It must not be the gold answer. A bad value is an error naming ``where`` and ``column``.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if (isinstance(value, list | dict) or not isinstance(value, str | int | float)
            or (isinstance(value, float) and not math.isfinite(value))):
        raise DatasetError(f"{where}: field {column!r} (the wrong answer) must be text or a "
                           f"number, not {type(value).__name__} ({str(value)[:40]!r})")
    if task == "choice" and choices:
        try:
            letter = normalize_gold(value, "choice", choices)
        except ValueError:
            raise DatasetError(f"{where}: field {column!r}: {str(value)[:40]!r} is not a letter, "
                               "an index or one of the choices") from None
        if letter == gold:
            raise DatasetError(f"{where}: field {column!r} is the gold answer ({letter}); the "
                               "distractor is a wrong option")
        return choices[string.ascii_uppercase.index(letter)]
    text = str(value).strip()
    if gold is not None:
        try:
            same = normalize_gold(value, task, choices) == gold
        except ValueError:  # a wrong answer need not be well formed ("lots" for a number)
            same = False
        if same:
            raise DatasetError(f"{where}: field {column!r} ({text[:40]!r}) is the gold answer; "
                               "the distractor is a wrong answer")
    return text
