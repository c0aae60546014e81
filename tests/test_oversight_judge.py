"""The oversight judge, its verdict formats and the quote check follow the reference (issue 28).

Sections 3 and 4 of issue 28: the reference's judge reasons in ``<thinking>`` tags
and ends with ``Answer: <A|B>``; a ``probabilities`` judge counts only labelled
probabilities; private confidence is read by the scale the prompt asked for and
counted per debate; quotes are verified as ucl-dark/llm_debate's ``verify_strict``
does; the blind judge hears nothing of speakers or quotes. Each test's docstring
says what the code did before and what it does now.
"""

from __future__ import annotations

import pytest
from test_oversight import PASSAGE, QUESTION  # the oversight tests' reading question

from debate.agents.base import View
from debate.agents.oversight import (
    JudgeFormat,
    OversightBrief,
    OversightJudge,
    Speech,
    check_quotes,
    close_split_quote,
)
from debate.analysis.oversight_metrics import oversight_stats
from debate.models.types import Message, SamplingParams
from debate.scoring.fields import parse_confidence_percent
from debate.scoring.verdicts import LABELS, parse_answer_letter, parse_probabilities
from debate.testing import ScriptedModel
from debate.trace import DebateTrace, FinalAnswer, Turn

ANSWERS = ("Tomas", "Mira")
SPEECHES = (Speech("Debater A", 0, "Tomas did. <u_quote>Tomas baked</u_quote>", "t0"),
            Speech("Debater B", 0, "Mira did. <v_quote>Mira baked the bread</v_quote>", "t1"))
QUOTE_COUNT = ("Debater A: 1 verified quote, Debater B: 0 verified quotes. "
               "I believe B is correct.")


async def verdict(reply: str, judge_format: JudgeFormat, transcript: tuple[Speech, ...] = SPEECHES,
                  ) -> tuple[Turn, list[Message]]:
    """One verdict of a judge whose model says ``reply``; the turn and the prompt sent."""
    model = ScriptedModel(reply)
    judge = OversightJudge("judge", model)
    brief = OversightBrief(answers=ANSWERS, step="decide", transcript=transcript,
                           judge_format=judge_format,
                           opponent=bool(transcript))
    turn = await judge.act(View(QUESTION, 0, step="decide", brief=brief))
    return turn, turn.messages


# -- the reference's judge: <thinking>, then "Answer: <A|B>" --------------------------------

@pytest.mark.parametrize("reply", [
    "<thinking>A's quote is unverified; B's is verified.</thinking>\nAnswer: B",
    "<thinking>Debater A: 1 quote.\nAnswer: A looks weak</thinking>\n\n**Answer:** B",
    "<thinking>step 1...</thinking>\nAnswer: (B)",
    "<thinking>...</thinking>\nAnswer: <B>",  # the template's brackets kept, as the reference
    "Final Answer: B",
    "<thinking>I lean A.\nAnswer: A</thinking>\nOn reflection the verified quote wins.\n"
    "Answer: B",  # the verdict after the reasoning, not a draft inside it
    "<thinking>B has the verified quote.\nAnswer: B</thinking>",  # only inside: still read
])
def test_the_answer_judge_reads_answer_b_in_every_form(reply):
    """Before: there was no ``answer`` format (the reference's judge); a stated-probability
    judge read none of these. After: each is the verdict B."""
    assert parse_answer_letter(reply, ANSWERS) == ("B", None)


@pytest.mark.parametrize("reply", [
    "I believe B is correct.",  # a guess from free text, not the asked form
    "<thinking>hard to say</thinking>\nAnswer: <A|B>",  # the template echoed (inconclusive)
    "Answer: A or B",
    "",
])
def test_the_answer_judge_leaves_a_reply_without_an_answer_line_unparsed(reply):
    """Before: no ``answer`` format. After: no decision, and the reason is recorded."""
    letter, error = parse_answer_letter(reply, ANSWERS)
    assert letter is None and "Answer: A" in str(error)


async def test_the_answer_judge_is_the_default_and_asks_for_thinking_then_an_answer_line():
    """Before: the brief's default was stated probabilities, with no ``<thinking>`` and no
    ``Answer:`` line in the prompt. After: ``answer`` is the default; its verdict is the
    letter, probability 1 on it; an unreadable reply decides nothing."""
    assert OversightBrief(answers=ANSWERS, step="decide").judge_format == "answer"
    turn, messages = await verdict("<thinking>B quotes the passage.</thinking>\nAnswer: B",
                                   "answer")
    prompt = messages[-1].content
    assert "<thinking></thinking>" in prompt and '"Answer: <A|B>"' in prompt
    assert turn.answer == "B" and turn.fields["probabilities"] == {"A": 0.0, "B": 1.0}
    unread, _ = await verdict("Both argued well.", "answer")
    assert unread.answer is None and unread.fields["probabilities"] is None
    assert "Answer: A" in unread.fields["parse_error"]


async def test_each_format_sends_its_own_instruction_and_only_logprobs_asks_for_them():
    """Before: two modes, ``stated`` and ``logprobs``. After: three, each with its prompt;
    the preference judge's "Respond with only A or B" is the ``logprobs`` one."""
    _, answer = await verdict("Answer: A", "answer")
    _, probabilities = await verdict('{"A": 0.6, "B": 0.4}', "probabilities")
    _, letter = await verdict("A", "logprobs")
    assert "Respond with only A or B" in letter[-1].content
    assert '{"A": <probability of A>' in probabilities[-1].content
    assert "Respond with only" not in answer[-1].content
    judge = OversightJudge("judge", ScriptedModel("A"))
    for judge_format, logprobs in (("answer", False), ("probabilities", False),
                                   ("logprobs", True)):
        brief = OversightBrief(answers=ANSWERS, step="decide", transcript=SPEECHES,
                               judge_format=judge_format)
        params = judge.params_for(View(QUESTION, 0, step="decide", brief=brief))
        assert isinstance(params, SamplingParams) and params.logprobs is logprobs
        # the preference judge answers a letter: 2 tokens, as the reference's preference.yaml
        assert (params.max_tokens == 2) is logprobs


# -- the probabilities judge: labelled values only ------------------------------------------

async def test_a_count_of_quotes_is_no_probability():
    """Before: "Debater A: 1 verified quote, Debater B: 0 ..." parsed as A 1.0 / B 0.0 (a
    verdict for A). After: unparsed: no labelled probability, no decision."""
    for reply in (QUOTE_COUNT, "A: 1 verified quote, B: 0 verified quotes. B wins.",
                  "Debater A: 0.7, Debater B: 0.3"):
        probs, error = parse_probabilities(reply)
        assert probs is None and "no probability" in str(error), reply
    turn, _ = await verdict(QUOTE_COUNT, "probabilities")
    assert turn.answer is None and turn.fields["probabilities"] is None


def test_labelled_probabilities_are_read_in_every_explicit_form():
    """Before: a nested JSON object, a JSON key ``P(A)`` and markdown-bold labels were
    unread. After: every explicitly labelled form is read."""
    cases = {
        '{"A": 0.7, "B": 0.3}': 0.7,  # a JSON field
        '{"probabilities": {"A": 0.7, "B": 0.3}}': 0.7,
        '{"P(A)": "70%", "P(B)": "30%"}': 0.7,
        "A: 0.7": 0.7,
        "A: 0.7 B: 0.3": 0.7,
        "Probability A: 70%": 0.7,
        "Probability of B: 0.3": 0.7,
        "P(A) = 0.7": 0.7,
        "**A**: 0.7, **B**: 0.3": 0.7,
        "Answer A: 70%, Answer B: 30%": 0.7,
        "On reflection A: 0.7 and B: 0.3.": 0.7,
    }
    for reply, p_a in cases.items():
        probs, error = parse_probabilities(reply)
        assert error is None and probs == pytest.approx({"A": p_a, "B": 1 - p_a}), reply


# -- private confidence: the prompt's scale ---------------------------------------------------

def test_a_stated_chance_is_read_by_the_prompts_scale():
    """Before: "0.8" read as 0.8% and "80." as nothing. After: a decimal fraction no larger
    than 1 is a fraction on either scale; numbers above 1 are percentages; only the integers
    0 and 1 depend on the scale the prompt asked for (0-100 here: "1" is 1%)."""
    assert parse_confidence_percent("0.8") == pytest.approx(0.8)
    assert parse_confidence_percent(".8") == pytest.approx(0.8)
    assert parse_confidence_percent("1.0") == pytest.approx(1.0)
    assert parse_confidence_percent('{"confidence": 0.8}') == pytest.approx(0.8)
    assert parse_confidence_percent('{"confidence": 80}') == pytest.approx(0.8)
    assert parse_confidence_percent("80") == pytest.approx(0.8)
    assert parse_confidence_percent("80.") == pytest.approx(0.8)
    assert parse_confidence_percent("0.8%") == pytest.approx(0.008)  # a percent sign is one
    assert parse_confidence_percent("80, that is 0.8") == pytest.approx(0.8)  # one chance
    assert parse_confidence_percent("1") == pytest.approx(0.01)
    assert parse_confidence_percent("1", scale=1) == pytest.approx(1.0)
    assert parse_confidence_percent("0.8", scale=1) == pytest.approx(0.8)
    assert parse_confidence_percent("1 or 1.0") is None  # 1% or certainty: ambiguous
    assert parse_confidence_percent("180") is None


def estimate(order: int, round_: int, seat: str, confidence: float | None) -> Turn:
    return Turn(id=f"r{round_}/{seat}/confidence/o{order}", round=round_, agent=f"debater-{seat}",
                role="qa-debater", kind="confidence", messages=[], raw=str(confidence),
                confidence=confidence, fields={"order": order, "seat": seat,
                                               "side": "correct" if seat == "A" else "incorrect"})


def test_both_confident_is_counted_per_debate_at_its_last_round():
    """Before: only (order, round) points were counted. After: beside them, per debate (one
    per order) the paper's count: both debaters at least 75% after the last round."""
    rounds = {0: [(0.6, 0.9), (0.7, 0.8), (0.8, 0.9)],  # only the last round: a debate both
              1: [(0.8, 0.8), (0.8, 0.8), (0.75, None)]}  # ... last: one unread, so no
    turns = [estimate(order, r, seat, c) for order, pairs in rounds.items()
             for r, pair in enumerate(pairs) for seat, c in zip(LABELS, pair, strict=True)]
    trace = DebateTrace(id="d1", protocol="debate-qa", question=QUESTION, agents=[],
                        turns=turns, final=FinalAnswer(answer=None, method="judge"),
                        stop_reason="max_rounds")
    stats = oversight_stats([trace])
    assert stats is not None
    assert (stats.both_confident_debates.hits, stats.both_confident_debates.total) == (1, 2)
    assert (stats.both_confident.hits, stats.both_confident.total) == (3, 6)  # per point


# -- quotes: the reference's verification rule, the strict rule as an option -----------------

def test_quotes_are_verified_by_the_reference_rule_and_the_strict_rule_is_an_option():
    """Before: punctuation became spaces and quotes had to match whole words (now
    ``strict=True``). After, by default, as ``verify_strict``: curly quotes made straight,
    ASCII punctuation deleted, lowercased, a substring of the passage so normalised."""
    passage = "“Don’t wait,” said Mira’s well-known aunt—then left at dawn."
    cases = [  # quote, reference rule, strict rule
        ('"Don\'t wait," said', True, True),  # curly against straight quotes
        ("DON'T WAIT SAID MIRA'S", True, True),  # case
        ("Miras wellknown aunt", True, False),  # punctuation deleted, not made a space
        ("well known aunt", False, True),
        ("ira’s well", True, False),  # a substring, not whole words
        ("aunt then left", False, True),  # an em dash is not ASCII punctuation: kept
        ("left at noon", False, False),
        ("...", False, False),  # nothing left to find
    ]
    for quote, reference, strict in cases:
        assert check_quotes(f"<quote>{quote}</quote>", passage)[2] == reference, quote
        assert check_quotes(f"<quote>{quote}</quote>", passage, strict=True)[2] == strict, quote


def test_a_speakers_own_verified_tag_is_checked_like_any_quote():
    """Before: a speaker writing ``<v_quote>`` itself was shown verified, unchecked. After:
    its tags become ``<quote>`` and the check decides, as the reference does."""
    marked, total, verified = check_quotes("<v_quote>Tomas baked the bread</v_quote> and "
                                           "<u_quote>Mira baked</u_quote>", PASSAGE)
    assert (total, verified) == (2, 1)
    assert marked == ("<u_quote>Tomas baked the bread</u_quote> and "
                      "<v_quote>Mira baked</v_quote>")


def test_a_quote_split_by_a_cut_is_closed():
    """Before: nothing closed a quote a cut split (its ``<quote>`` went to the judge
    unmarked). After: ``close_split_quote`` closes it, as the reference's ``truncate``."""
    cut = "It was her. <quote>Mira baked the bread at"
    assert close_split_quote(cut) == cut + "</quote>"
    assert check_quotes(close_split_quote(cut), PASSAGE)[1:] == (1, 1)
    whole = "<quote>Mira baked</quote> and <quote>Tomas"
    assert close_split_quote(whole) == whole + "</quote>"
    assert close_split_quote("<quote>Mira baked</quote> then") == "<quote>Mira baked</quote> then"
    assert close_split_quote("<v_quote>Mira") == "<v_quote>Mira</v_quote>"
    assert close_split_quote("no quotes") == "no quotes"


# -- the blind judge --------------------------------------------------------------------------

@pytest.mark.parametrize("judge_format", ["answer", "probabilities", "logprobs"])
async def test_the_blind_judges_prompt_mentions_no_speakers_and_no_quotes(judge_format):
    """Before: the blind judge got the debate judge's rules (speakers, quote tags) and a
    "(no debate)" transcript. After: a prompt of the question and the two answers only."""
    _, messages = await verdict("Answer: A", judge_format, transcript=())
    text = "\n".join(m.content for m in messages).lower()
    for word in ("debater", "speaker", "quote", "consultant", "transcript"):
        assert word not in text, word
    assert "answer a: tomas" in text and "answer b: mira" in text
    _, seen = await verdict("Answer: A", judge_format)  # with speakers: the quote rules
    assert "<v_quote>" in seen[0].content and "speaker" in seen[0].content


@pytest.mark.parametrize("reply", [
    "Quote check - A: 1, B: 0. I believe B is correct.",
    "Option A: 3 verified quotes; option B: 1.",
    '{"verified_quotes": {"A": 1, "B": 0}}',
])
def test_counts_in_any_form_are_no_probability(reply):
    """Found in review: a bare 0/1 before punctuation, and counts nested in JSON, read as a
    verdict (A 1.0, or B 1.0)."""

    assert parse_probabilities(reply)[0] is None


@pytest.mark.parametrize(("reply", "a"), [
    ("A: 1.0", 1.0), ('{"A": 1, "B": 0}', 1.0), ('{"probabilities": {"A": 0.6, "B": 0.4}}', 0.6),
    ("A: 70, B: 30", 0.7),
])
def test_stated_probabilities_still_read(reply, a):

    probs, _ = parse_probabilities(reply)
    assert probs is not None and probs["A"] == pytest.approx(a)
