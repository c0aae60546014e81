"""What every protocol shares: config, graph state, context, registry, and ``run``.

A protocol is a pydantic config (defaults = the paper's) plus a LangGraph
``StateGraph`` over :class:`DebateState`, built once per protocol object
and reused for every question. Agents of one round act in *one* node that
gathers them (one superstep per round); stop rules are conditional edges;
model clients are not state, they travel in the graph's context. Debates run
the graph with :class:`~debate.protocols.runtime.LeanGraph` when its shape
allows (every built-in protocol) and on LangGraph's runtime otherwise.
"""

from __future__ import annotations

import operator
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Generic, Literal, TypedDict, cast

from pydantic import ConfigDict, Field, ValidationError, model_validator
from typing_extensions import TypeVar

from debate._generic import config_argument
from debate.agents.base import Agent, DebateScope, View, debate_scope, gather_all
from debate.errors import ConfigError
from debate.judges.base import Judge, MemberJudge, create_judge
from debate.judges.voting import DECISIONS, DecisionRule
from debate.registry import Registry
from debate.scoring import is_correct
from debate.settings import Settings, error_lines
from debate.trace import AgentInfo, DebateTrace, FinalAnswer, Question, Totals, Turn

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig
    from langgraph.graph import StateGraph
    from langgraph.runtime import Runtime

    from debate.protocols.runtime import LeanGraph

__all__ = [
    "PROTOCOLS",
    "DebateContext",
    "DebateProtocol",
    "DebateState",
    "FixedRolesProtocol",
    "GroupProtocol",
    "JudgedConfig",
    "ProtocolConfig",
    "create_protocol",
    "gather_all",
    "gather_round",
    "get_protocol",
    "protocol",
]


class ProtocolConfig(Settings):
    """Base of protocol configs: unknown options are errors, not silently ignored."""

    model_config = ConfigDict(frozen=True)


class JudgedConfig(ProtocolConfig):
    """Config of a protocol whose final answer comes from a registered judge."""

    judge: str = "majority"
    """The judge that turns the last round into the final answer (``debate.judges``)."""
    judge_options: dict[str, Any] = Field(default_factory=dict)
    """Options of that judge (e.g. ``swap_order: true`` for ``llm``)."""
    decision: DecisionRule | None = None
    """A decision rule of Kaesberg et al. (2025), by name (:mod:`debate.judges.voting`):
    ``majority-consensus``, ``supermajority-consensus``, ``unanimity-consensus``,
    ``hybrid-consensus`` (a consensus ends a du or reconcile debate once reached),
    ``simple-voting``, ``approval-voting``, ``cumulative-voting``, ``ranked-voting`` (the
    agents vote on the last round's answers), ``judge`` (the first agent combines them). It sets
    ``judge`` and the judge's rule; other ``judge_options`` (``fallback``, ``attempts``)
    still apply. ``None``: ``judge`` decides."""

    @model_validator(mode="before")
    @classmethod
    def _decision_sets_judge(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("decision") is None:
            return data
        name = data["decision"]
        if name not in DECISIONS:
            return data  # the field's own check names the choices
        judge_name, rule = DECISIONS[name]
        if data.get("judge", judge_name) != judge_name:
            raise ValueError(f"decision {name!r} is the {judge_name!r} judge; judge "
                             f"{data['judge']!r} is another: give one of them")
        options = dict(data.get("judge_options") or {})
        clash = {k: v for k, v in rule.items() if options.get(k, v) != v}
        if clash:
            raise ValueError(f"decision {name!r} sets judge_options {rule}; "
                             f"judge_options {clash} contradicts it")
        return {**data, "judge": judge_name, "judge_options": {**options, **rule}}


class DebateState(TypedDict):
    """The graph's state. ``turns`` is append-only: nodes return new turns only."""

    question: Question
    turns: Annotated[list[Turn], operator.add]
    round: int
    """The last round that finished."""
    final: FinalAnswer | None
    stop_reason: str | None


@dataclass(frozen=True)
class DebateContext:
    """What nodes need besides state: the agents (and their model clients)."""

    agents: Sequence[Agent]

    def agent(self, name: str) -> Agent:
        """The agent called ``name``."""
        for agent in self.agents:
            if agent.name == name:
                return agent
        raise KeyError(name)

    def group(self, names: Sequence[str]) -> list[Agent]:
        """The agents called ``names``, in that order."""
        return [self.agent(n) for n in names]


async def gather_round(agents: Sequence[Agent], views: Sequence[View]) -> list[Turn]:
    """Let each agent act on its view concurrently; turns come back in agent order."""
    return await gather_all([a.act(v) for a, v in zip(agents, views, strict=True)])


ConfigT = TypeVar("ConfigT", bound=ProtocolConfig, covariant=True, default=ProtocolConfig)


class DebateProtocol(ABC, Generic[ConfigT]):
    """Base class of protocols: ``class Mad(DebateProtocol[MadConfig])`` takes ``MadConfig``.

    Subclasses name their config as the type argument (it becomes ``config_class``
    and the type of ``config``) and build the graph.
    """

    name: ClassVar[str] = ""
    """The registered name."""
    config_class: ClassVar[type[ProtocolConfig]] = ProtocolConfig
    """The pydantic config, set from the type argument; its defaults are the paper's."""
    config: ConfigT
    """The validated options."""
    paper: ClassVar[str] = ""
    """The paper the protocol follows (shown by ``debate protocols``)."""
    rounds_meaning: ClassVar[str] = ("debate rounds after the initial answers: round 0 is the "
                                     "initial answers, rounds 1 to R the debate")
    """What the ``rounds`` option counts, naming what round 0 is (shown by ``debate
    protocols NAME``, ``debate run --help`` points there, and the run's report). Protocols
    whose ``rounds`` counts something else set their own."""
    answers_every_round: ClassVar[bool] = False
    """True when ``rounds`` counts rounds in which every agent answers (round 0 the initial
    answers), so per-round answer statistics compare like with like (du, reconcile), and no
    prompt of a round before the last depends on ``rounds``: adaptive stopping
    (:mod:`debate.experiment.adaptive`), which runs only such protocols, replays those rounds
    from the previous run's cache (a run where they were paid again records
    ``replayed: false``)."""
    requires: ClassVar[tuple[str, ...]] = ()
    """Question fields every question must have (e.g. ``("context",)``): checked by
    :meth:`check_questions` when a dataset is loaded, so no prompt goes out with a gap."""
    identity_exclude: ClassVar[frozenset[str]] = frozenset()
    """Config fields left out of the run identity because another field holds their
    resolved value (e.g. the path a sample count was matched to)."""
    graph_runtime: Literal["auto", "langgraph"] = "auto"
    """``auto``: run the graph with :class:`LeanGraph` when its shape allows (same nodes,
    edges and reducers, without Pregel's per-step cost), else on LangGraph's runtime;
    ``langgraph``: always on LangGraph's runtime. Settable per instance; the environment
    variable ``DEBATELAB_GRAPH_RUNTIME=langgraph``, a ``graph_config`` or LangChain tracing
    switched on also choose LangGraph's runtime for a debate."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        named = config_argument(cls, ProtocolConfig)
        if named is not None and "config_class" not in cls.__dict__:
            cls.config_class = named

    def __init__(self, config: ProtocolConfig | None = None, **options: Any) -> None:
        base = config.model_dump(exclude_unset=True) if config is not None else {}
        try:
            self.config = cast(ConfigT, self.config_class.model_validate({**base, **options}))
        except ValidationError as exc:
            lines = error_lines(exc, self.config_class)
            raise ConfigError(f"protocol {self.name!r}: invalid option(s): " + "; ".join(lines)
                              ) from None
        self._compiled: Any = None
        self._lean: LeanGraph | None | bool = False  # False: not looked at yet
        self.judge: Judge[Any] | None = None
        if isinstance(self.config, JudgedConfig):
            self.judge = create_judge(self.config.judge, **self.config.judge_options)

    def identity_options(self) -> dict[str, Any]:
        """The resolved options that decide what the protocol computes (for run identity)."""
        options = {k: v for k, v in self.config.model_dump(mode="json").items()
                   if k not in self.identity_exclude}
        if options.get("decision", 0) is None:  # runs from before decision rules keep theirs
            del options["decision"]
        return options

    @property
    def judge_agents(self) -> list[str]:
        """``["judge"]`` when the configured judge calls a model, else ``[]``."""
        return ["judge"] if self.judge is not None and self.judge.needs_model else []

    async def conclude(self, state: DebateState, runtime: Runtime[DebateContext],
                       candidates: list[Turn]) -> dict[str, Any]:
        """The configured judge's decision over ``candidates`` (its turns join the trace)."""
        assert self.judge is not None, "conclude() needs a JudgedConfig"
        if isinstance(self.judge, MemberJudge):  # a vote or summary by the candidates' authors
            members = runtime.context.group(list(dict.fromkeys(t.agent for t in candidates)))
            decision = await self.judge.decide_with(state["question"], candidates, members,
                                                    state["round"], roles=self.ballot_roles())
        else:
            agent = runtime.context.agent("judge") if self.judge_agents else None
            decision = await self.judge.decide(state["question"], candidates, agent,
                                               state["round"])
        return {"final": decision.final, "turns": decision.turns}

    def ballot_roles(self) -> dict[str, str]:
        """Each voter's role line on its ballot, by agent name (MALLM: its persona); none here."""
        return {}

    def settled(self, candidates: list[Turn], round_: int) -> bool:
        """True when the configured decision rule is reached already (a consensus rule)."""
        return self.judge is not None and self.judge.settled(candidates, round_)

    @abstractmethod
    def agent_names(self) -> list[str]:
        """The names of the agents this configuration needs, in order."""

    def agent_role(self, index: int) -> str:
        """The role of agent ``index`` (used when agents are built from specs)."""
        return "judge" if self.agent_names()[index] == "judge" else "debater"

    @abstractmethod
    def graph(self) -> StateGraph[Any, Any, Any, Any]:
        """The protocol's (uncompiled) graph over :class:`DebateState`."""

    def check_questions(self, questions: Sequence[Question]) -> None:
        """Raise :class:`ConfigError` naming the questions that lack a required field."""
        for name in self.requires:
            missing = [q.id for q in questions if not getattr(q, name)]
            if missing:
                shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
                raise ConfigError(
                    f"protocol {self.name!r} needs a {name!r} for every question; "
                    f"{len(missing)} of {len(questions)} have none ({shown}). Map the column "
                    f"with dataset.fields.{name}")

    def recursion_limit(self) -> int:
        """Supersteps one debate may take (set from the round count)."""
        return 25

    def loop_graph(self, first: str, loop: str, finish: str) -> StateGraph[Any, Any, Any, Any]:
        """The usual shape: ``first -> loop* -> finish``, each a method of this protocol.

        ``first`` and ``loop`` end the loop by setting ``stop_reason``.
        """
        from langgraph.graph import END, START, StateGraph

        g = StateGraph(DebateState, context_schema=DebateContext)
        for name in (first, loop, finish):
            g.add_node(name, getattr(self, name))

        def route(state: DebateState) -> str:
            return finish if state["stop_reason"] else loop

        g.add_edge(START, first)
        g.add_conditional_edges(first, route, [loop, finish])
        g.add_conditional_edges(loop, route, [loop, finish])
        g.add_edge(finish, END)
        return g

    def one_node_graph(self, node: str) -> StateGraph[Any, Any, Any, Any]:
        """The simplest shape: ``START -> node -> END``, ``node`` a method of this protocol."""
        from langgraph.graph import END, START, StateGraph

        g = StateGraph(DebateState, context_schema=DebateContext)
        g.add_node(node, getattr(self, node))
        g.add_edge(START, node)
        g.add_edge(node, END)
        return g

    def max_calls(self) -> int:
        """Most model calls one debate can make with this config (for compute matching)."""
        raise NotImplementedError(f"protocol {self.name!r} does not state its call count")

    def judge_calls(self) -> int:
        """Most calls the configured judge makes (2 with a swapped-order LLM judge)."""
        if self.judge is None:
            return 0
        return self.judge.calls_with(len([n for n in self.agent_names() if n != "judge"]))

    def prepare(self, agents: Sequence[Agent]) -> None:
        """Adjust agents before a debate (e.g. ask for logprobs); default: nothing."""
        return None

    def build_graph(self) -> Any:
        """The compiled graph, built on first use and reused for every question."""
        if self._compiled is None:
            self._compiled = self.graph().compile(name=self.name)
        return self._compiled

    def lean_graph(self) -> LeanGraph | None:
        """The graph in :class:`LeanGraph` form (built once), or ``None`` if it is unsupported."""
        if self._lean is False:
            from debate.protocols.runtime import LeanGraph

            self._lean = LeanGraph.of(self.graph())
        assert not isinstance(self._lean, bool)
        return self._lean

    def _lean_for(self, graph_config: RunnableConfig | None) -> LeanGraph | None:
        """The lean graph this debate runs on, or ``None`` for LangGraph's runtime."""
        if self.graph_runtime == "langgraph":
            return None
        from debate.protocols.runtime import langgraph_reason

        return None if langgraph_reason(graph_config) else self.lean_graph()

    def mermaid(self) -> str:
        """The graph as a mermaid diagram."""
        return str(self.build_graph().get_graph().draw_mermaid())

    async def run(self, question: Question, agents: Sequence[Agent], *,
                  trace_id: str | None = None,
                  graph_config: RunnableConfig | None = None) -> DebateTrace:
        """Run one debate on ``question`` and return its trace.

        ``graph_config`` (callbacks, tags, metadata... as LangGraph's ``ainvoke`` takes
        it) runs the debate on LangGraph's runtime, which honours all of it; so do
        LangChain tracing and callbacks switched on around the call (see
        :func:`~debate.protocols.runtime.langgraph_reason`).
        """
        names = self.agent_names()
        if len(agents) != len(names):
            raise ConfigError(f"protocol {self.name!r} with this config needs {len(names)} "
                              f"agents ({', '.join(names)}), got {len(agents)}")
        self.prepare(agents)
        started = datetime.now(UTC)
        state: DebateState = {"question": question, "turns": [], "round": -1, "final": None,
                              "stop_reason": None}
        if self.graph_runtime not in ("auto", "langgraph"):
            raise ConfigError(f"protocol {self.name!r}: graph_runtime must be 'auto' or "
                              f"'langgraph', not {self.graph_runtime!r}")
        lean = self._lean_for(graph_config)
        scope = debate_scope.set(DebateScope(question.id))  # the calls' cache positions
        result: Any
        try:
            if lean is not None:
                result = await lean.ainvoke(state, DebateContext(agents), self.recursion_limit())
            else:
                result = await self.build_graph().ainvoke(
                    state, context=DebateContext(agents),
                    config={"recursion_limit": self.recursion_limit(), **(graph_config or {})},
                )
        finally:
            debate_scope.reset(scope)
        turns: list[Turn] = result["turns"]
        final: FinalAnswer = result["final"]
        return DebateTrace(
            id=trace_id or question.id,
            protocol=self.name,
            protocol_config=self.config.model_dump(mode="json"),
            question=question,
            agents=[AgentInfo(name=a.name, role=a.role, model=a.model.name, card=a.card)
                    for a in agents],
            turns=turns,
            final=final,
            stop_reason=result["stop_reason"] or "done",
            correct=is_correct(final.answer, question.gold, question.task,
                               question.numeric_tolerance),
            totals=Totals.of(turns),
            started_at=started,
            finished_at=datetime.now(UTC),
        )


class GroupProtocol(DebateProtocol[ConfigT]):
    """A protocol of N like agents ``agent-0`` ... (config field ``agents``), plus a judge.

    ``member_role`` is the agents' role; a ``judge`` agent is added when the
    configured judge calls a model.
    """

    member_role: ClassVar[str] = "debater"
    """The role of the N agents."""

    def member_names(self) -> list[str]:
        """``agent-0`` ... ``agent-{N-1}``."""
        return [f"agent-{i}" for i in range(getattr(self.config, "agents", 1))]

    def agent_names(self) -> list[str]:
        """The members, then the judge when the configured judge calls a model."""
        return self.member_names() + self.judge_agents

    def agent_role(self, index: int) -> str:
        """``member_role`` (``judge`` for the judge agent)."""
        return "judge" if self.agent_names()[index] == "judge" else self.member_role


class FixedRolesProtocol(DebateProtocol[ConfigT]):
    """A protocol whose agents each play their own role (MAD, SR-DCR, critique-refine).

    ``agent_roles`` maps each agent's name to its registered role, in order; a
    ``judge`` agent (role ``judge``) follows when the configured judge calls a model.
    """

    agent_roles: ClassVar[dict[str, str]] = {}
    """Agent name -> the role it plays (a name in ``debate.agents.ROLES``)."""

    def agent_names(self) -> list[str]:
        """The agents of ``agent_roles``, then the judge when the configured judge calls a model."""
        return list(self.agent_roles) + [j for j in self.judge_agents if j not in self.agent_roles]

    def agent_role(self, index: int) -> str:
        """Each agent's own role (``judge`` for a configured judge's agent)."""
        return self.agent_roles.get(self.agent_names()[index], "judge")


PROTOCOLS: Registry[type[DebateProtocol[Any]]] = Registry(
    "protocol", "name", group="debatelab.protocols")
"""Registered protocols by name."""

P = TypeVar("P", bound=type[DebateProtocol[Any]])


def protocol(name: str) -> Callable[[P], P]:
    """Class decorator registering a :class:`DebateProtocol` subclass under ``name``."""
    return PROTOCOLS.register(name)


def get_protocol(name: str) -> type[DebateProtocol[Any]]:
    """The protocol class registered as ``name``."""
    return PROTOCOLS.lookup(name)


def create_protocol(name: str, **options: Any) -> DebateProtocol[Any]:
    """An instance of the protocol ``name`` with ``options`` over its defaults."""
    return get_protocol(name)(**options)
