"""The lean runtime runs a protocol graph exactly as LangGraph's runtime does, or declines."""

import itertools
import operator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.errors import GraphRecursionError, InvalidUpdateError
from langgraph.graph import END, START, StateGraph
from langgraph.types import Overwrite, Send
from pydantic import BaseModel

from debate import PROTOCOLS
from debate.datasets import load_dataset
from debate.errors import ConfigError
from debate.experiment.binding import build_agents
from debate.experiment.config import load_experiment
from debate.protocols.runtime import LeanGraph
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
    for runtime in ("auto", "langgraph"):
        protocol = cls(**options)
        protocol.graph_runtime = runtime
        agents = build_agents(protocol, [_model()], config.roles)
        traces[runtime] = [_comparable(await protocol.run(q, agents)) for q in questions]
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


# --- parity: the same graph through LangGraph's runtime and through LeanGraph ----------


class Rich(TypedDict):
    items: Annotated[list[int], operator.add]
    total: Annotated[int, operator.add]
    count: int
    note: str


SEEN: list[Any] = []
"""Every state a node or router was handed, in order (cleared before each run)."""


def _returning(update: Any) -> Any:
    async def node(state: Rich) -> Any:
        SEEN.append(dict(state))
        return update
    return node


async def inc(state: Rich) -> dict[str, Any]:
    SEEN.append(dict(state))
    return {"count": state["count"] + 1}


def _chain(*nodes: Any, route: Any = None, ends: Any = None) -> StateGraph[Any, Any, Any, Any]:
    """START -> n0 -> n1 ... -> END, or -> ``route`` over ``ends`` after the last node."""
    g = StateGraph(Rich)
    names = [f"n{i}" for i in range(len(nodes))]
    for name, node in zip(names, nodes, strict=True):
        g.add_node(name, node)
    g.add_edge(START, names[0])
    for before, after in itertools.pairwise(names):
        g.add_edge(before, after)
    if route is None:
        g.add_edge(names[-1], END)
    else:
        g.add_conditional_edges(names[-1], route, ends)
    return g


async def _both(graph: StateGraph[Any, Any, Any, Any], state: dict[str, Any],
                limit: int = 25) -> tuple[Any, list[Any]]:
    """What LangGraph's runtime does with ``graph`` (result or error type, and what its
    nodes saw), after checking the lean runtime does exactly the same."""
    lean = LeanGraph.of(graph)
    assert lean is not None
    outcomes = []
    for run in (lambda: graph.compile().ainvoke(state, {"recursion_limit": limit}),
                lambda: lean.ainvoke(state, None, limit)):
        SEEN.clear()
        try:
            result: Any = ("returned", await run())
        except Exception as exc:
            result = ("raised", type(exc))
        outcomes.append((result, list(SEEN)))
    assert outcomes[1] == outcomes[0]
    return outcomes[0]


async def test_keys_outside_the_state_are_dropped_as_langgraph_drops_them():
    graph = _chain(_returning({"itemz": [1], "count": 2}), _returning(None))
    result, seen = await _both(graph, {"count": 1, "zz": 0})
    assert result == ("returned", {"items": [], "total": 0, "count": 2})
    assert seen[1] == {"items": [], "total": 0, "count": 2}


async def test_reducer_keys_start_empty_and_a_run_writing_nothing_returns_none():
    result, seen = await _both(_chain(_returning(None)), {})
    assert result == ("returned", None)
    assert seen == [{"items": [], "total": 0}]
    result, _ = await _both(_chain(_returning({"total": 2}), _returning({"total": 3})), {})
    assert result == ("returned", {"items": [], "total": 5})


async def test_overwrite_replaces_a_reduced_value_and_is_stored_as_is_elsewhere():
    update = {"items": Overwrite([7]), "total": {"__overwrite__": 5}, "note": Overwrite("x")}
    result, _ = await _both(_chain(_returning(update)), {"items": [1], "total": 2})
    assert result == ("returned", {"items": [7], "total": 5, "note": Overwrite("x")})


def _choose(choice: Any, last: Any = END) -> Any:
    return lambda state: choice if state["count"] < 3 else last


@pytest.mark.parametrize("choice", ["n0", "nowhere", None])
async def test_a_choice_outside_the_path_map_is_a_key_error_even_a_nodes_name(choice):
    graph = _chain(inc, route=_choose(choice, "stop"), ends={"again": "n0", "stop": END})
    result, _ = await _both(graph, {"count": 0})
    assert result == ("raised", KeyError)


@pytest.mark.parametrize(("choice", "expected"), [
    ("n0", ("returned", {"items": [], "total": 0, "count": 3})),
    (["n0"], ("returned", {"items": [], "total": 0, "count": 3})),
    (("n0", "n0"), ("returned", {"items": [], "total": 0, "count": 3})),
    ([], ("returned", {"items": [], "total": 0, "count": 1})),
    ([END], ("returned", {"items": [], "total": 0, "count": 1})),
    ("nowhere", ("returned", {"items": [], "total": 0, "count": 1})),
    (7, ("returned", {"items": [], "total": 0, "count": 1})),
    (None, ("raised", ValueError)),
    (START, ("raised", ValueError)),
])
async def test_a_router_without_path_map_behaves_as_in_langgraph(choice, expected, caplog):
    result, _ = await _both(_chain(inc, route=_choose(choice)), {"count": 0})
    assert result == expected
    if choice in ("nowhere", 7):  # LangGraph warns and ends the run; so does the lean one
        assert "which is not a node; ignoring it" in caplog.text


async def test_a_router_with_no_state_annotation_also_sees_the_update_it_follows():
    def untyped(state):
        SEEN.append(("router", dict(state)))
        return END

    def typed(state: Rich) -> str:
        SEEN.append(("router", dict(state)))
        return END

    node = _returning({"zz": 1, "count": 2})
    _, seen = await _both(_chain(node, route=untyped), {"count": 1})
    assert seen[-1] == ("router", {"zz": 1, "count": 2, "items": [], "total": 0})
    _, seen = await _both(_chain(node, route=typed), {"count": 1})
    assert seen[-1] == ("router", {"count": 2, "items": [], "total": 0})


@pytest.mark.parametrize("limit", [1, 2, 3, 4])
async def test_the_recursion_limit_counts_supersteps_as_langgraph_does(limit):
    result, seen = await _both(_chain(inc, inc, inc), {"count": 0}, limit)
    # three nodes need a limit of four: Pregel checks the limit before it sees the end
    assert result[0] == ("returned" if limit > 3 else "raised")
    assert len(seen) == min(limit, 3)


async def test_a_recursion_limit_below_one_is_refused_as_langgraph_refuses_it():
    result, seen = await _both(_chain(inc), {"count": 0}, 0)
    assert result == ("raised", ValueError) and seen == []


async def test_a_router_that_fans_out_fails_loudly_in_the_lean_executor():
    lean = LeanGraph.of(_chain(inc, inc, route=_choose(["n0", "n1"])))
    assert lean is not None
    with pytest.raises(InvalidUpdateError, match="cannot fan out"):
        await lean.ainvoke({"count": 0}, None, 25)


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


class Part(TypedDict):
    count: int


async def partial(state: Part) -> dict[str, Any]:
    return {"count": state["count"] + 1}


class Model(BaseModel):
    count: int = 0


async def model_node(state: Model) -> dict[str, Any]:
    return {"count": state.count + 1}


def _pydantic_state() -> StateGraph[Any, Any, Any, Any]:
    g = StateGraph(Model)
    g.add_node("a", model_node)
    g.add_edge(START, "a")
    g.add_edge("a", END)
    return g


def _private_node_input() -> StateGraph[Any, Any, Any, Any]:
    g = StateGraph(State)
    g.add_node("a", partial)
    g.add_edge(START, "a")
    g.add_edge("a", END)
    return g


def _private_router_input() -> StateGraph[Any, Any, Any, Any]:
    def route(state: Part) -> str:
        return END

    g = StateGraph(State)
    g.add_node("a", add)
    g.add_edge(START, "a")
    g.add_conditional_edges("a", route)
    return g


def _invalid() -> StateGraph[Any, Any, Any, Any]:
    g = StateGraph(State)
    g.add_node("a", add)
    g.add_edge(START, "a")
    g.add_edge("a", "missing")  # LangGraph's compile names this fault
    return g


@pytest.mark.parametrize("build", [_fan_out, _send, _sync_node, _config_node, _pydantic_state,
                                   _private_node_input, _private_router_input, _invalid])
def test_graphs_beyond_a_plain_chain_are_left_to_langgraph(build):
    assert LeanGraph.of(build()) is None


async def test_an_unknown_executor_is_a_clear_error():
    protocol = PROTOCOLS.lookup("single")()
    protocol.graph_runtime = "pregel"  # type: ignore[assignment]
    agents = build_agents(protocol, [_model()])
    question = load_dataset("experiments/data/arithmetic.jsonl", task="numeric", limit=1)[0]
    with pytest.raises(ConfigError, match="graph_runtime must be 'auto' or 'langgraph'"):
        await protocol.run(question, agents)


async def test_a_graph_the_lean_executor_cannot_analyse_runs_on_langgraph(monkeypatch, caplog):
    """A renamed LangGraph internal must never crash a run: the debate falls back."""
    import debate.protocols.runtime as runtime

    def renamed(channel):
        raise AttributeError("'BinaryOperatorAggregate' object has no attribute 'operator'")

    monkeypatch.setattr(runtime, "_key", renamed)
    protocol = PROTOCOLS.lookup("du")(rounds=1)
    assert protocol.lean_graph() is None
    assert "running it on LangGraph's runtime" in caplog.text
    agents = build_agents(protocol, [_model()])
    question = load_dataset("experiments/data/arithmetic.jsonl", task="numeric", limit=1)[0]
    trace = await protocol.run(question, agents)
    assert len(trace.turns) == 6 and trace.final.answer is not None
