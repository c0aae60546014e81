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

A reply that holds the asked form (a box, a JSON ``answer`` field, a line that
starts with ``Answer:``) is read there and only there: when that form holds
no answer the reply is unparsed, and no fallback runs over the rest of it
(``{"answer": "eighteen", "confidence": 0.9}`` is unparsed, never 0.9). A
number that states a confidence ("90% confident", "confidence: 0.9") is never
an answer, and a choice naming two options ("(A) and (B) both fit") is none.

Choice letters go as far as the question's choices (A-R for 18 options; any
letter when the choices are unknown). Yes/no is never read from words such
as "correct" or "wrong". Extractors return ``Extraction(None)`` when there
is no answer; ``None`` is never correct (the Du et al. reference counted
unparseable answers as correct; we do not). Numbers are compared exactly
(:mod:`debate.scoring.numbers`: ``70001`` is not ``70000``; ``0.5`` is ``1/2``) unless
the question carries a :class:`~debate.scoring.numbers.NumericTolerance`.

The one home of reading model output: :mod:`~debate.scoring.extract` (answers),
:mod:`~debate.scoring.fields` (JSON objects, labelled lines, stated confidences),
:mod:`~debate.scoring.numbers` (exact numbers), :mod:`~debate.scoring.correct`
(gold answers and correctness).
"""

from debate.scoring.correct import final_correct, is_correct, normalize_gold, strip_choice_labels
from debate.scoring.extract import (
    EXPLICIT_RULES,
    FALLBACK_RULES,
    NO_ANSWER,
    Extraction,
    answer_instruction,
    asked_form,
    count_numbers,
    extract,
    extract_answer,
    extract_field,
    last_boxed,
    normalize_text,
)

__all__ = ["EXPLICIT_RULES", "FALLBACK_RULES", "NO_ANSWER", "Extraction", "answer_instruction",
           "asked_form", "count_numbers", "extract", "extract_answer", "extract_field",
           "final_correct", "is_correct", "last_boxed", "normalize_gold", "normalize_text",
           "strip_choice_labels"]
