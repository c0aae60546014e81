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
    read_traces,
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
