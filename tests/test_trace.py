import json

import pytest

from debate.errors import ConfigError
from debate.models import Message, Usage
from debate.trace import (
    SCHEMA_VERSION,
    AgentInfo,
    DebateTrace,
    FinalAnswer,
    Question,
    TraceWriter,
    Turn,
    parse_trace,
    read_traces,
    trace_json,
)


def make_trace(qid="q1"):
    turn = Turn(id="r0/agent-0/answer", round=0, agent="agent-0", role="debater",
                messages=[Message(role="user", content="What is {x} 2+2?")], raw="\\boxed{4}",
                answer="4", usage=Usage(prompt_tokens=5, completion_tokens=1), latency=0.1,
                model="scripted:x")
    return DebateTrace(id=f"exp:{qid}", protocol="du", question=Question(id=qid, text="2+2?",
                       task="numeric", gold="4"),
                       agents=[AgentInfo(name="agent-0", role="debater", model="scripted:x")],
                       turns=[turn], final=FinalAnswer(answer="4", method="majority"),
                       stop_reason="max_rounds", correct=True)


def test_round_trip(tmp_path):
    path = tmp_path / "traces.jsonl"
    with TraceWriter(path) as writer:
        writer.write(make_trace("a"))
        writer.write(make_trace("b"))
    traces = list(read_traces(path))
    assert [t.question.id for t in traces] == ["a", "b"]
    assert traces[0] == make_trace("a").model_copy(update={
        "started_at": traces[0].started_at, "finished_at": traces[0].finished_at})
    assert traces[0].schema_version == SCHEMA_VERSION
    assert traces[0].turns[0].messages[0].content == "What is {x} 2+2?"


def test_truncated_last_line_is_tolerated_and_repaired(tmp_path):
    path = tmp_path / "traces.jsonl"
    with TraceWriter(path) as writer:
        writer.write(make_trace("a"))
    full = make_trace("b").model_dump_json()
    with path.open("a") as f:
        f.write(full[: len(full) // 2])  # a write cut short by a kill
    assert [t.question.id for t in read_traces(path)] == ["a"]
    with TraceWriter(path) as writer:  # opening cuts the partial line off
        writer.write(make_trace("c"))
    assert [t.question.id for t in read_traces(path)] == ["a", "c"]


def test_corrupt_line_in_the_middle_is_located(tmp_path):
    path = tmp_path / "traces.jsonl"
    path.write_text(make_trace("a").model_dump_json() + "\n{oops}\n"
                    + make_trace("b").model_dump_json() + "\n")
    with pytest.raises(ConfigError, match=r"traces.jsonl:2"):
        list(read_traces(path))


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "traces.jsonl"
    path.write_text(make_trace().model_copy(update={"schema_version": 99}).model_dump_json()
                    + "\n")
    with pytest.raises(ConfigError, match="schema_version 99"):
        list(read_traces(path))


def test_missing_file_reads_as_empty(tmp_path):
    assert list(read_traces(tmp_path / "none.jsonl")) == []


def chat_debate(agents: int = 3, rounds: int = 3, reply_words: int = 120) -> DebateTrace:
    """A du-shaped debate: each agent's chat grows by its reply and its peers' replies."""
    question = Message(role="user", content="Natalia sold clips to 48 friends... " * 4)
    chats = [[question] for _ in range(agents)]
    turns = []
    for r in range(rounds):
        replies = [f"agent {a} round {r}: " + "step " * reply_words + f"\\boxed{{{a}}}"
                   for a in range(agents)]
        for a in range(agents):
            turns.append(Turn(id=f"r{r}/agent-{a}/answer", round=r, agent=f"agent-{a}",
                              role="debater", messages=list(chats[a]), raw=replies[a]))
        for a in range(agents):
            peers = "\n".join(replies[b] for b in range(agents) if b != a)
            chats[a] += [Message(role="assistant", content=replies[a]),
                         Message(role="user", content=f"Other agents said:\n{peers}")]
    return DebateTrace(id="x:q", protocol="du", question=Question(id="q", text="?"),
                       agents=[], turns=turns, final=FinalAnswer(answer=None, method="majority"),
                       stop_reason="max_rounds")


def test_each_distinct_message_is_stored_once_and_every_turn_gets_its_exact_messages_back():
    trace = chat_debate()
    line = json.loads(trace_json(trace))
    # the question once (all three agents were sent it), then each agent's replies and
    # peer messages: 1 + 2 rounds x 3 agents x 2 messages
    assert len(line["messages"]) == 1 + 2 * 3 * 2
    assert line["messages"][0] == ["user", trace.turns[0].messages[0].content]
    later = line["turns"][-1]["messages"]  # the last chat: question + 2 x (reply, peers)
    assert len(later) == 5 and later[0] == 0
    assert [line["messages"][i] for i in later] == [
        [m.role, m.content] for m in trace.turns[-1].messages]
    assert parse_trace(trace_json(trace)) == trace


def test_the_bytes_of_a_debate_grow_with_its_rounds_not_with_their_square():
    def size(rounds: int) -> tuple[int, int]:
        trace = chat_debate(rounds=rounds)
        return len(trace.model_dump_json()), len(trace_json(trace))

    (inline3, stored3), (inline6, stored6) = size(3), size(6)
    assert stored3 < 0.8 * inline3 and stored6 < 0.5 * inline6
    # twice the rounds: about twice the bytes stored (inline: about four times)
    assert stored6 < 2.3 * stored3 and inline6 > 3.5 * inline3


def test_traces_written_inline_by_older_versions_still_read(tmp_path):
    trace = chat_debate()
    path = tmp_path / "traces.jsonl"
    old = trace.model_copy(update={"schema_version": 2})
    path.write_text(old.model_dump_json() + "\n")  # version 2: messages inline
    with TraceWriter(path) as writer:  # and a version 3 line after it (a resumed run)
        writer.write(trace)
    first, second = read_traces(path)
    assert first == old and second == trace


@pytest.mark.parametrize("broken", [
    {"turns": [1]},  # a turn that is not an object
    {"index": 99}, {"index": -1}, {"index": True}, {"index": 1.0}])
def test_a_broken_message_index_is_located(tmp_path, broken):
    line = json.loads(trace_json(chat_debate()))
    if "turns" in broken:
        line["turns"] = broken["turns"]
    else:
        line["turns"][2]["messages"] = [broken["index"]]
    path = tmp_path / "traces.jsonl"
    path.write_text(json.dumps(line) + "\n")
    with pytest.raises(ConfigError, match=r"traces.jsonl:1: not a debate trace.*messages"):
        list(read_traces(path))


def test_nan_and_infinity_survive_the_trace_file(tmp_path):
    """JSON has no NaN or infinity (orjson writes null, which a float list refuses):
    a -inf logprob, as some servers return, must not make a run's traces unreadable."""
    import math

    trace = chat_debate()
    first = trace.turns[0].model_copy(update={
        "logprobs": [-math.inf, -0.5], "confidence": math.nan,
        "fields": {"uncertainty": math.inf, "nested": [1.0, -math.inf]}})
    trace = trace.model_copy(update={"turns": [first, *trace.turns[1:]]})
    line = trace_json(trace)
    json.loads(line)  # standard JSON: no NaN tokens
    path = tmp_path / "traces.jsonl"
    path.write_bytes(line + b"\n")
    (back,) = read_traces(path)
    turn = back.turns[0]
    assert turn.logprobs == [-math.inf, -0.5] and math.isnan(turn.confidence)
    # untyped fields keep the spelling (a float field reads it back as a float)
    assert turn.fields == {"uncertainty": "Infinity", "nested": [1.0, "-Infinity"]}
    assert back.turns[1:] == trace.turns[1:]
