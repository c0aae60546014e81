"""Run a protocol's ``StateGraph`` without LangGraph's Pregel loop, where the graph allows.

A protocol graph is a chain of async nodes joined by plain and conditional
edges over a state whose keys either hold their last value or fold updates
with a reducer (``Annotated[list[Turn], operator.add]``). Pregel runs that
shape correctly but costs about 2.5 ms of CPU per debate in task preparation,
callback managers and channel bookkeeping, more than a whole zero-latency
debate's budget. :class:`LeanGraph` walks the same builder (same node
functions, same edges, same reducers) one node at a time, with LangGraph's
semantics (tested against LangGraph 1.2 in ``tests/test_lean_runtime.py``):

- updates (and input) keys outside the state schema are ignored, reducers
  start from the channel's empty value (``[]`` for a list) and honour
  ``Overwrite``; a run that writes nothing returns ``None``;
- a router's choice outside its path map raises ``KeyError``; without a path
  map, a name that is no node ends the run with a warning; a router without a
  type-annotated state also sees the keys of the update it follows;
- ``recursion_limit`` counts nodes as supersteps and fails at the limit, even
  on the last node (``GraphRecursionError``).

:meth:`LeanGraph.of` returns ``None`` for any graph outside that shape
(fan-out, waiting edges, ``Send``/``Command`` routing, retry, cache or timeout
policies, nodes that take ``config``/``writer``/``store``, sync nodes or
routers, non-``TypedDict`` states, private node or router input schemas,
custom channels, graphs that do not validate); such graphs run on LangGraph's
own runtime. What it cannot see statically fails loudly at run time: a node
returning anything but a dict or ``None`` (a ``Command``, a state object) or a
router returning several destinations or a ``Send`` raises
``InvalidUpdateError`` naming the node. Differences that remain:
the node's ``Runtime`` carries only ``context`` (no store, stream writer or
execution info), ``get_config()`` fails inside nodes, and a context variable a
node sets is seen by later nodes (LangGraph runs each node in a copy).

:func:`langgraph_reason` says when a debate must go to LangGraph's runtime
anyway: ``DEBATELAB_GRAPH_RUNTIME=langgraph``, an explicit ``graph_config``, or
LangChain callbacks switched on around the run (LangSmith tracing through
``LANGSMITH_TRACING``/``LANGCHAIN_TRACING_V2``, ``tracing_v2_enabled()``, a
``@traceable`` parent, ``set_debug``/``set_verbose``...), so no trace is lost.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from langgraph.channels.binop import BinaryOperatorAggregate
from langgraph.channels.last_value import LastValue
from langgraph.errors import EmptyChannelError, GraphRecursionError, InvalidUpdateError
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Overwrite, Send
from typing_extensions import is_typeddict

from debate.errors import ConfigError

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig

__all__ = ["RUNTIME_ENV", "LeanGraph", "langgraph_reason", "settled_runtime"]

log = logging.getLogger(__name__)

RUNTIME_ENV = "DEBATELAB_GRAPH_RUNTIME"
"""``langgraph`` here runs every debate on LangGraph's runtime (``auto``: the default)."""
_RENAMED_ENV = "DEBATELAB_EXECUTOR"
"""The variable's name before 0.1.0's redesign; set, it is an error rather than ignored."""

_NO_VALUE = object()
_noted: set[str] = set()
"""The reasons for LangGraph's runtime already logged in this process."""
_settled: ContextVar[tuple[str | None] | None] = ContextVar("debatelab_runtime", default=None)
"""The decision of the enclosing :func:`settled_runtime` (in a tuple), or ``None``."""
_OVERWRITE = "__overwrite__"  # the serialised form of ``Overwrite`` LangGraph also accepts


@dataclass(frozen=True)
class _Node:
    run: Callable[..., Any]
    """The node's async function."""
    takes_runtime: bool
    next: str | None
    """The fixed successor, or ``None`` when ``route`` picks it."""
    route: Callable[[Any], Any] | None
    ends: Mapping[Hashable, str] | None
    route_sees_update: bool
    """The router's input has no schema: it reads the state over the node's update."""


@dataclass(frozen=True)
class _Key:
    reducer: Callable[[Any, Any], Any] | None
    empty: Callable[[], Any] | None
    """Builds the reducer channel's starting value (``list`` for a list), if it has one."""


class LeanGraph:
    """A supported ``StateGraph``, ready to run; build it with :meth:`of`."""

    def __init__(self, entry: str, nodes: dict[str, _Node], keys: dict[str, _Key]) -> None:
        self.entry = entry
        self.nodes = nodes
        self.keys = keys
        self._empty = [(key, spec.empty) for key, spec in keys.items() if spec.empty is not None]

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
            log.warning("lean runtime: cannot analyse this graph (%s: %s); running it on "
                        "LangGraph's runtime", type(exc).__name__, exc)
            return None

    @classmethod
    def _build(cls, graph: StateGraph[Any, Any, Any, Any]) -> LeanGraph:
        try:
            graph.validate()
        except ValueError:  # LangGraph's compile raises the same error, naming the fault
            raise _Unsupported from None
        _require(not graph.waiting_edges and not graph.managed)
        _require(graph.input_schema is graph.state_schema is graph.output_schema)
        _require(is_typeddict(graph.state_schema))
        keys = {name: _key(channel) for name, channel in graph.channels.items()}
        successors: dict[str, list[str]] = {}
        for start, end in graph.edges:
            successors.setdefault(start, []).append(end)
        entry = successors.pop(START, [])
        _require(len(entry) == 1 and START not in graph.branches)
        nodes = {}
        for name, spec in graph.nodes.items():
            _require(spec.input_schema is graph.state_schema)
            fixed = successors.pop(name, [])
            branches = list(graph.branches.get(name, {}).values())
            _require(len(fixed) + len(branches) == 1)
            route, ends, sees_update = None, None, False
            if branches:
                branch = branches[0]
                _require(branch.input_schema in (None, graph.state_schema))
                route, ends = _route(branch.path), branch.ends
                sees_update = branch.input_schema is None
            run, takes_runtime = _node_function(spec)
            nodes[name] = _Node(run, takes_runtime, fixed[0] if fixed else None, route, ends,
                                sees_update)
        _require(not successors)
        return cls(entry[0], nodes, keys)

    async def ainvoke(self, state: Mapping[str, Any], context: Any,
                      recursion_limit: int) -> dict[str, Any] | None:
        """Run from the entry node to ``END``; return the final state (as ``ainvoke`` does)."""
        if recursion_limit < 1:
            raise ValueError("recursion_limit must be at least 1")
        values = {key: empty() for key, empty in self._empty}
        written = self._apply(values, state)
        runtime = Runtime(context=context)
        name: str | None = self.entry
        steps = 0
        while True:  # one superstep per node; like Pregel, check the limit before ending
            if steps >= recursion_limit:
                raise GraphRecursionError(
                    f"Recursion limit of {recursion_limit} reached without hitting a stop "
                    f"condition. You can increase the limit by setting the `recursion_limit` "
                    f"config key. (lean runtime, before node {name or END!r})")
            if name is None:
                return values if written else None
            steps += 1
            node = self.nodes[name]
            update = await (node.run(dict(values), runtime) if node.takes_runtime
                            else node.run(dict(values)))
            if update is not None:
                if not isinstance(update, dict):
                    raise InvalidUpdateError(
                        f"node {name!r} returned {type(update).__name__}; the lean runtime "
                        f"takes dict updates only: set the protocol's graph_runtime to 'langgraph'")
                written = self._apply(values, update) or written
            if node.next is not None:
                name = None if node.next == END else node.next
            else:
                seen = ({**update, **values} if node.route_sees_update and update
                        else dict(values))
                name = self._follow(name, node, seen)

    def _apply(self, values: dict[str, Any], update: Mapping[str, Any]) -> bool:
        """Write ``update`` into ``values`` as LangGraph's channels do; ``True`` if it wrote."""
        written = False
        for key, value in update.items():
            spec = self.keys.get(key)
            if spec is None:  # not a state key: LangGraph drops it too
                continue
            written = True
            old = values.get(key, _NO_VALUE)
            if spec.reducer is None or old is _NO_VALUE:  # a first value is stored as given
                values[key] = value
            elif isinstance(value, Overwrite):
                values[key] = value.value
            elif isinstance(value, dict) and _overwrites(value):
                values[key] = value[_OVERWRITE] if len(value) == 1 else value["value"]
            else:
                values[key] = spec.reducer(old, value)
        return written

    def _follow(self, name: str, node: _Node, state: dict[str, Any]) -> str | None:
        """The node the router picks after ``name`` (``None``: the run ends)."""
        assert node.route is not None
        result = node.route(state)
        choices = result if isinstance(result, list | tuple) else (result,)
        if node.ends is not None:  # as LangGraph: a choice outside the map is a KeyError
            choices = [c if isinstance(c, Send) else node.ends[c] for c in choices]
        if any(c is None or c == START for c in choices):
            raise ValueError("Branch did not return a valid destination")
        if any(isinstance(c, Send) for c in choices):
            if any(c.node == END for c in choices if isinstance(c, Send)):
                raise InvalidUpdateError("Cannot send a packet to the END node")
            raise InvalidUpdateError(f"the edge after node {name!r} returned a Send; the lean "
                                     f"runtime cannot fan out: set the protocol's graph_runtime "
                                     f"to 'langgraph'")
        targets = []
        for choice in dict.fromkeys(f"{c}" for c in choices if c != END):
            if choice in self.nodes:
                targets.append(choice)
            else:  # LangGraph writes to a channel no node reads, warns, and moves on
                log.warning("the edge after node %r chose %r, which is not a node; ignoring "
                            "it (as LangGraph does)", name, choice)
        if len(targets) > 1:
            raise InvalidUpdateError(f"the edge after node {name!r} chose {targets}; the lean "
                                     f"runtime cannot fan out: set the protocol's graph_runtime "
                                     f"to 'langgraph'")
        return targets[0] if targets else None


def langgraph_reason(config: RunnableConfig | None) -> str | None:
    """Why a debate must run on LangGraph's runtime, or ``None`` if the lean one may run it.

    Checked once per debate (not per node), or once for a batch inside
    :func:`settled_runtime`: ``DEBATELAB_GRAPH_RUNTIME=langgraph``, a ``graph_config``
    given to the run, or any LangChain callback handler that LangGraph's runtime
    would call here (tracers switched on by environment, context managers, a
    traced parent, debug/verbose globals). The first time each reason comes up in
    a process it is logged at INFO level.
    """
    settled = _settled.get()
    if settled is not None:
        return settled[0]
    if _RENAMED_ENV in os.environ:  # set for the old name, it would be ignored in silence
        raise ConfigError(f"{_RENAMED_ENV} is now called {RUNTIME_ENV}: set that instead "
                          f"(and unset {_RENAMED_ENV})")
    forced = os.environ.get(RUNTIME_ENV, "auto")
    if forced not in ("auto", "langgraph", ""):
        raise ConfigError(f"{RUNTIME_ENV} must be 'auto' or 'langgraph', not {forced!r}")
    reason = None
    if forced == "langgraph":
        reason = f"{RUNTIME_ENV}=langgraph"
    elif config is not None:
        reason = "a graph_config was given"
    else:
        handlers = _ambient_handlers()
        if handlers:
            names = ", ".join(sorted({type(h).__name__ for h in handlers}))
            reason = f"LangChain callbacks are on ({names})"
    if reason is not None and reason not in _noted:
        _noted.add(reason)
        log.info("debates run on LangGraph's runtime, not the lean runtime: %s", reason)
    return reason


@contextmanager
def settled_runtime(reason: str | None) -> Iterator[None]:
    """Debates started inside take ``reason`` (from :func:`langgraph_reason`) as decided.

    The check takes about 20 us of CPU, a few per cent of a zero-latency debate's
    framework cost; an experiment, whose setup does not change while it runs,
    decides once for all its debates.
    """
    token = _settled.set((reason,))
    try:
        yield
    finally:
        _settled.reset(token)


def _ambient_handlers() -> list[Any]:
    """The callback handlers LangGraph's runtime would call if a graph started here."""
    from langchain_core.runnables.config import (
        ensure_config,
        get_async_callback_manager_for_config,
    )

    return list(get_async_callback_manager_for_config(ensure_config()).handlers)


def _overwrites(value: dict[Any, Any]) -> bool:
    """Whether ``value`` is an ``Overwrite`` in one of its serialised forms."""
    if len(value) == 1:
        return _OVERWRITE in value
    return value.get("type") == _OVERWRITE and "value" in value


class _Unsupported(Exception):
    pass


def _require(condition: bool) -> None:
    if not condition:
        raise _Unsupported


def _key(channel: Any) -> _Key:
    if type(channel) is LastValue:
        return _Key(None, None)
    _require(type(channel) is BinaryOperatorAggregate)
    try:  # a fresh channel holds ``typ()`` (``[]`` for a list), or nothing
        empty = type(channel.get())
    except EmptyChannelError:
        return _Key(channel.operator, None)
    return _Key(channel.operator, empty)


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


def _route(path: Any) -> Callable[[Any], Any]:
    function = _function(path, "func")
    _require(not inspect.iscoroutinefunction(function))
    _require(len(inspect.signature(function).parameters) == 1)
    return function


def _function(runnable: Any, attribute: str) -> Callable[..., Any]:
    function: Callable[..., Any] | None = getattr(runnable, attribute, None)
    if not callable(function):
        raise _Unsupported
    return function
