import pytest

from debate.scoring import extract, extract_answer, extract_field, is_correct, normalize_gold

NUMERIC = [
    ("The answer is \\boxed{42}.", "42"),
    ("#### 72", "72"),
    ("She pays 5 + 3 = 8.\n#### 8", "8"),
    ("So the answer is 1,234.", "1234"),
    ("The answer is $1,234.50.", "1234.5"),
    ("\\boxed{1,234}", "1234"),
    ("\\boxed{\\$18}", "18"),
    ("\\boxed{\\frac{1}{2}}", "0.5"),
    ("\\boxed{3/4}", "0.75"),
    ("\\boxed{12.0}", "12"),
    ("\\boxed{-7}", "-7"),
    ("First 3 then 7, so 10 in the end", "10"),
    ("The answer is 18. (Check: 20 - 2 = 18, not 20)", "18"),
    ("Two boxes: \\boxed{5} ... corrected: \\boxed{6}", "6"),
    ("\\boxed{{12}}", "12"),
    ("answer: 50%", "50"),
    ("Final answer: **36**", "36"),
    ("x = .5", "0.5"),
    ("no numbers here", None),
    ("", None),
    ("   ", None),
]


@pytest.mark.parametrize(("text", "expected"), NUMERIC)
def test_numeric_extraction(text, expected):
    assert extract_answer(text, "numeric") == expected


CHOICES = ["London", "Paris", "Rome", "Berlin"]
CHOICE = [
    ("The answer is (B)", "B"),
    ("\\boxed{c}", "C"),
    ("\\boxed{(D)}", "D"),
    ("\\boxed{A) London}", "A"),
    ("Answer: D", "D"),
    ("I think Paris is right.", "B"),
    ("Paris or Rome, hard to say", None),
    ("B) because it is the capital", "B"),
    ("nothing useful", None),
]


@pytest.mark.parametrize(("text", "expected"), CHOICE)
def test_choice_extraction(text, expected):
    assert extract_answer(text, "choice", CHOICES) == expected


YESNO = [
    ("Yes, because it is.", "yes"),
    ("The answer is no.", "no"),
    ("\\boxed{No}", "no"),
    ("\\boxed{yes}", "yes"),
    ("It is not true. So false", "no"),
    ("True", "yes"),
    ("maybe", None),
]


@pytest.mark.parametrize(("text", "expected"), YESNO)
def test_yesno_extraction(text, expected):
    assert extract_answer(text, "yesno") == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("\\boxed{The Eiffel Tower}", "eiffel tower"),
    ("The answer is: Paris.", "paris"),
    ("answer: Mount   Everest! ", "mount everest"),
    ("  Mount   Everest! ", None),  # never the whole reply: no explicit answer, unparsed
    ("I would say it is probably Paris.", None),
])
def test_exact_extraction(text, expected):
    assert extract_answer(text, "exact") == expected


@pytest.mark.parametrize(("text", "task", "answer", "rule", "source"), [
    ("so \\boxed{42}", "numeric", "42", "boxed", "explicit"),
    ("#### 42", "numeric", "42", "hashes", "explicit"),
    ("The answer is 42.", "numeric", "42", "answer-line", "explicit"),
    ("3 and then 42", "numeric", "42", "last-number", "fallback"),
    ("\\boxed{B}", "choice", "B", "boxed", "explicit"),
    ("Answer: (C)", "choice", "C", "answer-line", "explicit"),
    ("B) because", "choice", "B", "letter", "fallback"),
    ("(D) seems right", "choice", "D", "letter", "fallback"),
    ("I think Paris is right.", "choice", "B", "choice-text", "fallback"),
    ("\\boxed{no}", "yesno", "no", "boxed", "explicit"),
    ("The answer is yes, clearly", "yesno", "yes", "answer-line", "explicit"),
    ("Yes, because it is.", "yesno", "yes", "keyword", "fallback"),
    ("\\boxed{Paris}", "exact", "paris", "boxed", "explicit"),
    ("Answer: Paris", "exact", "paris", "answer-line", "explicit"),
    ("nothing here", "numeric", None, None, None),
])
def test_every_answer_says_how_it_was_found(text, task, answer, rule, source):
    found = extract(text, task, CHOICES if task == "choice" else None)
    assert (found.answer, found.rule, found.source) == (answer, rule, source)


@pytest.mark.parametrize("text", ["That is correct.", "This is wrong.", "incorrect",
                                  "The reasoning is correct, I agree", "Right!"])
def test_yesno_is_never_read_from_judgement_words(text):
    assert extract_answer(text, "yesno") is None


def test_choice_letters_go_as_far_as_the_choices():
    eighteen = [f"option {i}" for i in range(18)]  # BIG-Bench Hard colored objects: A-R
    assert extract_answer("(L)", "choice", eighteen) == "L"
    assert extract_answer("\\boxed{R}", "choice", eighteen) == "R"
    assert extract_answer("(L)", "choice", CHOICES) is None  # only A-D exist here
    assert extract_answer("\\boxed{S}", "choice", eighteen) is None
    assert extract_answer("The answer is (K).", "choice", None) == "K"  # choices unknown


def test_free_text_letters_are_capitals_and_not_the_pronoun():
    assert extract_answer("The answer is a cat.", "choice", CHOICES) is None
    many = [str(i) for i in range(12)]
    assert extract_answer("Answer: I think so", "choice", many) is None
    assert extract_answer("Answer: I", "choice", many) == "I"


@pytest.mark.parametrize(("value", "task", "expected"), [
    ("eighteen", "numeric", None),  # the field holds no number: unparsed
    ("18 apples", "numeric", "18"),
    ("\\boxed{7}", "numeric", "7"),
    ("Paris", "choice", "B"),
    ("(c)", "choice", "C"),
    ("Yes.", "yesno", "yes"),
    ("The Eiffel Tower", "exact", "eiffel tower"),
    ("", "exact", None),
])
def test_answer_fields(value, task, expected):
    found = extract_field(value, task, CHOICES if task == "choice" else None)
    assert found.answer == expected
    assert found.rule == ("field" if expected is not None else None)


@pytest.mark.parametrize(("answer", "gold", "task", "expected"), [
    ("18", "18", "numeric", True),
    ("18.00001", "18", "numeric", False),  # an integer gold is compared exactly
    ("18.1", "18", "numeric", False),
    ("1234", "1234", "numeric", True),
    (None, "18", "numeric", False),  # unparseable is never correct
    ("18", None, "numeric", None),
    ("B", "B", "choice", True),
    ("A", "B", "choice", False),
    ("yes", "no", "yesno", False),
])
def test_is_correct(answer, gold, task, expected):
    assert is_correct(answer, gold, task) is expected


@pytest.mark.parametrize(("gold", "task", "choices", "expected"), [
    ("Natalia sold 48/2 = 24 clips in May.\n#### 72", "numeric", None, "72"),
    ("1,000", "numeric", None, "1000"),
    (42, "numeric", None, "42"),
    ("b", "choice", CHOICES, "B"),
    ("2", "choice", CHOICES, "C"),
    ("Berlin", "choice", CHOICES, "D"),
    ("No", "yesno", None, "no"),
])
def test_normalize_gold(gold, task, choices, expected):
    assert normalize_gold(gold, task, choices) == expected


def test_bad_gold_says_why():
    with pytest.raises(ValueError, match="not a letter"):
        normalize_gold("Madrid", "choice", CHOICES)
    with pytest.raises(ValueError, match="no number"):
        normalize_gold("many", "numeric")


@pytest.mark.parametrize(("text", "task", "expected"), [
    ("The answer isn't clear to me.", "exact", (None, None)),
    ("The answer is no longer obvious.", "yesno", ("no", "keyword")),  # a guess, labelled
    ("answer 3 apples", "numeric", ("3", "last-number")),
    ("Option A is wrong. Option B is also wrong.", "choice", ("B", "letter")),
    ("I cannot answer: A and B both fit", "choice", (None, None)),
    ("Answer: A, B", "choice", (None, None)),
    ("Answer: B because it fits", "choice", ("B", "answer-line")),
    ("**Answer**: 42", "numeric", ("42", "answer-line")),
])
def test_non_answers_are_never_explicit(text, task, expected):
    found = extract(text, task, CHOICES if task == "choice" else None)
    assert (found.answer, found.rule) == expected


def test_the_last_answer_line_wins_in_fields_too():
    from debate.agents.base import answer_confidence_parser
    from debate.trace import Question

    q = Question(id="q", text="?", task="numeric")
    text = "Answer: 12\nHmm, let me recheck: 3 * 4 = 14? No...\nAnswer: 14\nConfidence: 0.7"
    found, confidence = answer_confidence_parser(text, q)
    assert (found.answer, confidence) == ("14", 0.7)
    assert extract(text, "numeric").answer == "14"



# GSM8K's test golds reach 100,000 and more: a relative tolerance let answers off by
# one (or by up to 10) pass. An integer gold is compared exactly, a decimal gold at
# its own value, however it is written.
@pytest.mark.parametrize(("answer_text", "gold", "expected"), [
    ("\\boxed{70001}", "70000", False),
    ("\\boxed{10001}", "10000", False),
    ("\\boxed{9999}", "10000", False),
    ("\\boxed{100010}", "100000", False),
    ("\\boxed{70000}", "70000", True),
    ("\\boxed{70,000}", "70000", True),
    ("The answer is $70,000.", "70000", True),
    ("\\boxed{\\$1,234.50}", "1234.5", True),
    ("Answer: 18 dollars", "18", True),
    ("\\boxed{18 \\text{ apples}}", "18", True),
    ("\\boxed{€5}", "5", True),
    ("\\boxed{12.0}", "12", True),
    ("\\boxed{12.01}", "12", False),
    ("\\boxed{0.5}", "1/2", True),
    ("\\boxed{0.50}", "0.5", True),
    ("\\boxed{\\frac{1}{2}}", "0.5", True),
    ("\\boxed{.5}", "0.5", True),
    ("\\boxed{0.3333}", "0.33", False),
    ("\\boxed{0.33}", "0.3333", False),
    ("\\boxed{1/3}", "0.33", False),
    ("\\boxed{2/6}", "1/3", True),
    ("\\boxed{-3}", "3", False),
    ("\\boxed{50%}", "50", True),
    ("#### 1,000,000", "1000000", True),
    ("#### 999999", "1000000", False),
])
def test_numbers_are_compared_exactly(answer_text, gold, expected):
    answer = extract_answer(answer_text, "numeric")
    assert is_correct(answer, normalize_gold(gold, "numeric"), "numeric") is expected


def test_a_tolerance_is_asked_for_and_is_absolute_or_relative():
    from debate.scoring.numbers import NumericTolerance

    relative, absolute = NumericTolerance(relative=0.01), NumericTolerance(absolute=0.005)
    assert is_correct("0.3333", "0.33", "numeric", relative) is True
    assert is_correct("0.34", "0.33", "numeric", relative) is False
    assert is_correct("101", "100", "numeric", relative) is True
    assert is_correct("102", "100", "numeric", relative) is False
    assert is_correct("0.334", "0.33", "numeric", absolute) is True
    assert is_correct("0.336", "0.33", "numeric", absolute) is False
    # at the boundary, as written (a float's 0.3 is a little below 0.3)
    assert is_correct("1.3", "1", "numeric", NumericTolerance(absolute=0.3)) is True
    assert is_correct("103", "100", "numeric", NumericTolerance(relative=0.03)) is True
    assert normalize_gold(1e-05, "numeric") == "0.00001"  # a float gold in JSON
    with pytest.raises(ValueError, match="give absolute, relative or both"):
        NumericTolerance()
    with pytest.raises(ValueError, match="less than or equal to 1"):
        NumericTolerance(relative=5)


@pytest.mark.parametrize(("value", "text"), [
    ("12", "12"), ("12.50", "12.5"), ("-0.75", "-0.75"), ("1/3", "1/3"), ("4/6", "2/3"),
    ("-2/8", "-0.25"), ("$1,234", "1234"), ("0.000", "0"), ("-.5", "-0.5"), ("3/1", "3"),
])
def test_every_number_has_one_text(value, text):
    from debate.scoring.numbers import canonical_number, parse_number

    assert canonical_number(parse_number(value)) == text


# The asked form, present but holding no answer, is no answer: nothing else is read.
@pytest.mark.parametrize(("text", "task", "expected"), [
    ('{"answer": "eighteen", "confidence": 0.9}', "numeric", (None, None)),
    ('{"answer": 18, "confidence": 0.9}', "numeric", ("18", "field")),
    ('I think 18.\n{"answer": null}', "numeric", (None, None)),
    ("We have 3 + 4 = 7.\n\\boxed{seven}", "numeric", (None, None)),
    ("3 + 4 = 7\nAnswer: seven", "numeric", (None, None)),
    ("3 + 4 = 7\nAnswer:\n7", "numeric", ("7", "answer-line")),
    ("So 7.\n**Final Answer:** seven", "numeric", (None, None)),
    ("Paris is in France (B).\nAnswer: none of them", "choice", (None, None)),
    ("It is yes.\nAnswer: unclear", "yesno", (None, None)),
    ('{"answer": "Paris"}', "exact", ("paris", "field")),
    ('{"Answer": "(C)"}', "choice", ("C", "field")),
])
def test_an_asked_form_without_an_answer_is_unparsed(text, task, expected):
    found = extract(text, task, CHOICES if task == "choice" else None)
    assert (found.answer, found.rule) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("It is 18. I am 90% confident.", "18"),
    ("18 apples. Confidence: 0.9", "18"),
    ("The total is 18 (confidence 0.85)", "18"),
    ("18, with 75% certainty", "18"),
    ("Confidence level: 8/10. The total is 18", "18"),
    ('{"reasoning": "3 times 6 is 18", "confidence": 0.9}', "18"),
    ("I am 90% sure.", None),
    ("Answer: 18 (confidence: 0.9)", "18"),
])
def test_a_stated_confidence_is_never_the_answer(text, expected):
    assert extract_answer(text, "numeric") == expected


@pytest.mark.parametrize("text", [
    "(A) and (B) both fit.", "A and B both fit.", "Either (A) or (C).", "A or C, I think",
    "(B), (D)", "Answer: (A) and (B)", "\\boxed{(A) and (B)}", "\\boxed{A or B}",
    '{"answer": "A and C"}',
])
def test_a_reply_naming_two_options_is_unparsed(text):
    assert extract(text, "choice", CHOICES).answer is None


def test_one_option_named_twice_is_still_one():
    assert extract_answer("(B), yes (B)", "choice", CHOICES) == "B"


async def test_du_never_takes_a_stated_confidence_for_the_final_answer():
    """du's default parser on the issue's reply: the asked field holds no number."""
    from debate import run_debate
    from debate.testing import ScriptedModel
    from debate.trace import Question

    model = ScriptedModel('{"answer": "eighteen", "confidence": 0.9}')
    trace = await run_debate(Question(id="q", text="What is 9 + 9?", task="numeric", gold="18"),
                             protocol="du", models=model, rounds=1)
    assert [turn.answer for turn in trace.turns] == [None] * 6  # before: "0.9" each
    assert trace.final.answer is None and trace.correct is False


# Replies weak models write, each read where the answer stands (found in review).
@pytest.mark.parametrize(("text", "task", "expected"), [
    ("Answer: 18 (step 3)", "numeric", "18"),  # the number after the label, not the last
    ("Final answer: 42 (rounded to 2 decimal places)", "numeric", "42"),
    ("**Answer:** 18 eggs (9 eggs x $2)", "numeric", "18"),
    ("The answer is 18\nConfidence: 90%", "numeric", "18"),  # not the confidence line
    ("The answer is 18\n\nConfidence: 0.9", "numeric", "18"),
    ("Answer: 18 confidence 0.9", "numeric", "18"),
    # a form that holds no answer: an answer stated after it
    ("Answer: Let me think.\nThe total is 5 + 9 = 14.\nThe final answer is 14.", "numeric", "14"),
    ("Answer: let's compute\n\n#### 14", "numeric", "14"),
    ("Answer: Let me think.\nBirds can fly, so the answer is yes.", "yesno", "yes"),
    # a label alone on its line: the next line when it is the last, else a heading
    ("Answer:\n42", "numeric", "42"),
    ("Answer:\nFirst 3+4=7. Then 7*2=14.\nSo he pays 14 + 4 = 18.", "numeric", "18"),
    ("The answer is −7", "numeric", "-7"),  # a typeset minus
    ("Answer: 2.5e3", "numeric", "2500"),
    ('{"answer": 0.00001}', "numeric", "0.00001"),
    ("Answer: Paris (confidence: 0.9)", "exact", "paris"),
    ("Answer: Paris, 90% confident", "exact", "paris"),
])
def test_replies_weak_models_write(text, task, expected):
    assert extract(text, task).answer == expected


BOTH = ["Paris", "London", "Rome", "Both A and B"]


@pytest.mark.parametrize(("text", "expected"), [
    ("Answer: (D) Both A and B", "D"),  # an option's text may name two letters
    ("\\boxed{D) Both A and B}", "D"),
    ('{"answer": "D) Both A and B"}', "D"),
    ("Answer: Both A and B", "D"),
    ("Answer: C, because A and B are wrong", "C"),
    ("**Answer:** B (not A or C)", "B"),
    ("A and B are wrong. The correct option is (D).", "D"),
    ("(A) and (B) both fit.", None),
    ("Answer: A or B", None),
])
def test_two_options_are_none_only_where_they_are_the_answer(text, expected):
    assert extract(text, "choice", BOTH).answer == expected


def test_boxes_are_found_in_one_pass():
    """The last closed box wins; unclosed ones are skipped (linear: 5000 open boxes used
    to take seconds a reply)."""
    from debate.scoring import last_boxed

    assert last_boxed("\\boxed{a}\\boxed{b") == "a"
    assert last_boxed("x \\boxed {5} and \\boxed{{12}}") == "{12}"
    assert last_boxed("\\boxed{" * 5000) is None
    assert last_boxed("\\boxed{1}" + "\\boxed x " * 5000) == "1"


# Found in the second review: spans holding working, explanations after the answer,
# lists of options, confidences, exponents and signs.
@pytest.mark.parametrize(("text", "task", "expected"), [
    ("Answer: $\\boxed{2 + 16 = 18}$", "numeric", "18"),  # a computation: its result
    ("Answer: 3 + 15 = 18", "numeric", "18"),
    ("Answer: 16 - 3 - 4 = 9 eggs, 9 * $2 = $18", "numeric", "18"),
    ("**Answer**: 2 * 9 = **18**", "numeric", "18"),
    ("**Answer:** After selling 9 eggs at $2 each, Janet makes $18 every day.", "numeric", "18"),
    ("Final Answer: After 2 weeks, she saves $18.", "numeric", "18"),
    ("Answer: 18 dollars per 2 weeks", "numeric", "18"),  # a span that starts with it
    # an explanation after the answer does not replace it
    ("\\boxed{18}\n\nTo verify: the answer is 2 * 9 = 18.", "numeric", "18"),
    ("Answer: 18\n\nVerification: the answer is 9 * 2 = 18.", "numeric", "18"),
    ("Answer: 18 dollars\n\nI previously thought the answer is 16.", "numeric", "18"),
    ('{"answer": 18, "reasoning": "the answer is 9*2 = 18"}', "numeric", "18"),
    ("\\boxed{Paris}\n\nThe answer is Paris because it is the capital.", "exact", "paris"),
    ("Answer: Paris\nThe answer is correct because it is the capital.", "exact", "paris"),
    ('{"answer": "Paris", "explanation": "The answer is Paris since"}', "exact", "paris"),
    ("Answer:\nNo\n\nReason: it cannot, so yes it is impossible.", "yesno", "no"),
    # confidences in other words
    ("She makes $18 a day. I'm 9/10 confident.", "numeric", "18"),
    ("Total = 18 dollars. 0.9 confidence", "numeric", "18"),
    ("She makes $18 a day.\nConfidence:\n0.9", "numeric", "18"),
    ("She makes $18 a day. **Confidence:** 95%", "numeric", "18"),
    ("She makes $18 a day. Confidence level: 8 out of 10", "numeric", "18"),
    # exponents are bounded, signs typeset or not
    ("x 1e5000", "numeric", None),
    ("The total is 1e99999999", "numeric", None),
    ("\\boxed{−5}", "numeric", "-5"),
    ("The answer is \\frac{3}{4}", "numeric", "0.75"),
    ("## Answer:\n\nStep 1: 16-3=13\nStep 2: 13-4=9\nStep 3: 9x2=18", "numeric", "18"),
])
def test_second_review_cases(text, task, expected):
    assert extract(text, task, BOTH if task == "choice" else None).answer == expected


def test_a_typeset_minus_is_one_sign_in_golds_fields_and_replies():
    assert normalize_gold("−5", "numeric") == "-5"
    assert extract_field("−5", "numeric").answer == "-5"
    assert extract('{"answer": "−5"}', "numeric").answer == "-5"


@pytest.mark.parametrize("text", ["It could be (A), (B) or (C).",
                                  "The correct option is (A) Paris. (B), (C) and (D) are wrong."])
def test_a_list_of_three_options_names_more_than_one(text):
    assert extract(text, "choice", BOTH).answer is None
