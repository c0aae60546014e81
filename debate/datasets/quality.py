"""QuALITY (Pang et al., 2022) in its own JSON-lines format, with the debate papers' filters.

A QuALITY file (``QuALITY.v1.0.1.htmlstripped.dev``: JSON lines, whatever its suffix) holds
one line per article and writer: the article's fields (``article_id``, ``set_unique_id``,
``source``, ``title``, ``article``...) and ``questions``, each with four ``options``, a
1-based ``gold_label`` and ``writer_label``, the untimed annotators' ``validation``
(``untimed_answer``, ``untimed_eval1_answerability`` 1-3, ``untimed_eval2_context`` 1-4, and
the option each thought the best distractor: ``untimed_best_distractor`` in the files,
``untimed_eval3_distractor`` in QuALITY's README; both are read), the time-limited
annotators' ``speed_validation`` (``speed_answer``) and ``difficult`` (1: under half of the
speed annotators were right; QuALITY's hard subset). Copies with one question per row and
the article's fields beside it (the Hub's ``tasksource/QuALITY``) are read too.

Each question becomes one :class:`~debate.trace.Question`: the article is its ``context``,
the options its ``choices``, the gold its letter, its id ``question_unique_id``; the wrong
answer the oversight protocols defend is its ``distractor`` (:class:`QualityOptions`), and
the annotations stay in its ``metadata`` with their means (``untimed_accuracy``,
``speed_accuracy``, ``answerability``, ``context_required``). A damaged row is a
:class:`~debate.errors.DatasetError` naming the file, the line and the field
(``questions[1].validation[0].untimed_answer``).

What the papers use (their code; ``experiments/quality/debate-qa-quality.yaml`` sets Khan
et al.'s filters):

- Khan et al. 2024 (``ucl-dark/llm_debate``, ``core/config/config.yaml`` read by
  ``core/load/quality.py``): train and dev, ``source`` Gutenberg, ``difficult`` 1, every
  untimed annotator right and finding it answerable (mean answerability at most 1), speed
  accuracy at most 0.5, mean context required at least 1.5, writer's label equal to the
  gold, one question per story (title), and questions whose gold or distractor option says
  "all of the above", "none of the above" or "neither of these" dropped. The distractor:
  the option the untimed annotators most often named best distractor (``best``).
- Arnesen et al. 2024 (``samuelarnesen/nyu-debate-modeling``, ``data/quality_loader.py``):
  questions with a gold label and ``difficult`` 1; the distractor: per untimed annotator,
  the option chosen if wrong, else the best distractor named; the most common
  (``most-chosen``).

Not reproduced: the papers' shuffles before taking their first questions, Khan et al.'s
hand-picked excluded stories and questions, and Arnesen et al.'s removal of the questions
NYU's human debates used. Khan et al. pick one question per story before the catch-all
check, so a story can lose its only question there; here the first question that passes
every check is kept.
"""

from __future__ import annotations

import string
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field

from debate.errors import DatasetError
from debate.settings import Settings

__all__ = ["QualityOptions", "QualitySource", "best_distractor", "quality_rows"]

Row = Mapping[str, Any]
DistractorRule = Literal["best", "most-chosen", "none"]


class QualityOptions(Settings):
    """How QuALITY is read: which questions are kept, and which wrong option is defended.

    The defaults keep every question; each filter set drops what it rejects. A question
    that lacks the annotations a filter reads (the test split hides them) is an error.
    """

    hard: bool = False
    """Keep only QuALITY's hard subset (``difficult`` 1), as Khan et al. and Arnesen et al."""
    sources: list[str] | None = None
    """Keep only articles from these ``source`` values (Khan et al.: ``[Gutenberg]``)."""
    max_answerability: float | None = Field(default=None, ge=1, le=3)
    """Keep a question whose mean ``untimed_eval1_answerability`` is at most this (1: every
    untimed annotator found it answerable and unambiguous; Khan et al.: 1)."""
    min_untimed_accuracy: float | None = Field(default=None, ge=0, le=1)
    """Keep a question at least this share of untimed annotators got right (Khan et al.: 1)."""
    max_speed_accuracy: float | None = Field(default=None, ge=0, le=1)
    """Keep a question at most this share of speed annotators got right (Khan et al.: 0.5)."""
    min_context_required: float | None = Field(default=None, ge=1, le=4)
    """Keep a question whose mean ``untimed_eval2_context`` (1: a sentence or two ... 4: most
    of the article) is at least this (Khan et al.: 1.5)."""
    skip_conflicting_labels: bool = False
    """Drop a question whose ``writer_label`` is not its ``gold_label`` (Khan et al.: on)."""
    skip_catch_all_options: bool = False
    """Drop a question whose gold or distractor says "all of the above", "none of the above"
    or "neither of these" (Khan et al.: on)."""
    max_per_article: int | None = Field(default=None, ge=1)
    """Keep at most this many questions per article (by title, the first kept in file
    order; Khan et al.: 1)."""
    distractor: DistractorRule = "best"
    """The wrong option defended: ``best``, the option the untimed annotators most often
    named best distractor (Khan et al.; ties: the lowest option number); ``most-chosen``,
    per annotator the option chosen if wrong, else the best distractor named, the most
    common (Arnesen et al.; ties: the option voted first); ``none``: no distractor column
    (the oversight protocols then draw one of the other options). A question whose
    distractor has the gold's text is dropped."""


@dataclass(frozen=True)
class QualitySource:
    """A QuALITY file, saved dataset or loaded Hub split, and how to read it.

    What :func:`debate.datasets.load_dataset` reads as QuALITY:
    ``load_dataset(QualitySource("QuALITY.v1.0.1.htmlstripped.dev", QualityOptions(hard=True)))``.
    """

    data: Any
    options: QualityOptions = field(default_factory=lambda: QualityOptions())


CATCH_ALL = ("all of the above", "none of the above", "neither of these")
"""Option texts Khan et al. drop (``incompatible_answers`` in ``core/load/quality.py``)."""


def quality_rows(name: str, rows: Iterable[tuple[str, Row]], options: QualityOptions
                 ) -> Iterator[tuple[str, Row]]:
    """One row per kept question, from QuALITY's rows.

    A QuALITY row is an article with its ``questions``, or one question beside its
    article's fields. A row returned holds ``id``, ``question``, ``choices``, ``answer`` (a
    letter), ``context``, ``distractor`` (a letter) and the annotations. The filters
    keeping none of the questions is an error.
    """
    dropped: Counter[str] = Counter()
    per_article: Counter[str] = Counter()
    total = kept = 0
    for where, row in rows:
        if "questions" in row:
            questions = row["questions"]
            if not isinstance(questions, list) or not all(isinstance(q, dict) for q in questions):
                raise DatasetError(f"{where}: field 'questions' must be a list of objects")
            items: list[tuple[Row, str, int | None]] = [
                (q, f"questions[{i}].", i) for i, q in enumerate(questions)]
        else:
            items = [(row, "", None)]
        for question, prefix, index in items:
            total += 1
            flat, reason = _question(where, row, question, prefix, index, options)
            if flat is not None and options.max_per_article is not None:
                article = str(flat["title"] or flat["article_id"] or where)
                if per_article[article] >= options.max_per_article:
                    flat, reason = None, "max_per_article"
                else:
                    per_article[article] += 1
            if flat is None:
                dropped[reason] += 1
                continue
            kept += 1
            yield where, flat
    if total and not kept:
        why = ", ".join(f"{reason} {count}" for reason, count in dropped.most_common())
        raise DatasetError(f"{name}: the QuALITY filters kept none of its {total} questions "
                           f"(dropped by: {why}); loosen dataset.quality")


def _question(where: str, article: Row, q: Row, prefix: str, index: int | None,
              options: QualityOptions) -> tuple[dict[str, Any] | None, str]:
    """The flat row of one question, or ``None`` and the filter that dropped it."""
    text = q.get("question")
    if not isinstance(text, str) or not text.strip():
        raise _bad(where, f"{prefix}question", "must be non-empty text")
    choices = q.get("options")
    if (not isinstance(choices, list) or len(choices) < 2
            or not all(isinstance(c, str) for c in choices)):
        raise _bad(where, f"{prefix}options", "must be a list of at least two texts")
    passage = article.get("article")
    if not isinstance(passage, str) or not passage.strip():
        raise _bad(where, "article", "must be the article's text")
    meta, untimed, named = _annotations(where, article, q, prefix, len(choices))
    reason = _filtered(meta, options, where, prefix)
    if reason:
        return None, reason
    gold, wrong = meta["gold_label"], None
    if options.distractor != "none" and gold is not None:
        votes = named if options.distractor == "best" else [
            d if a == gold else a for a, d in zip(untimed, named, strict=True)]
        wrong = best_distractor(votes, gold, lowest_first=options.distractor == "best")
        if wrong is not None and choices[wrong - 1].strip() == choices[gold - 1].strip():
            return None, "distractor_is_gold_text"
    if options.skip_catch_all_options and any(
            phrase in choices[label - 1].lower() for label in (gold, wrong) if label
            for phrase in CATCH_ALL):
        return None, "skip_catch_all_options"
    qid = q.get("question_unique_id")
    if qid in (None, "") and meta["set_unique_id"] and index is not None:
        qid = f"{meta['set_unique_id']}_{index + 1}"
    return {"id": _plain(qid), "question": text, "choices": choices,
            "answer": string.ascii_uppercase[gold - 1] if gold else None, "context": passage,
            "distractor": string.ascii_uppercase[wrong - 1] if wrong else None, **meta}, ""


def _annotations(where: str, article: Row, q: Row, prefix: str, n: int
                 ) -> tuple[dict[str, Any], list[int], list[int]]:
    """A question's metadata, its untimed annotators' answers and the distractors they named.

    The metadata: the article's ids, the labels, the annotations and their means.
    """
    gold = _maybe_label(q.get("gold_label"), n, where, f"{prefix}gold_label")
    writer = _maybe_label(q.get("writer_label"), n, where, f"{prefix}writer_label")
    validation = _entries(q, "validation", where, prefix)
    speed = _entries(q, "speed_validation", where, prefix)
    at = f"{prefix}validation"
    untimed = [_label(v.get("untimed_answer"), n, where, f"{at}[{j}].untimed_answer")
               for j, v in enumerate(validation)]
    named = [_label(v.get("untimed_best_distractor", v.get("untimed_eval3_distractor")), n,
                    where, f"{at}[{j}].untimed_best_distractor") for j, v in enumerate(validation)]
    speedy = [_label(v.get("speed_answer"), n, where, f"{prefix}speed_validation[{j}].speed_answer")
              for j, v in enumerate(speed)]
    difficult = q.get("difficult")
    if difficult is not None and difficult not in (0, 1):  # True and False are 1 and 0
        raise _bad(where, f"{prefix}difficult", f"is {difficult!r}, not 0 or 1")
    meta = {
        "article_id": _plain(article.get("article_id")),
        "set_unique_id": _plain(article.get("set_unique_id")),
        "title": _plain(article.get("title")), "source": _plain(article.get("source")),
        "difficult": None if difficult is None else int(difficult),
        "gold_label": gold, "writer_label": writer,
        "validation": validation, "speed_validation": speed,
        "untimed_accuracy": _share(untimed, gold), "speed_accuracy": _share(speedy, gold),
        "answerability": _mean(validation, "untimed_eval1_answerability", 3, where, prefix),
        "context_required": _mean(validation, "untimed_eval2_context", 4, where, prefix),
    }
    return meta, untimed, named


def best_distractor(votes: list[int], gold: int, *, lowest_first: bool = True) -> int | None:
    """The option (1-based) most ``votes`` name, the gold never; ``None`` without a vote.

    Ties go to the lowest option number (``lowest_first``: what Khan et al.'s
    ``max(set(votes), key=votes.count)`` gives in CPython), else to the option voted
    first (``statistics.mode``, as Arnesen et al.).
    """
    counts = Counter(v for v in votes if v != gold)
    if not counts:
        return None
    top = max(counts.values())
    tied = [v for v in (sorted(counts) if lowest_first else counts) if counts[v] == top]
    return tied[0]


def _filtered(meta: dict[str, Any], options: QualityOptions, where: str, prefix: str) -> str:
    """The name of the first filter ``meta`` fails, or ``""``."""
    if options.sources is not None:
        if _needed(meta, "source", where, prefix) not in options.sources:
            return "sources"
    if options.hard and _needed(meta, "difficult", where, prefix) != 1:
        return "hard"
    if options.skip_conflicting_labels:
        if _needed(meta, "writer_label", where, prefix) != _needed(meta, "gold_label", where,
                                                                   prefix):
            return "skip_conflicting_labels"
    for name, key, sign in _LIMITS:
        limit = getattr(options, name)
        if limit is not None and sign * (_needed(meta, key, where, prefix) - limit) > 1e-9:
            return name
    return ""


_LIMITS = (("max_answerability", "answerability", 1),
           ("min_untimed_accuracy", "untimed_accuracy", -1),
           ("max_speed_accuracy", "speed_accuracy", 1),
           ("min_context_required", "context_required", -1))
"""(option, the mean it bounds, 1 for a maximum or -1 for a minimum)."""

_SOURCE_FIELD = {"answerability": "validation", "untimed_accuracy": "validation",
                 "context_required": "validation", "speed_accuracy": "speed_validation"}


def _needed(meta: dict[str, Any], key: str, where: str, prefix: str) -> Any:
    """``meta[key]``, which a filter reads: its absence is an error naming the field."""
    if meta[key] is None:
        column = _SOURCE_FIELD.get(key, key)
        hint = (" (or no gold_label)" if key.endswith("accuracy") else "")
        raise _bad(where, f"{prefix}{column}", f"is missing or empty{hint}, and dataset.quality "
                   "filters on it (QuALITY's test split hides its annotations: use train or dev)")
    return meta[key]


def _maybe_label(value: Any, n: int, where: str, name: str) -> int | None:
    """:func:`_label`, or ``None`` where the value is absent (the test split's gold)."""
    return None if value is None or value == "" else _label(value, n, where, name)


def _label(value: Any, n: int, where: str, name: str) -> int:
    """A 1-based option number (an integer or its digits) from 1 to ``n``."""
    if value is None or value == "":
        raise _bad(where, name, "is missing")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= n:
        raise _bad(where, name, f"is {value!r}, not an option number (1-{n})")
    return value


def _entries(q: Row, key: str, where: str, prefix: str) -> list[dict[str, Any]]:
    value = q.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise _bad(where, f"{prefix}{key}", "must be a list of objects")
    return value


def _mean(validation: list[dict[str, Any]], key: str, top: int, where: str,
          prefix: str) -> float | None:
    """The mean of the annotators' ratings ``key`` (each 1..``top``); ``None`` without any."""
    ratings = [_label(v.get(key), top, where, f"{prefix}validation[{j}].{key}")
               for j, v in enumerate(validation)]
    return sum(ratings) / len(ratings) if ratings else None


def _share(answers: list[int], gold: int | None) -> float | None:
    """The share of ``answers`` that are the gold; ``None`` without answers or gold."""
    if not answers or gold is None:
        return None
    return sum(a == gold for a in answers) / len(answers)


def _plain(value: Any) -> str | None:
    """An id or name as text (the Hub copy stores ``article_id`` as a number)."""
    return None if value in (None, "") else str(value)


def _bad(where: str, name: str, problem: str) -> DatasetError:
    return DatasetError(f"{where}: field {name!r} {problem}")
