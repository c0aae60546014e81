"""Numbers as answers: their exact value, one canonical text, and the tolerance a task allows.

A numeric answer is read as an exact :class:`~fractions.Fraction`, never a float:
``70001`` is not ``70000`` and ``0.33`` is not ``0.3333``, while ``0.5``,
``0.50``, ``.5`` and ``1/2`` are one value. Thousands separators, currency signs
and a trailing ``%`` are dropped (``$1,234.50`` is ``1234.5``; ``50%`` is ``50``,
as GSM8K writes its golds). A value's canonical text is an integer, a
terminating decimal, or a reduced fraction (``1/3``): the answer traces record.

Scoring compares values exactly. A task that needs slack (measured quantities,
rounded physics answers) sets a :class:`NumericTolerance`, absolute or relative.
"""

from __future__ import annotations

import re
from fractions import Fraction

from pydantic import Field, model_validator

from debate.settings import Settings

__all__ = ["NumericTolerance", "canonical_number", "numbers_match", "parse_number"]

_NOISE = re.compile(r"[\s,$€£¥₹]")
"""Thousands separators, spaces and currency signs inside a number's text."""
_EXPONENT = re.compile(r"[eE][-+]?(\d+)")
_MAX_EXPONENT = 400
"""Beyond 1e400 a number is no answer anyone wants read (and building it costs minutes)."""


def parse_number(text: str) -> Fraction | None:
    """The exact value of a number's text (``"$1,234.50"``, ``"-.5"``, ``"3/4"``, ``"50%"``).

    ``None`` when it is not one number (or holds more digits than Python reads, or an
    exponent beyond 400). A typeset minus (U+2212) is a minus.
    """
    token = _NOISE.sub("", text).replace("\u2212", "-").rstrip(".").removesuffix("%")
    exponent = _EXPONENT.search(token)
    if exponent is not None and int(exponent.group(1)) > _MAX_EXPONENT:
        return None  # 1e99999999 would take minutes to build
    try:
        if "/" in token:
            numerator, denominator = token.split("/", 1)
            return Fraction(numerator) / Fraction(denominator)
        return Fraction(token)
    except (ValueError, ZeroDivisionError):
        return None


def canonical_number(value: Fraction) -> str:
    """One text per value: ``12``, ``-0.75``, ``1234.5``, or ``1/3`` when no decimal ends."""
    if value.denominator == 1:
        return str(value.numerator)
    rest, twos, fives = value.denominator, 0, 0
    while rest % 2 == 0:
        rest, twos = rest // 2, twos + 1
    while rest % 5 == 0:
        rest, fives = rest // 5, fives + 1
    if rest != 1:
        return f"{value.numerator}/{value.denominator}"
    places = max(twos, fives)
    digits = str(abs(value.numerator) * 10 ** places // value.denominator).rjust(places + 1, "0")
    sign = "-" if value < 0 else ""
    return f"{sign}{digits[:-places]}.{digits[-places:]}".rstrip("0")


class NumericTolerance(Settings):
    """How far a numeric answer may be from its gold and still count (default: not at all).

    An answer counts when ``|answer - gold| <= max(absolute, relative * |gold|)``;
    give one or both. Set it on the dataset (``dataset: {numeric_tolerance:
    {relative: 0.01}}``) for tasks whose golds are rounded measurements.
    """

    absolute: float | None = Field(default=None, ge=0, le=1e12)
    """Largest difference allowed, in the answer's units."""
    relative: float | None = Field(default=None, ge=0, le=1)
    """Largest difference allowed, as a share of the gold's magnitude (0.01: 1%)."""

    @model_validator(mode="after")
    def _one_given(self) -> NumericTolerance:
        if self.absolute is None and self.relative is None:
            raise ValueError("give absolute, relative or both (no tolerance: leave it out)")
        return self


def numbers_match(answer: str, gold: str, tolerance: NumericTolerance | None = None) -> bool:
    """Whether two numbers' texts are the same value (within ``tolerance``, when given)."""
    a, g = parse_number(answer), parse_number(gold)
    if a is None or g is None:
        return False
    if tolerance is None:
        return a == g
    # Fraction("0.3"), not Fraction(0.3): the value as written, not its binary neighbour
    allowed = max(Fraction(str(tolerance.absolute or 0)),
                  Fraction(str(tolerance.relative or 0)) * abs(g))
    return abs(a - g) <= allowed
