"""Which runtime runs a debate: the lean runtime, or LangGraph's when forced or traced.

Tracing must never be lost to the lean runtime: LangSmith switched on by the
environment, callbacks in a ``graph_config`` and callbacks collected around the
call all move the debate to LangGraph's runtime, which reports every node.
"""

import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.tracers.context import collect_runs

import debate.protocols.runtime as runtime
from debate import ExperimentConfig, arun_experiment, run_debate
from debate.errors import ConfigError
from debate.protocols.runtime import LeanGraph
from debate.testing import ScriptedModel
from debate.trace import DebateTrace, Question

QUESTION = Question(id="q1", text="What is 17 + 25?", gold="42", task="numeric")
NODES = {"answer", "debate", "vote"}  # du's graph


def _model() -> ScriptedModel:
    # a different, deterministic reply per prompt, so rounds and agents differ
    def reply(messages: Any, params: Any) -> str:
        n = sum(len(m.content) for m in messages) % 3
        return f"The answer is \\boxed{{{40 + n}}}. Confidence: 0.{n + 6}"
    return ScriptedModel(reply, name="scripted")


async def _debate(**kwargs: Any) -> DebateTrace:
    return await run_debate(QUESTION, protocol="du", models=_model(), rounds=2, **kwargs)


def _comparable(trace: DebateTrace) -> dict[str, Any]:
    data = trace.model_dump(mode="json", exclude={"started_at", "finished_at"})
    for turn in data["turns"]:
        turn.pop("latency")
    return dict(data)


@pytest.fixture
def lean_runs(monkeypatch, caplog) -> list[int]:
    """Counts debates the lean runtime ran; notes are fresh and captured at INFO."""
    runs: list[int] = []
    ainvoke = LeanGraph.ainvoke

    async def counted(self: LeanGraph, *args: Any) -> Any:
        runs.append(1)
        return await ainvoke(self, *args)

    monkeypatch.setattr(LeanGraph, "ainvoke", counted)
    monkeypatch.setattr(runtime, "_noted", set())
    monkeypatch.delenv(runtime.RUNTIME_ENV, raising=False)
    caplog.set_level(logging.INFO, logger=runtime.__name__)
    return runs


async def test_the_environment_variable_runs_a_debate_on_langgraph_with_the_same_trace(
        lean_runs, monkeypatch, caplog):
    lean = await _debate()
    assert len(lean_runs) == 1
    monkeypatch.setenv(runtime.RUNTIME_ENV, "langgraph")
    forced = await _debate()
    assert len(lean_runs) == 1  # LangGraph's runtime ran the second debate
    assert _comparable(forced) == _comparable(lean)
    assert len(lean.turns) == 9 and lean.final.answer is not None
    assert ("LangGraph's runtime, not the lean runtime: DEBATELAB_GRAPH_RUNTIME=langgraph"
            in caplog.text)


async def test_an_unknown_value_of_the_environment_variable_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(runtime.RUNTIME_ENV, "pregel")
    with pytest.raises(ConfigError, match="DEBATELAB_GRAPH_RUNTIME must be 'auto' or 'langgraph'"):
        await _debate()


class Recorder(BaseCallbackHandler):
    """Records the LangGraph node each chain event belongs to."""

    def __init__(self) -> None:
        self.nodes: list[str] = []

    def on_chain_start(self, serialized: Any, inputs: Any, **kwargs: Any) -> None:
        node = (kwargs.get("metadata") or {}).get("langgraph_node")
        if node:
            self.nodes.append(node)


async def test_callbacks_in_a_graph_config_receive_every_node(lean_runs, caplog):
    recorder = Recorder()
    traced = await _debate(graph_config={"callbacks": [recorder], "tags": ["experiment-7"]})
    assert not lean_runs
    assert set(recorder.nodes) >= NODES and recorder.nodes.count("debate") >= 2
    assert _comparable(traced) == _comparable(await _debate())
    assert "not the lean runtime: a graph_config was given" in caplog.text
    caplog.clear()
    await _debate(graph_config={"callbacks": [Recorder()]})
    assert "not the lean runtime" not in caplog.text  # the note comes once per process


def _experiment(tmp_path: Any) -> ExperimentConfig:
    return ExperimentConfig(dataset={"path": "experiments/data/arithmetic.jsonl",
                                     "task": "numeric"}, protocol="du", limit=3,
                            models=["scripted:echo"], output_dir=str(tmp_path), name="run")


async def test_an_experiment_hands_its_graph_config_to_every_debate(lean_runs, tmp_path):
    recorder = Recorder()
    summary = await arun_experiment(_experiment(tmp_path), progress=False,
                                    graph_config={"callbacks": [recorder]})
    assert summary.questions == 3 and not summary.failed and not lean_runs
    assert recorder.nodes.count("vote") == 3


async def test_an_experiment_looks_for_callbacks_once_not_per_debate(lean_runs, monkeypatch,
                                                                      tmp_path):
    looks: list[int] = []
    ambient = runtime._ambient_handlers
    monkeypatch.setattr(runtime, "_ambient_handlers", lambda: looks.append(1) or ambient())
    summary = await arun_experiment(_experiment(tmp_path), progress=False)
    assert summary.questions == 3 and len(lean_runs) == 3 and len(looks) == 1


async def test_a_bad_executor_variable_stops_an_experiment_before_its_folder(monkeypatch,
                                                                          tmp_path):
    monkeypatch.setenv(runtime.RUNTIME_ENV, "fast")
    with pytest.raises(ConfigError, match="DEBATELAB_GRAPH_RUNTIME must be"):
        await arun_experiment(_experiment(tmp_path), progress=False)
    assert not (tmp_path / "run").exists()


async def test_callbacks_collected_around_the_call_move_it_to_langgraph(lean_runs):
    with collect_runs() as collector:
        await _debate()
    assert not lean_runs
    assert [run.name for run in collector.traced_runs] == ["du"]


class _LangSmith(BaseHTTPRequestHandler):
    """A stand-in LangSmith API on localhost: accepts everything, keeps the bodies."""

    bodies: list[bytes] = []

    def do_GET(self) -> None:
        self._ok()

    def do_POST(self) -> None:
        self.bodies.append(self.rfile.read(int(self.headers.get("content-length", 0))))
        self._ok()

    def _ok(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def langsmith(monkeypatch) -> Iterator[list[bytes]]:
    """LANGSMITH_TRACING=true, with runs sent to a local stand-in (never the internet)."""
    from langsmith import run_trees, utils

    server = ThreadingHTTPServer(("127.0.0.1", 0), _LangSmith)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    monkeypatch.setenv("LANGSMITH_TRACING", "true")
    monkeypatch.setenv("LANGSMITH_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.setenv("LANGSMITH_API_KEY", "lsv2-local-test")
    monkeypatch.setattr(run_trees, "_CLIENT", None)  # a client for the stand-in
    utils.get_env_var.cache_clear()  # langsmith caches what it read from the environment
    _LangSmith.bodies = []
    try:
        yield _LangSmith.bodies
    finally:
        monkeypatch.undo()
        utils.get_env_var.cache_clear()
        server.shutdown()
        server.server_close()


async def test_langsmith_tracing_from_the_environment_gets_every_node(lean_runs, langsmith,
                                                                     caplog):
    from langchain_core.tracers.langchain import wait_for_all_tracers

    await _debate()
    wait_for_all_tracers()
    assert not lean_runs
    sent = b"".join(langsmith)
    for node in NODES:
        assert f'"name":"{node}"'.encode() in sent, node
    assert "LangChain callbacks are on (LangChainTracer)" in caplog.text


async def test_the_variable_s_old_name_is_an_error_not_ignored(monkeypatch, tmp_path):
    """DEBATELAB_EXECUTOR (the name before the redesign) is refused with the new name, before
    the run starts, rather than silently leaving debates on the lean runtime."""
    monkeypatch.setenv("DEBATELAB_EXECUTOR", "langgraph")
    with pytest.raises(ConfigError, match="DEBATELAB_EXECUTOR is now called "
                                          "DEBATELAB_GRAPH_RUNTIME"):
        runtime.langgraph_reason(None)
