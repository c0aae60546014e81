"""Turn fields that one module writes and another reads are typed turn extensions."""

import json

import pytest

from debate.agents.critique import CritiqueVerdict
from debate.agents.debater import TokenUncertainty
from debate.agents.judge import JudgeRationale
from debate.agents.mad import MadJudgeDecision, ModeratorVerdict
from debate.agents.oversight_judge import JudgeVerdict
from debate.agents.peer import PeerReview
from debate.agents.reconcile import ReconcileExplanation
from debate.agents.sr_dcr import ClosedBookConfidence, ReliabilityVerdict
from debate.protocols.oversight_records import (
    JudgeRating,
    OversightJudgment,
    OversightSpeech,
    SampleMark,
)
from debate.trace import Turn
from debate.trace_extensions import TurnExtension, TurnExtensionError

EXTENSIONS: list[TurnExtension] = [
    OversightSpeech(order=1, seat="A", side="correct", defends="Mira", quotes=2,
                    verified_quotes=1, words=40),
    OversightSpeech(order=0, seat="B", side="incorrect"),
    OversightJudgment(order=0, correct_label="B", p_correct=0.7, decision="B",
                      decided_correct=True),
    OversightJudgment(order=1, correct_label="A", candidate=2, probe_of="r0/a/argument/o1",
                      seat="A", p_correct=None, decision=None, decided_correct=None),
    JudgeRating(point="o0/r1/A", candidate=1, judge_p_own=0.25),
    SampleMark(sample=3, opponent_for="B"),
    TokenUncertainty(uncertainty=0.42, uncertainty_metric="entropy"),
    JudgeRationale(rationale="candidate 2 checks its sum"),
    ReliabilityVerdict(reason="the passage contradicts itself", parse_error=None),
    JudgeVerdict(probabilities={"A": 0.3, "B": 0.7}),
    JudgeVerdict(parse_error="no probability for A or B", probabilities=None),
    ClosedBookConfidence(answer_tokens=3, confidence_source="logprobs"),
    ClosedBookConfidence(confidence_source="none"),
    PeerReview(confidence_1_10=7.0, reviewed="agent-1"),
    PeerReview(confidence_1_10=None, reviewed="agent-2"),
    CritiqueVerdict(critique="3 rows of 4 is 12", stated_verdict="Revise.", verdict="revise"),
    CritiqueVerdict(stated_verdict=None, verdict=None, parse_error="no accept/revise verdict"),
    ModeratorVerdict(reason="both agree", preference=True, debate_answer="12"),
    ModeratorVerdict(parse_error="no verdict fields in the reply", preference=None,
                     debate_answer=""),
    MadJudgeDecision(reason={"steps": [3, 4]}, debate_answer=12),
    ReconcileExplanation(explanation="3 rows of 4 eggs"),
]


def turn_with(fields: dict[str, object]) -> Turn:
    """An argument turn carrying ``fields``."""
    return Turn(id="r1/debater-a/argument/o0", round=1, agent="debater-a", role="qa-debater",
                kind="argument", messages=[], raw="x", fields=dict(fields))


@pytest.mark.parametrize("extension", EXTENSIONS, ids=lambda e: type(e).__name__)
def test_an_extension_reads_back_from_a_trace_json_line_as_written(extension):
    """Written into a turn's fields and through its JSON line, it reads back equal."""
    fields: dict[str, object] = {"note": "kept"}
    extension.write(fields)
    line = turn_with(fields).model_dump_json()
    again = Turn.model_validate_json(line)
    assert type(extension).read(again) == extension
    assert again.fields["note"] == "kept"


@pytest.mark.parametrize("extension", EXTENSIONS, ids=lambda e: type(e).__name__)
def test_an_old_trace_line_without_the_keys_reads_as_none(extension):
    """A turn written before (or without) the extension carries none of it: ``None``."""
    old = Turn.model_validate_json(turn_with({"note": "old"}).model_dump_json())
    assert type(extension).read(old) is None


@pytest.mark.parametrize(("kind", "fields", "key"), [
    (OversightSpeech, {"order": 0, "seat": "A", "side": "correct", "quotes": "many"}, "quotes"),
    (JudgeRating, {"point": "o0/r0/A", "candidate": 0, "judge_p_own": "high"}, "judge_p_own"),
    (TokenUncertainty, {"uncertainty": [1], "uncertainty_metric": "entropy"}, "uncertainty"),
    (JudgeVerdict, {"probabilities": {"A": "likely", "B": 0.3}}, "probabilities"),
    (JudgeVerdict, {"parse_error": ["no"], "probabilities": None}, "parse_error"),
    (ClosedBookConfidence, {"answer_tokens": "many", "confidence_source": "logprobs"},
     "answer_tokens"),
    (PeerReview, {"confidence_1_10": "high", "reviewed": "agent-1"}, "confidence_1_10"),
    (PeerReview, {"confidence_1_10": 7.0, "reviewed": ["agent-1"]}, "reviewed"),
    (CritiqueVerdict, {"stated_verdict": "maybe", "verdict": "maybe"}, "verdict"),
    (ModeratorVerdict, {"preference": "perhaps", "debate_answer": "12"}, "preference"),
    (ModeratorVerdict, {"preference": True, "debate_answer": 12}, "debate_answer"),
    (MadJudgeDecision, {"reason": {"not", "json"}}, "reason"),
    (ReconcileExplanation, {"explanation": {"not", "json"}}, "explanation"),
])
def test_a_malformed_value_is_an_error_naming_the_turn_the_key_and_the_value(kind, fields, key):
    """A key present with a value of the wrong kind is located, never silently dropped."""
    with pytest.raises(TurnExtensionError, match=rf"r1/debater-a/argument/o0.*'{key}'.*="):
        kind.read(turn_with(fields))


def test_a_missing_required_key_is_an_error_naming_it():
    """Part of an extension without a key it always has names the missing key."""
    with pytest.raises(TurnExtensionError, match=r"OversightSpeech lack 'side'"):
        OversightSpeech.read(turn_with({"order": 0, "seat": "A"}))


@pytest.mark.parametrize(("kind", "fields", "key"), [
    (ClosedBookConfidence, {"answer_tokens": 3}, "confidence_source"),
    (PeerReview, {"confidence_1_10": 7.0}, "reviewed"),
    (ModeratorVerdict, {"preference": True}, "debate_answer"),
])
def test_a_missing_required_key_of_a_new_extension_is_named(kind, fields, key):
    """Each extension's always-written key, when missing, is named in the error."""
    with pytest.raises(TurnExtensionError, match=rf"{kind.__name__} lack '{key}'"):
        kind.read(turn_with(fields))


def test_the_trace_json_is_unchanged():
    """The fields the extensions write are byte for byte the ones written before them."""
    speech: dict[str, object] = {"explanation": "e"}
    OversightSpeech(order=1, seat="A", side="correct", defends="Mira", quotes=2,
                    verified_quotes=1, words=40).write(speech)
    JudgeRating(point="o1/r0/A", candidate=1, judge_p_own=None).write(speech)
    SampleMark(sample=1).write(speech)
    assert json.dumps(speech) == (
        '{"explanation": "e", "order": 1, "seat": "A", "side": "correct", "defends": "Mira", '
        '"quotes": 2, "verified_quotes": 1, "words": 40, "point": "o1/r0/A", "candidate": 1, '
        '"judge_p_own": null, "sample": 1}')
    probe: dict[str, object] = {"probabilities": None, "parse_error": "no verdict"}
    OversightJudgment(order=1, correct_label="B", candidate=0, probe_of="t", seat="A",
                      p_correct=None, decision=None, decided_correct=None).write(probe)
    assert json.dumps(probe) == (
        '{"probabilities": null, "parse_error": "no verdict", "order": 1, "correct_label": "B", '
        '"candidate": 0, "probe_of": "t", "seat": "A", "p_correct": null, "decision": null, '
        '"decided_correct": null}')
    verdict: dict[str, object] = {"probabilities": {"A": 0.3, "B": 0.7}}
    OversightJudgment(order=0, correct_label="B", p_correct=0.7, decision="B",
                      decided_correct=True).write(verdict)
    assert json.dumps(verdict) == (
        '{"probabilities": {"A": 0.3, "B": 0.7}, "order": 0, "correct_label": "B", '
        '"p_correct": 0.7, "decision": "B", "decided_correct": true}')
    reply: dict[str, object] = {"answer": "4"}
    TokenUncertainty(uncertainty=0.5, uncertainty_metric="mean-nll").write(reply)
    assert json.dumps(reply) == (
        '{"answer": "4", "uncertainty": 0.5, "uncertainty_metric": "mean-nll"}')


def written(fields: dict[str, object], *extensions: TurnExtension) -> str:
    """``fields`` as JSON after the extensions are written into it, in order."""
    for extension in extensions:
        extension.write(fields)
    return json.dumps(fields)


def test_the_oversight_judge_verdict_is_stored_as_before():
    """A read verdict stores its probabilities; an unread one its reason, then a null."""
    assert written({}, JudgeVerdict(probabilities={"A": 0.3, "B": 0.7})) == (
        '{"probabilities": {"A": 0.3, "B": 0.7}}')
    assert written({}, JudgeVerdict(parse_error="no verdict", probabilities=None)) == (
        '{"parse_error": "no verdict", "probabilities": null}')


def test_the_closed_book_confidence_is_stored_as_before():
    """The token count, when log-probabilities were summed, comes before the source."""
    assert written({"answer_span": "12"},
                   ClosedBookConfidence(answer_tokens=2, confidence_source="logprobs")) == (
        '{"answer_span": "12", "answer_tokens": 2, "confidence_source": "logprobs"}')
    assert written({"answer_span": "12"}, ClosedBookConfidence(confidence_source="none")) == (
        '{"answer_span": "12", "confidence_source": "none"}')


def test_a_peer_review_is_stored_as_before():
    """A review stores its confidence (null when none was stated), then whom it reviewed."""
    assert written({}, PeerReview(confidence_1_10=None, reviewed="agent-1")) == (
        '{"confidence_1_10": null, "reviewed": "agent-1"}')


def test_a_critique_verdict_is_stored_as_before():
    """The reply's keys keep their places; the stated verdict is added, then the reason."""
    reply: dict[str, object] = {"verdict": "Maybe", "critique": "c"}
    assert written(reply, CritiqueVerdict(critique="c", stated_verdict="Maybe", verdict=None,
                                          parse_error="no accept/revise verdict")) == (
        '{"verdict": null, "critique": "c", "stated_verdict": "Maybe", '
        '"parse_error": "no accept/revise verdict"}')
    assert written({}, CritiqueVerdict(verdict=None, parse_error="no accept/revise verdict")) == (
        '{"stated_verdict": null, "verdict": null, "parse_error": "no accept/revise verdict"}')
    assert written({"critique": "ok", "verdict": "accept"},
                   CritiqueVerdict(critique="ok", stated_verdict="accept", verdict="accept")) == (
        '{"critique": "ok", "verdict": "accept", "stated_verdict": "accept"}')


def test_the_mad_verdicts_are_stored_as_before():
    """The moderator's keys keep the reply's places; an unread reply stores three keys."""
    reply: dict[str, object] = {"reason": "r", "debate_answer": " 12 ", "stated_preference": None}
    assert written(reply, ModeratorVerdict(reason="r", preference=None, debate_answer="12")) == (
        '{"reason": "r", "debate_answer": "12", "stated_preference": null, "preference": null}')
    assert written({}, ModeratorVerdict(parse_error="no verdict fields in the reply",
                                        preference=None, debate_answer="")) == (
        '{"parse_error": "no verdict fields in the reply", "preference": null, '
        '"debate_answer": ""}')
    assert written({"debate_answer": 12, "reason": None},
                   MadJudgeDecision(reason=None, debate_answer=12)) == (
        '{"debate_answer": 12, "reason": null}')


def test_a_reconcile_explanation_is_stored_where_the_reply_put_it():
    """Writing the explanation back leaves the reply's fields as parsed."""
    reply: dict[str, object] = {"answer": "12", "explanation": "e", "confidence": 0.9}
    assert written(reply, ReconcileExplanation(explanation="e")) == (
        '{"answer": "12", "explanation": "e", "confidence": 0.9}')


def test_keys_older_writers_left_out_read_as_none():
    """Found in review: a speech rated in a speech_samples trace (before best_of) has a point
    and a rating but no candidate index, and a DebUnc reply of the first DebUnc traces has no
    metric; both read, with None there, and the candidate falls back to the sample."""
    from debate.export.strategies import _candidate

    rated = turn_with({"order": 0, "seat": "A", "side": "correct", "sample": 2,
                       "point": "o0/r1/A", "judge_p_own": 0.7})
    assert JudgeRating.read(rated) == JudgeRating(point="o0/r1/A", judge_p_own=0.7)
    assert _candidate(rated) == 2
    assert TokenUncertainty.read(turn_with({"uncertainty": 0.4})) == TokenUncertainty(
        uncertainty=0.4)
