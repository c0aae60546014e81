"""Reading a judge's verdict between two labelled answers (``A``, ``B``).

A judge states its choice as a letter (``Answer: A``, ``<A>``, a box), as
probabilities over the labels (JSON or labelled lines, percentages or
fractions), or the backend's log-probabilities of the answer letter carry it.
Each reader returns what it found and, when nothing usable is there, why:
never a guess.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from debate.models.types import TokenLogprob
from debate.scoring.extract import extract
from debate.scoring.fields import parse_json_object

__all__ = ["LABELS", "NO_LOGPROBS", "letter_probabilities", "parse_answer_letter",
           "parse_probabilities"]

LABELS = ("A", "B")
"""The two answers' labels, in the order the judge sees them; debater A defends answer A."""

_THINKING = re.compile(r"<thinking>.*?</thinking>", re.DOTALL | re.IGNORECASE)
_ANGLED = re.compile(r"<([AB])>")


def parse_answer_letter(text: str, answers: Sequence[str] | None = None
                        ) -> tuple[str | None, str | None]:
    r"""The letter of an ``answer`` judge's verdict: ``("B", None)``, or ``(None, reason)``.

    Read as :func:`debate.scoring.extract` reads a choice given in the asked form
    (``Answer: B``, ``**Answer:** B``, ``Answer: (B)``, ``Final answer: B``, "the answer
    is B", ``\boxed{B}``), and ``Answer: <B>`` as the reference does; guesses from free
    text ("I believe B is correct") do not count, nor does the template echoed
    (``Answer: <A|B>``) or two letters (``Answer: A or B``). The reply outside
    ``<thinking>...</thinking>`` is read first, then the whole reply. With ``answers``
    (answer A's and B's text), ``Answer: <the text of exactly one>`` names it too.
    """
    choices = list(answers) if answers is not None else ["", ""]
    outside = _THINKING.sub("\n", text)
    for part in dict.fromkeys((outside, text)):
        found = extract(_ANGLED.sub(r"(\1)", part), "choice", choices)
        if found.answer in LABELS and found.source == "explicit":
            return found.answer, None
    return None, "no 'Answer: A' or 'Answer: B' in the reply"


_PROB = re.compile(
    r"(?:(?P<p>(?i:p)[ \t]*\([ \t]*(?P<pl>[AB])[ \t]*\))"  # P(A)
    r"|(?P<kw>(?i:(?:probability|prob|chance)(?:[ \t]+(?:of|for|that))?[ \t]+)?"
    r"(?i:(?:answer|option|choice)[ \t]+)?)"  # Probability of answer A, Answer A
    r"(?<!\w)\(?(?P<l>[AB])\)?(?!\w))"
    r"[ \t]*\**[ \t]*[:=][ \t]*\**[ \t]*(?P<num>\d*\.?\d+)[ \t]*(?P<pct>%?)"
    r"(?P<range>[ \t]*(?:-|–|to)[ \t]*\d)?")
"""A labelled value: ``A: 0.7``, ``**B**: 30%``, ``Answer A = .4``, ``P(A) = 0.9``,
``Probability A: 70%``, ``Probability of B: 0.3``."""
_WORD_BEFORE = re.compile(r"([A-Za-z]+)[ \t*]*$")
_SPEAKERS = frozenset({"debater", "consultant", "speaker", "side", "team", "player"})
"""Words that make a letter name a speaker, not an answer (``Debater A: 1``)."""
_ENDS_VALUE = re.compile(
    r"[ \t]*(?:$|[,;.)}\]/|(*]|(?i:and|or|vs)\b|(?i:p)[ \t]*\("
    r"|(?i:prob\w*|chance|answer|option|choice)\b|\(?[AB]\b)", re.MULTILINE)
"""What may follow a bare value: the line's end, punctuation, or the next label
(``A: 1 verified quote`` states no probability)."""
_JSON_KEY = re.compile(r"(?:P|PROB|PROBABILITY|CHANCE)?(?:OF|FOR)?(?:ANSWER|OPTION|CHOICE)?"
                       r"([AB])")


_PROBABILITY_KEY = re.compile(r"(?i)prob|chance|confiden|^p$")
"""A key whose object holds probabilities (``{"probabilities": {"A": 0.7}}``), not counts
(``{"verified_quotes": {"A": 1}}``)."""


def _json_values(text: str) -> dict[str, tuple[float, bool]]:
    """Labelled values of the reply's JSON object, also under a probabilities key.

    ``{"A": 0.7}``, ``{"P(B)": "30%"}``, ``{"probabilities": {"A": 0.7, "B": 0.3}}``.
    """
    obj = parse_json_object(text)
    found: dict[str, tuple[float, bool]] = {}
    if obj is None:
        return found
    items = list(obj.items())
    items += [kv for key, value in obj.items() if isinstance(value, dict)
              and _PROBABILITY_KEY.search(str(key)) for kv in value.items()]
    for key, value in items:
        label = _JSON_KEY.fullmatch(re.sub(r"[^A-Z]", "", str(key).upper()))
        if label is None:
            continue
        if isinstance(value, int | float) and not isinstance(value, bool):
            found[label.group(1)] = (float(value), False)
        elif isinstance(value, str):
            number = re.fullmatch(r"\s*(\d*\.?\d+)\s*(%?)\s*", value)
            if number:
                found[label.group(1)] = (float(number.group(1)), bool(number.group(2)))
    return found


def _labelled(text: str) -> tuple[dict[str, tuple[float, bool]], str | None]:
    """Labelled values in the text (the last of each label), or the error of a range."""
    found: dict[str, tuple[float, bool]] = {}
    integers: set[str] = set()  # a bare 0 or 1: a count ("A: 1, B: 0."), not a probability
    for match in _PROB.finditer(text):
        label = match.group("pl") or match.group("l")
        if not (match.group("p") or match.group("kw")):  # a bare letter
            before = _WORD_BEFORE.search(text, text.rfind("\n", 0, match.start()) + 1,
                                         match.start())
            if before is not None and before.group(1).lower() in _SPEAKERS:
                continue  # "Debater A: 1": a speaker's label, not an answer's
        if match.group("range"):
            return {}, f"a range for {label}, not one probability"
        if not match.group("pct") and not _ENDS_VALUE.match(text, match.end()):
            continue  # "A: 1 verified quote": a count, not a probability
        found[label] = (float(match.group("num")), bool(match.group("pct")))
        if not match.group("pct") and match.group("num") in ("0", "1"):
            integers.add(label)  # larger whole numbers read as out of range, or as percent
        else:
            integers.discard(label)
    for label in integers:  # "A: 0.7" or "A: 70%" state one; "A: 1, B: 0." count quotes
        del found[label]
    return found, None


def parse_probabilities(text: str) -> tuple[dict[str, float] | None, str | None]:
    """A ``probabilities`` judge's verdict: ``({"A": p, "B": 1 - p}, None)``, or ``(None, why)``.

    Only explicitly labelled values count: a JSON object's fields (``{"A": 0.7, "B":
    0.3}``, ``{"P(A)": "70%"}``), else labelled values in the text (``A: 0.7``,
    ``Answer B: 30%``, ``P(A) = 0.7``, ``Probability A: 70%``; the last of each label
    counts). A letter after a speaker's title is not an answer's label (``Debater A:
    1``), a bare ``0`` or ``1`` is a count (``A: 1, B: 0.``; write ``1.0``), a JSON
    object one level down counts only under a probabilities key, and a value without
    ``%`` must end there (``A: 1 verified quote`` is a count),
    so a reply that counts quotes or names a winner ("I believe B is correct") states
    no probability.
    Values are in ``[0, 1]``, or percentages with ``%``, or two bare numbers summing to
    100. One stated value gives the other as its complement; two that do not sum to 1
    are scaled to (the reply is kept in the trace). ``(None, reason)`` when the reply
    states none, a value is out of range or a range, or both are 0.
    """
    found = _json_values(text)
    if not found:
        found, error = _labelled(text)
        if error is not None:
            return None, error
    if not found:
        return None, "no probability for A or B (labelled) in the reply"
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


NO_LOGPROBS = "the backend returned no log-probabilities"
"""Why a ``logprobs`` verdict is unread when its backend returns none."""


def letter_probabilities(tokens: Sequence[TokenLogprob] | None
                         ) -> tuple[dict[str, float] | None, str | None]:
    """P(A) and P(B) from the answer token's log-probabilities (the preference judge).

    The first token's alternatives (``top``, with the token itself) are searched for
    ``A`` and ``B`` (surrounding spaces ignored); one missing counts as log-probability
    -100, and the two are normalised (a softmax over the pair). ``(None, reason)``
    without log-probabilities or when neither letter is among them.
    """
    if not tokens:
        return None, NO_LOGPROBS
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
