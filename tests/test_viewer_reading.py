"""The viewer's words for what happened: which turns are private, what a judge's two
orders chose, and how many answers flipped in each debate."""

import pytest

from debate.trace import Message, Turn
from debate.viewer.reading import judge_orders, private_reason


def turn(kind="answer", step=None, **fields) -> Turn:
    return Turn(id="r1/a/x", round=1, agent="a", role="debater", kind=kind, step=step,
                messages=[Message(role="user", content="q")], raw="r", fields=fields)


def test_a_stated_confidence_is_private():
    """Before: the grid showed it like any turn; now the transcript marks it private."""
    assert "stated confidence" in private_reason(turn("confidence"))


def test_a_judge_probe_is_private():
    """Before: a probe looked like the verdict; now it is marked a probe, not read by debaters."""
    assert "probe" in private_reason(turn("verdict", step="probe"))


def test_a_candidate_left_behind_is_private_and_the_kept_one_is_not():
    """Before: best-of-N candidates looked like speeches; now the losers are marked."""
    assert "did not continue" in private_reason(turn("argument", sample=1, candidate=1))
    sampled = private_reason(turn("argument", sample=3, opponent_for="B"))
    assert "opponent" in sampled and "seat B" in sampled
    # a speech_samples-era trace continued with sample 0: that one stays on the line
    assert private_reason(turn("argument", sample=0)) is None


@pytest.mark.parametrize("kind", ["answer", "revision", "critique", "argument", "verdict"])
def test_turns_the_protocol_shows_are_not_private(kind):
    """Before and now: answers, critiques, speeches and verdicts are on the line."""
    assert private_reason(turn(kind)) is None


def test_a_judge_whose_two_orders_were_both_unparsed_says_so():
    """Before: "the two orders disagree"; now: both orders unparsed."""
    said = judge_orders({"choices": [None, None], "tie": "the two orders disagree"})
    assert said is not None and said.startswith("both orders unparsed")
    assert "disagree" not in said


def test_a_judge_with_one_order_unparsed_names_which():
    """Before: "the two orders disagree"; now: which order could not be read."""
    assert judge_orders({"choices": [None, "4"]}) == (
        "one order unparsed: the first order's choice could not be read; the other chose 4")
    assert "the swapped order's choice" in (judge_orders({"choices": ["4", None]}) or "")


def test_a_judge_whose_orders_disagree_or_agree_says_which():
    """Before: only the disagreement had words; now each case has its own."""
    assert judge_orders({"choices": ["3", "4"]}) == (
        "the two orders disagree: 3 in the first, 4 swapped")
    assert judge_orders({"choices": ["4", "4"]}) == "both orders chose 4"


def test_a_judge_asked_once_has_no_orders_line():
    """A judge without swap_order (one choice) or no judge at all: no line."""
    assert judge_orders({"choices": ["4"]}) is None
    assert judge_orders({}) is None
