"""Run a protocol's ``StateGraph`` without LangGraph's Pregel loop, where the graph allows.

A protocol graph is a chain of async nodes joined by plain and conditional
edges over a state whose keys either hold their last value or fold updates
with a reducer (``Annotated[list[Turn], operator.add]``). Pregel runs that
shape correctly but costs about 2.5 ms of CPU per debate in task preparation,
callback managers and channel bookkeeping, more than a whole zero-latency
debate's budget. :class:`LeanGraph` walks the same builder (same node
functions, same edges, same reducers) one node at a time.

:meth:`LeanGraph.of` returns ``None`` for any graph outside that shape
(fan-out, waiting edges, ``Send``/``Command`` routing, retry or cache
policies, nodes that take ``config``/``writer``/``store``, sync nodes, custom
channels); such graphs run on LangGraph's own runtime. So does any protocol
whose ``executor`` is ``"langgraph"`` (use it for nodes that call
``get_config()`` or ``get_stream_writer()``). The test suite runs every
built-in protocol both ways and checks the traces are identical.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from langgraph.channels.binop import BinaryOperatorAggregate
from langgraph.channels.last_value import LastValue
from langgraph.errors import EmptyChannelError, GraphRecursionError, InvalidUpdateError
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Overwrite

__all__ = ["LeanGraph"]

log = logging.getLogger(__name__)

_NO_VALUE = object()


@dataclass(frozen=True)
class _Node:
    run: Callable[..., Any]
    """The node's async function."""
    takes_runtime: bool
    next: str | None
    """The fixed successor, or ``None`` when ``route`` picks it."""
    route: Callable[[Any], Hashable] | None
    ends: Mapping[Hashable, str] | None


@dataclass(frozen=True)
class _Key:
    reducer: Callable[[Any, Any], Any] | None
    initial: Any


class LeanGraph:
    """A supported ``StateGraph``, ready to run; build it with :meth:`of`."""

    def __init__(self, entry: str, nodes: dict[str, _Node], keys: dict[str, _Key]) -> None:
        self.entry = entry
        self.nodes = nodes
        self.keys = keys

    @classmethod
    def of(cls, graph: StateGraph[Any, Any, Any, Any]) -> LeanGraph | None:
        """The lean form of ``graph``, or ``None`` when it uses anything beyond a plain chain.

        Any failure to analyse the graph (say a LangGraph internal renamed in a new
        release) also gives ``None``: the debate then runs on LangGraph's own runtime.
        """
        try:
            return cls._build(graph)
        except _Unsupported:
            return None
        except Exception as exc:  # never let the fast path break a run
            log.warning("lean executor: cannot analyse this graph (%s: %s); running it on "
                        "LangGraph's runtime", type(exc).__name__, exc)
            return None

    @classmethod
    def _build(cls, graph: StateGraph[Any, Any, Any, Any]) -> LeanGraph:
        _require(not graph.waiting_edges and not graph.managed)
        _require(graph.input_schema is graph.state_schema is graph.output_schema)
        keys = {name: _key(channel) for name, channel in graph.channels.items()}
        successors: dict[str, list[str]] = {}
        for start, end in graph.edges:
            successors.setdefault(start, []).append(end)
        entry = successors.pop(START, [])
        _require(len(entry) == 1 and START not in graph.branches)
        nodes = {}
        for name, spec in graph.nodes.items():
            fixed = successors.pop(name, [])
            branches = list(graph.branches.get(name, {}).values())
            _require(len(fixed) + len(branches) == 1)
            route, ends = None, None
            if branches:
                route, ends = _route(branches[0].path), branches[0].ends
            run, takes_runtime = _node_function(spec)
            nodes[name] = _Node(run, takes_runtime, fixed[0] if fixed else None, route, ends)
        _require(not successors)
        return cls(entry[0], nodes, keys)

    async def ainvoke(self, state: Mapping[str, Any], context: Any,
                      recursion_limit: int) -> dict[str, Any]:
        """Run from the entry node to ``END``; return the final state (as ``ainvoke`` does)."""
        values: dict[str, Any] = {}
        self._apply(values, state, "input")
        runtime = Runtime(context=context)
        name, steps = self.entry, 0
        while name != END:
            steps += 1
            if steps > recursion_limit:
                raise GraphRecursionError(f"Recursion limit of {recursion_limit} reached "
                                          f"without hitting a stop condition (at node {name!r})")
            node = self.nodes[name]
            update = await (node.run(dict(values), runtime) if node.takes_runtime
                            else node.run(dict(values)))
            if update is not None:
                if not isinstance(update, Mapping):
                    raise InvalidUpdateError(
                        f"node {name!r} returned {type(update).__name__}; the lean executor "
                        f"takes dict updates only: set the protocol's executor to 'langgraph'")
                self._apply(values, update, name)
            name = node.next if node.next is not None else self._follow(name, node, values)
        return values

    def _apply(self, values: dict[str, Any], update: Mapping[str, Any], source: str) -> None:
        for key, value in update.items():
            spec = self.keys.get(key)
            if spec is None:
                raise InvalidUpdateError(f"{source} wrote {key!r}, which is not a state key")
            if spec.reducer is None or isinstance(value, Overwrite):
                values[key] = value.value if isinstance(value, Overwrite) else value
                continue
            old = values.get(key, spec.initial)
            values[key] = value if old is _NO_VALUE else spec.reducer(old, value)

    def _follow(self, name: str, node: _Node, values: dict[str, Any]) -> str:
        assert node.route is not None
        choice = node.route(dict(values))
        target = node.ends[choice] if node.ends is not None and choice in node.ends else choice
        if not isinstance(target, str) or (target != END and target not in self.nodes):
            raise InvalidUpdateError(f"the edge after node {name!r} chose {choice!r}, "
                                     f"which is not a node")
        return target


class _Unsupported(Exception):
    pass


def _require(condition: bool) -> None:
    if not condition:
        raise _Unsupported


def _key(channel: Any) -> _Key:
    if type(channel) is LastValue:
        return _Key(None, _NO_VALUE)
    _require(type(channel) is BinaryOperatorAggregate)
    try:
        initial = channel.get()
    except EmptyChannelError:
        initial = _NO_VALUE
    return _Key(channel.operator, initial)


def _node_function(spec: Any) -> tuple[Callable[..., Any], bool]:
    runnable = spec.runnable
    _require(getattr(runnable, "func", None) is None)
    _require(not getattr(spec, "retry_policy", None) and not getattr(spec, "cache_policy", None))
    _require(not getattr(spec, "defer", False) and not getattr(spec, "ends", ()))
    _require(getattr(spec, "timeout", None) is None)
    _require(getattr(spec, "error_handler_node", None) is None)
    _require(not getattr(spec, "is_error_handler", False))
    function = _function(runnable, "afunc")
    _require(inspect.iscoroutinefunction(function))
    parameters = list(inspect.signature(function).parameters.values())
    _require(1 <= len(parameters) <= 2 and parameters[0].name != "runtime")
    _require(len(parameters) == 1 or parameters[1].name == "runtime")
    return function, len(parameters) == 2


def _route(path: Any) -> Callable[[Any], Hashable]:
    function = _function(path, "func")
    _require(not inspect.iscoroutinefunction(function))
    _require(len(inspect.signature(function).parameters) == 1)
    return function


def _function(runnable: Any, attribute: str) -> Callable[..., Any]:
    function: Callable[..., Any] | None = getattr(runnable, attribute, None)
    if not callable(function):
        raise _Unsupported
    return function
