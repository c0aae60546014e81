"""Tolerant parsing of structured model output: JSON objects, labelled lines, confidences.

Models asked for JSON often wrap it in prose or code fences, use single
quotes, write a Python dict (``{'Reason': "it's ..."}``, as the MAD
reference's moderator does), or fall back to ``Key: value`` lines.
:func:`parse_fields` accepts all of these and returns ``None`` when nothing
usable is there; it never evaluates code (a Python dict is read with
``ast.literal_eval``, which accepts literals only). Protocols record a
``None`` and carry on.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any, Literal

__all__ = ["bare_word", "parse_confidence", "parse_confidence_percent", "parse_fields",
           "parse_json_object"]

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)
_LABEL = re.compile(r"^\s*[\-\*#]*\s*\**\s*([A-Za-z][A-Za-z _\-]{0,40}?)\s*\**\s*[:=]\s*(.+?)\s*$",
                    re.MULTILINE)


def _balanced_objects(text: str) -> list[str]:
    """Every top-level ``{...}`` span, respecting strings."""
    spans, depth, start, in_string, escape = [], 0, -1, False, False
    for i, ch in enumerate(text):
        if in_string:
            if escape:
                escape = False
            elif ch == "\\":
                escape = True
            elif ch == '"':
                in_string = False
            continue
        if ch == '"' and depth > 0:
            in_string = True
        elif ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}" and depth > 0:
            depth -= 1
            if depth == 0:
                spans.append(text[start:i + 1])
    return spans


_LITERAL_LIMIT = 20_000
"""Longest span read as a Python literal (``ast.literal_eval`` is recursive)."""


def _literal(candidate: str) -> Any:
    if len(candidate) > _LITERAL_LIMIT:
        return None
    try:
        return ast.literal_eval(candidate)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def parse_json_object(text: str) -> dict[str, Any] | None:
    """The last object in ``text``, else ``None``.

    Fenced or bare JSON, JSON with single quotes, or a Python dict literal.
    """
    candidates = _FENCE.findall(text) + _balanced_objects(text)
    for candidate in reversed(candidates):
        candidate = candidate.strip()
        for attempt in (candidate, candidate.replace("'", '"')):
            try:
                value = json.loads(attempt)
            except ValueError:
                continue
            if isinstance(value, dict):
                return value
        value = _literal(candidate)
        if isinstance(value, dict):
            return value
    return None


def _key(label: str) -> str:
    return re.sub(r"[\s\-]+", "_", label.strip().lower())


def parse_fields(text: str, fields: tuple[str, ...]) -> dict[str, Any] | None:
    """The wanted ``fields`` from a JSON object or from ``Field: value`` lines.

    Keys match case-insensitively, with spaces, dashes and underscores alike.
    A JSON object wins over labelled lines; among labelled lines the last one
    of each field wins (a model that corrects itself ends with its answer).
    Returns ``None`` when none of the fields is present.
    """
    wanted = {_key(f): f for f in fields}
    found: dict[str, Any] = {}
    obj = parse_json_object(text)
    if obj is not None:
        for key, value in obj.items():
            name = wanted.get(_key(str(key)))
            if name is not None:
                found[name] = value
    if len(found) < len(fields):
        labelled: dict[str, Any] = {}
        for label, value in _LABEL.findall(text):
            name = wanted.get(_key(label))
            if name is not None and name not in found:
                labelled[name] = value.strip().strip("\"'")
        found.update(labelled)
    return found or None


def parse_confidence(value: Any, scale: float = 1.0) -> float | None:
    """A confidence in ``[0, 1]`` from ``0.85``, ``"85%"``, ``"8/10"`` or ``8`` (``scale=10``).

    Values above 1 without a ``%`` or ``/`` are read on ``scale`` (e.g. 1-10), and a
    plain number above 1 with ``scale=1`` as a percentage. ``None`` when unreadable.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        number, text = float(value), ""
    else:
        text = str(value).strip()
        match = re.search(r"(-?\d+(?:\.\d+)?)\s*(%|/\s*(\d+(?:\.\d+)?))?", text)
        if match is None:
            return None
        number = float(match.group(1))
        if match.group(2) == "%":
            return _clip(number / 100)
        if match.group(3):
            denominator = float(match.group(3))
            return _clip(number / denominator) if denominator else None
    if number <= 1.0:
        return _clip(number)
    if scale > 1.0 and number <= scale:
        return _clip(number / scale)
    return _clip(number / 100) if number <= 100 else None


def _clip(value: float) -> float | None:
    return value if 0.0 <= value <= 1.0 else None


def bare_word(value: object) -> str:
    """A short field value as one lower-case phrase: ``" Accept."`` -> ``"accept"``."""
    return re.sub(r"[^a-z]+", " ", str(value).lower()).strip() if value is not None else ""


_CHANCE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?|\.\d+)(?!\w|\.\d)"
                     r"([ \t]*(?:%|percent\b|/[ \t]*100\b|out[ \t]+of[ \t]+100\b))?",
                     re.IGNORECASE)
_CHANCE_KEYS = ("confiden", "probab", "chance")


def parse_confidence_percent(text: str, scale: Literal[1, 100] = 100) -> float | None:
    """A stated chance of winning as 0-1, read by the ``scale`` the prompt asked for.

    ``73``, ``73%``, ``73/100``, ``73 out of 100`` and ``{"confidence": 73}`` are 0.73; a
    number above 1 is a percentage on either scale. A number written as a decimal
    fraction no larger than 1 (``0.8``, ``.8``, ``1.0``) is a fraction: 0.8, not 0.8%.
    Only the integers ``0`` and ``1`` depend on ``scale``: with 100 (the prompt's,
    ``oversight_confidence.md``) ``1`` is 1%, with 1 it is certainty. ``None`` when the
    reply states no number, several different ones (``between 60 and 70``), or one
    outside the scale.
    """
    obj = parse_json_object(text)
    value: object = None
    if obj is not None:
        value = next((v for k, v in obj.items()
                      if any(key in str(k).lower() for key in _CHANCE_KEYS)), None)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _chance(str(value), False, scale)
    chances = {_chance(m.group(1), bool(m.group(2)), scale)
               for m in _CHANCE.finditer(str(value) if value is not None else text)}
    return chances.pop() if len(chances) == 1 else None


def _chance(number: str, percent: bool, scale: int) -> float | None:
    """``number`` (as written) as a chance in [0, 1], or ``None`` when out of range."""
    value = float(number)
    if percent or value > 1:
        chance = value / 100
    elif "." in number:  # 0.8, .8, 1.0: a fraction on either scale
        chance = value
    else:  # the integers 0 and 1
        chance = value / scale
    return chance if 0 <= chance <= 1 else None
