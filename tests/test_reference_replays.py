"""Reference replays: recorded debates, replayed through debatelab, keep their structure.

The reference repositories publish every message of their runs (HITsz-TMG
Multi-agent-peer-review ``result/``, Skytliang Multi-Agents-Debate
``MAD_Debate_Process/``). Their files are not ours to ship, so the fixtures
in ``tests/fixtures/reference/`` are our own short debates in the same
layouts, built the way the references build theirs. Each agent gets a
scripted model returning its recorded replies in order; the replay must make
the same calls per agent, show every call the same recorded replies in the
same order, by messages of the same roles, as often as the record, stop where
the record stopped and reach the record's final answer.
``scripts/replay_reference.py`` runs the same replay on the published records
themselves, given their files. The fault tests below break one of these on
purpose, by wrapping an agent's message building, and name the kind reported.
"""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from debate.agents.debater import Debater
from debate.judges.base import Decision
from debate.judges.majority import MajorityJudge
from debate.models.types import Message
from debate.testing.replay import (
    Sighting,
    compare_layouts,
    layout,
    replay_du,
    replay_mad,
    replay_peer_review,
    seen_replies,
)
from debate.trace import FinalAnswer

FIXTURES = Path(__file__).parent / "fixtures" / "reference"


def records(name):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def debaters_send(monkeypatch, fault):
    """Every debater sends ``fault(view, build)`` where ``build(view)`` is its own message list."""
    build = Debater.messages
    monkeypatch.setattr(Debater, "messages",
                        lambda self, view: fault(view, lambda v: build(self, v)))


def own_replies_as_user(view, build):
    return [Message(role="user", content=m.content) if m.role == "assistant" else m
            for m in build(view)]


def peers_reversed(view, build):
    return build(replace(view, peers=list(reversed(view.peers))))


def first_peer_twice(view, build):
    return build(replace(view, peers=[*view.peers, *view.peers[:1]]))


def where(replay):
    return {(m.agent, m.call) for m in replay.mismatches}


DEBATE_CALLS = {(f"agent-{i}", 1) for i in range(3)}


@pytest.mark.parametrize(("index", "task", "answer"), [(0, "numeric", "15"), (1, "yesno", "no")])
async def test_peer_review_replays_the_recorded_chats(index, task, answer):
    replay = await replay_peer_review(records("peer_review_records.json")[index], task=task)
    assert replay.calls == {f"agent-{i}": (4, 4) for i in range(3)}
    assert replay.mismatches == [] and replay.conforms and replay.final == (answer, answer)


async def test_the_branch_shape_is_what_the_records_contradict():
    replay = await replay_peer_review(records("peer_review_records.json")[0],
                                      review_memory="branch")
    assert not replay.conforms
    # the reviser no longer sees the other solutions nor its own reviews
    assert ("agent-0", 3) in {(m.agent, m.call) for m in replay.of_kind("missing")}


async def test_du_replays_the_recorded_chats():
    replay = await replay_du(records("du_records.json")[0])
    assert replay.conforms and replay.calls == {f"agent-{i}": (2, 2) for i in range(3)}
    assert replay.final == ("11", "11")


async def test_own_reply_sent_as_user_is_a_role_mismatch(monkeypatch):
    debaters_send(monkeypatch, own_replies_as_user)
    replay = await replay_du(records("du_records.json")[0])
    assert replay.kinds == {"role"} and where(replay) == DEBATE_CALLS
    assert str(replay.mismatches[0]) == (
        "agent-0 call 1: role: agent-0#0 sent as user, recorded as assistant")


async def test_peers_in_reverse_order_are_an_order_mismatch(monkeypatch):
    debaters_send(monkeypatch, peers_reversed)
    replay = await replay_du(records("du_records.json")[0])
    assert replay.kinds == {"order"} and where(replay) == DEBATE_CALLS


async def test_a_peer_shown_twice_is_a_repeated_mismatch(monkeypatch):
    debaters_send(monkeypatch, first_peer_twice)
    replay = await replay_du(records("du_records.json")[0])
    assert replay.kinds == {"repeated"} and where(replay) == DEBATE_CALLS
    assert replay.mismatches[0].detail == "agent-1#0 recorded once, replayed 2 times"


async def test_a_final_answer_other_than_the_records_is_a_final_answer_mismatch(monkeypatch):
    async def sixteen(self, question, candidates, agent=None, round_=0):
        return Decision(FinalAnswer(answer="16", method="majority"))

    monkeypatch.setattr(MajorityJudge, "decide", sixteen)
    replay = await replay_du(records("du_records.json")[0])
    assert replay.kinds == {"final-answer"} and replay.final == ("11", "16")
    assert where(replay) == {("debate", None)}


async def test_mad_stops_where_the_records_stop():
    for record in records("mad_records.json"):
        replay = await replay_mad(record, judge_sees_first_round=True)
        assert replay.conforms, replay.mismatches
    first, undecided, at_once = records("mad_records.json")
    # a filled-in answer with preference "No" did not stop the recorded debate
    assert (await replay_mad(first, judge_sees_first_round=True)).calls["moderator"] == (2, 2)
    decided = await replay_mad(at_once, judge_sees_first_round=True)
    assert decided.trace.final.answer == "same" and decided.trace.stop_reason == "moderator"
    judged = await replay_mad(undecided, judge_sees_first_round=True)
    assert judged.trace.final.method == "judge" and judged.final == ("12", "12")


async def test_a_mad_record_without_a_final_answer_compares_none():
    record = {k: v for k, v in records("mad_records.json")[0].items() if k != "debate_answer"}
    replay = await replay_mad(record, judge_sees_first_round=True)
    assert replay.conforms and replay.final is None


async def test_mad_compat_answer_only_rule_stops_too_early_on_the_records():
    first = records("mad_records.json")[0]
    replay = await replay_mad(first, judge_sees_first_round=True, stop_rule="answer")
    assert not replay.conforms and replay.calls["moderator"] == (2, 1)
    assert "calls" in replay.kinds


async def test_mad_default_judge_sees_the_last_round_unlike_the_records():
    undecided = records("mad_records.json")[1]
    replay = await replay_mad(undecided)
    assert replay.kinds == {"missing", "unexpected"}
    assert {m.agent for m in replay.mismatches} == {"judge"}


def test_seen_replies_ignores_surrounding_whitespace():
    replies = {"a": "same text\n", "b": "other"}
    assert seen_replies([{"role": "user", "content": "x same text y"}], replies) == {"a"}


def test_a_reply_inside_a_longer_one_counts_only_where_it_stands_alone():
    replies = {"long": "so it is \\boxed{11}.", "short": "\\boxed{11}"}
    messages = [{"role": "assistant", "content": "so it is \\boxed{11}."},
                {"role": "user", "content": "peer: \\boxed{11}"}]
    assert layout(messages, replies) == [Sighting("long", "assistant", 0),
                                         Sighting("short", "user", 1)]


def test_identical_replies_are_one_reply():
    replies = {"agent-0#1": "\\boxed{11}", "agent-2#0": "\\boxed{11}"}
    assert seen_replies([{"role": "user", "content": "\\boxed{11}"}], replies) == {
        "agent-0#1=agent-2#0"}


def test_replies_split_into_other_messages_are_a_grouping_mismatch():
    together = [Sighting("a", "user", 0), Sighting("b", "user", 0)]
    apart = [Sighting("a", "user", 0), Sighting("b", "user", 1)]
    assert [kind for kind, _ in compare_layouts(together, apart)] == ["grouping"]
    assert compare_layouts(together, together) == []


def test_a_role_is_compared_even_when_the_order_differs_too():
    recorded = [Sighting("a", "assistant", 0), Sighting("b", "user", 1)]
    replayed = [Sighting("b", "user", 0), Sighting("a", "user", 1)]
    assert [kind for kind, _ in compare_layouts(recorded, replayed)] == ["role", "order"]
