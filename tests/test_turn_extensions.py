"""Turn fields that one module writes and another reads are typed turn extensions."""

import json

import pytest

from debate.agents.debater import TokenUncertainty
from debate.agents.judge import JudgeRationale
from debate.agents.sr_dcr import ReliabilityVerdict
from debate.protocols.oversight import OversightJudgment, OversightSpeech
from debate.protocols.oversight_best_of import JudgeRating, SampleMark
from debate.trace import Turn, TurnExtension, TurnExtensionError

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
]


def turn_with(fields: dict[str, object]) -> Turn:
    """An argument turn carrying ``fields``."""
    return Turn(id="r1/debater-a/argument/o0", round=1, agent="debater-a", role="qa-debater",
                kind="argument", messages=[], raw="x", fields=dict(fields))


@pytest.mark.parametrize("extension", EXTENSIONS, ids=lambda e: type(e).__name__)
def test_an_extension_reads_back_from_a_trace_json_line_as_written(extension):
    """Written into a turn's fields and through its JSON line, it reads back equal."""
    fields: dict[str, object] = {"explanation": "kept"}
    extension.write(fields)
    line = turn_with(fields).model_dump_json()
    again = Turn.model_validate_json(line)
    assert type(extension).read(again) == extension
    assert again.fields["explanation"] == "kept"


@pytest.mark.parametrize("extension", EXTENSIONS, ids=lambda e: type(e).__name__)
def test_an_old_trace_line_without_the_keys_reads_as_none(extension):
    """A turn written before (or without) the extension carries none of it: ``None``."""
    old = Turn.model_validate_json(turn_with({"explanation": "old"}).model_dump_json())
    assert type(extension).read(old) is None


@pytest.mark.parametrize(("kind", "fields", "key"), [
    (OversightSpeech, {"order": 0, "seat": "A", "side": "correct", "quotes": "many"}, "quotes"),
    (JudgeRating, {"point": "o0/r0/A", "candidate": 0, "judge_p_own": "high"}, "judge_p_own"),
    (TokenUncertainty, {"uncertainty": [1], "uncertainty_metric": "entropy"}, "uncertainty"),
])
def test_a_malformed_value_is_an_error_naming_the_turn_the_key_and_the_value(kind, fields, key):
    """A key present with a value of the wrong kind is located, never silently dropped."""
    with pytest.raises(TurnExtensionError, match=rf"r1/debater-a/argument/o0.*'{key}'.*="):
        kind.read(turn_with(fields))


def test_a_missing_required_key_is_an_error_naming_it():
    """Part of an extension without a key it always has names the missing key."""
    with pytest.raises(TurnExtensionError, match=r"OversightSpeech lack 'side'"):
        OversightSpeech.read(turn_with({"order": 0, "seat": "A"}))


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
