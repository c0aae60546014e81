"""The lean executor runs a protocol graph exactly as LangGraph's runtime does, or declines."""

import operator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.errors import GraphRecursionError, InvalidUpdateError
from langgraph.graph import END, START, StateGraph
from langgraph.types import Send

from debate import PROTOCOLS
from debate.config import load_experiment
from debate.datasets import load_dataset
from debate.errors import ConfigError
from debate.protocols.executor import LeanGraph
from debate.runner import build_agents
from debate.testing import ScriptedModel

SPECS = sorted(Path("experiments").glob("*.yaml"))


def _comparable(trace: Any) -> dict[str, Any]:
    data = trace.model_dump(mode="json", exclude={"started_at", "finished_at"})
    for turn in data["turns"]:
        turn.pop("latency")
    return dict(data)


def _model() -> ScriptedModel:
    # a different, deterministic reply per prompt: the stop rules take different paths
    def reply(messages: Any, params: Any) -> str:
        n = sum(len(m.content) for m in messages) % 4
        return (f"I think the answer is \\boxed{{{n}}}. Confidence: 0.{n + 5}. "
                f'{{"answer": "{n}", "confidence": 0.{n + 5}, "verdict": "REASONABLE"}}')
    return ScriptedModel(reply, name="scripted")


def test_every_builtin_protocol_has_a_lean_form():
    for name, cls in PROTOCOLS.items():
        if cls.__module__.startswith("debate."):
            assert cls().lean_graph() is not None, name


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
async def test_lean_and_langgraph_runs_give_identical_traces(spec):
    config = load_experiment(spec)
    cls, options = config.resolve_protocol()
    questions = load_dataset(config.dataset.path, task=config.dataset.task,
                             fields=config.dataset.fields, limit=4)
    traces = {}
    for executor in ("auto", "langgraph"):
        protocol = cls(**options)
        protocol.executor = executor
        agents = build_agents(protocol, [_model()], config.roles)
        traces[executor] = [_comparable(await protocol.run(q, agents)) for q in questions]
    assert traces["auto"] == traces["langgraph"]
    assert all(t["turns"] and t["final"] for t in traces["auto"])


class State(TypedDict):
    items: Annotated[list[int], operator.add]
    count: int


async def add(state: State) -> dict[str, Any]:
    return {"items": [state["count"]], "count": state["count"] + 1}


def _loop(until: int) -> StateGraph[Any, Any, Any, Any]:
    g = StateGraph(State)
    g.add_node("add", add)
    g.add_edge(START, "add")
    g.add_conditional_edges("add", lambda s: END if s["count"] >= until else "add")
    return g


async def test_reducers_and_last_values_match_langgraph():
    graph = _loop(until=4)
    lean = LeanGraph.of(graph)
    assert lean is not None
    expected = await graph.compile().ainvoke({"items": [9], "count": 0})
    assert await lean.ainvoke({"items": [9], "count": 0}, None, 25) == expected
    assert expected == {"items": [9, 0, 1, 2, 3], "count": 4}


async def test_the_recursion_limit_stops_a_runaway_loop():
    lean = LeanGraph.of(_loop(until=10**6))
    assert lean is not None
    with pytest.raises(GraphRecursionError, match="Recursion limit of 5"):
        await lean.ainvoke({"items": [], "count": 0}, None, 5)


async def test_an_update_of_an_unknown_key_names_the_node():
    async def bad(state: State) -> dict[str, Any]:
        return {"itemz": [1]}

    g = StateGraph(State)
    g.add_node("bad", bad)
    g.add_edge(START, "bad")
    g.add_edge("bad", END)
    lean = LeanGraph.of(g)
    assert lean is not None
    with pytest.raises(InvalidUpdateError, match="bad wrote 'itemz'"):
        await lean.ainvoke({"count": 0}, None, 5)


def _fan_out() -> StateGraph[Any, Any, Any, Any]:
    g = StateGraph(State)
    g.add_node("a", add)
    g.add_node("b", add)
    g.add_edge(START, "a")
    g.add_edge(START, "b")
    g.add_edge("a", END)
    g.add_edge("b", END)
    return g


def _send() -> StateGraph[Any, Any, Any, Any]:
    g = StateGraph(State)
    g.add_node("a", add)
    g.add_conditional_edges(START, lambda s: [Send("a", s)])
    g.add_edge("a", END)
    return g


def _sync_node() -> StateGraph[Any, Any, Any, Any]:
    g = StateGraph(State)
    g.add_node("a", lambda s: {"count": 1})
    g.add_edge(START, "a")
    g.add_edge("a", END)
    return g


def _config_node() -> StateGraph[Any, Any, Any, Any]:
    async def with_config(state: State, config: RunnableConfig) -> dict[str, Any]:
        return {}

    g = StateGraph(State)
    g.add_node("a", with_config)
    g.add_edge(START, "a")
    g.add_edge("a", END)
    return g


@pytest.mark.parametrize("build", [_fan_out, _send, _sync_node, _config_node])
def test_graphs_beyond_a_plain_chain_are_left_to_langgraph(build):
    assert LeanGraph.of(build()) is None


async def test_an_unknown_executor_is_a_clear_error():
    protocol = PROTOCOLS.lookup("single")()
    protocol.executor = "pregel"  # type: ignore[assignment]
    agents = build_agents(protocol, [_model()])
    question = load_dataset("experiments/data/arithmetic.jsonl", task="numeric", limit=1)[0]
    with pytest.raises(ConfigError, match="executor must be 'auto' or 'langgraph'"):
        await protocol.run(question, agents)


async def test_a_graph_the_lean_executor_cannot_analyse_runs_on_langgraph(monkeypatch, caplog):
    """A renamed LangGraph internal must never crash a run: the debate falls back."""
    import debate.protocols.executor as executor

    def renamed(channel):
        raise AttributeError("'BinaryOperatorAggregate' object has no attribute 'operator'")

    monkeypatch.setattr(executor, "_key", renamed)
    protocol = PROTOCOLS.lookup("du")(rounds=1)
    assert protocol.lean_graph() is None
    assert "running it on LangGraph's runtime" in caplog.text
    agents = build_agents(protocol, [_model()])
    question = load_dataset("experiments/data/arithmetic.jsonl", task="numeric", limit=1)[0]
    trace = await protocol.run(question, agents)
    assert len(trace.turns) == 6 and trace.final.answer is not None
