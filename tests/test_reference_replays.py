"""Reference replays: recorded debates, replayed through debatelab, keep their structure.

The reference repositories publish every message of their runs (HITsz-TMG
Multi-agent-peer-review ``result/``, Skytliang Multi-Agents-Debate
``MAD_Debate_Process/``). Their files are not ours to ship, so the fixtures
in ``tests/fixtures/reference/`` are our own short debates in the same
layouts, built the way the references build theirs. Each agent gets a
scripted model returning its recorded replies in order; the replay must make
the same calls per agent, show every call the same earlier replies, and stop
where the record stopped. ``scripts/replay_reference.py`` runs the same
replay on the published records themselves, given their files.
"""

import json
from pathlib import Path

import pytest

from debate.testing.replay import replay_du, replay_mad, replay_peer_review, seen_replies

FIXTURES = Path(__file__).parent / "fixtures" / "reference"


def records(name):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("index", [0, 1])
async def test_peer_review_replays_the_recorded_chats(index):
    replay = await replay_peer_review(records("peer_review_records.json")[index])
    assert replay.calls == {f"agent-{i}": (4, 4) for i in range(3)}
    assert replay.visibility == [] and replay.conforms


async def test_the_branch_shape_is_what_the_records_contradict():
    replay = await replay_peer_review(records("peer_review_records.json")[0],
                                      review_memory="branch")
    assert not replay.conforms
    # the reviser no longer sees the other solutions nor its own reviews
    assert any(line.startswith("agent-0 call 3") for line in replay.visibility)


async def test_du_replays_the_recorded_chats():
    replay = await replay_du(records("du_records.json")[0])
    assert replay.conforms and replay.calls == {f"agent-{i}": (2, 2) for i in range(3)}


async def test_mad_stops_where_the_records_stop():
    for record in records("mad_records.json"):
        replay = await replay_mad(record, judge_sees_first_round=True)
        assert replay.conforms, replay.visibility or replay.calls
    first, undecided, at_once = records("mad_records.json")
    # a filled-in answer with preference "No" did not stop the recorded debate
    assert (await replay_mad(first, judge_sees_first_round=True)).calls["moderator"] == (2, 2)
    decided = await replay_mad(at_once, judge_sees_first_round=True)
    assert decided.trace.final.answer == "same" and decided.trace.stop_reason == "moderator"
    judged = await replay_mad(undecided, judge_sees_first_round=True)
    assert judged.trace.final.method == "judge" and judged.trace.final.answer == "12"


async def test_mad_compat_answer_only_rule_stops_too_early_on_the_records():
    first = records("mad_records.json")[0]
    replay = await replay_mad(first, judge_sees_first_round=True, stop_rule="answer")
    assert not replay.conforms and replay.calls["moderator"] == (2, 1)


async def test_mad_default_judge_sees_the_last_round_unlike_the_records():
    undecided = records("mad_records.json")[1]
    replay = await replay_mad(undecided)
    assert not replay.conforms
    assert all(line.startswith("judge") for line in replay.visibility)


def test_seen_replies_ignores_surrounding_whitespace():
    replies = {"a": "same text\n", "b": "other"}
    assert seen_replies([{"role": "user", "content": "x same text y"}], replies) == {"a"}
