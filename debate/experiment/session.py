"""One process's run of an experiment: protocol, models, agents, cache, debates, close.

:class:`RunSession` owns that sequence, written out once here: a local run
(:func:`debate.experiment.runner.arun_experiment`) and each Ray shard
(:mod:`debate.experiment.ray_executor`) go through the same object, so a debate
is computed the same way wherever it runs::

    async with RunSession(config) as session:    # the protocol, resolved once
        session.build()                          # models, then agents (nothing paid yet)
        session.open_cache(run_dir)              # once the run folder exists
        stopped = await session.debate(questions, identity=..., on_trace=..., failed=...)
    # models closed, then the cache: however the run ended

What a session builds it closes; a model object a caller passes in is not the
session's (see :func:`debate.experiment.runner.run_debate`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from debate.errors import ConfigError
from debate.experiment.binding import build_agents, split_bindings
from debate.experiment.shard import close_all, run_questions
from debate.models.accounting import PriceTable
from debate.models.cache import ResponseCache
from debate.models.middleware import Cached, CallStats, wrap
from debate.models.pool import EndpointPool, EndpointReport
from debate.models.spec import ModelSpec, create_backend, parse_model_spec
from debate.models.types import ChatModel, SamplingParams
from debate.protocols.base import DebateProtocol
from debate.trace import DebateTrace, Question

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig

    from debate.agents.base import Agent
    from debate.experiment.config import ExperimentConfig
    from debate.models.batch import BatchingModel, BatchJournal

__all__ = ["ModelSet", "RunSession", "run_cache"]


class RunSession:
    """protocol -> models -> agents -> cache -> questions -> close, for one process.

    Args:
        config: the experiment.
        protocol: the protocol built from ``config`` where the caller has it already
            (it is resolved from ``config`` once, here, otherwise).
        stats: the counters every model of the session adds to.

    """

    def __init__(self, config: ExperimentConfig, protocol: DebateProtocol | None = None,
                 stats: CallStats | None = None) -> None:
        self.config = config
        if protocol is None:
            cls, options = config.resolve_protocol()
            protocol = cls(**options)
        self.protocol: DebateProtocol = protocol
        self.stats = stats if stats is not None else CallStats()
        self.models = ModelSet()
        self.agents: list[Agent] = []
        self.cache: ResponseCache | None = None

    def build(self) -> None:
        """Build the models the config names, then the agents on them (no call is made).

        A missing key, an unknown backend option or a bad role card fails here,
        before anything is written; models built before the failure are closed by
        :meth:`aclose`.
        """
        self.models.build(self.config, self.stats)
        config = self.config
        positional, named = split_bindings(config.models)
        by_spec = self.models.by_spec
        params: SamplingParams = config.sampling_params()
        self.agents = build_agents(
            self.protocol, [by_spec[spec] for spec in positional], config.roles, params,
            config.seed, named_models={k: by_spec[spec] for k, spec in named.items()},
            strict_parsing=config.strict_parsing, sampling=config.sampling_layers())

    def open_cache(self, run_dir: Path, name: str = "cache.sqlite", *,
                   shared: bool = False) -> None:
        """Give every model the run folder's response cache ``name`` (see :func:`run_cache`)."""
        self.cache = run_cache(run_dir, name, shared=shared)
        self.models.use_cache(self.cache)

    def use_journal(self, journal: BatchJournal) -> None:
        """Give every batching model the run's batch journal (``batch: true``)."""
        self.models.use_journal(journal)

    async def debate(
        self,
        questions: Sequence[Question],
        *,
        identity: str,
        on_trace: Callable[[DebateTrace], None],
        failed: dict[str, str],
        concurrency: int | None = None,
        graph_config: RunnableConfig | None = None,
        halted: Callable[[], bool] | None = None,
        on_stop: Callable[[str], None] | None = None,
        retried: Collection[str] = (),
    ) -> str | None:
        """Debate ``questions``; the reason the run stopped, if it did.

        See :func:`~debate.experiment.shard.run_questions`. ``concurrency``: debates at
        once (``None``: the config's; a batch run carries one step of every unfinished
        debate in a batch, so all of them at once).
        """
        if concurrency is None:
            concurrency = self.config.concurrency
            if self.config.batch:
                concurrency = max(concurrency, len(questions))
        return await run_questions(
            self.protocol, self.agents, questions, identity=identity, concurrency=concurrency,
            on_trace=on_trace, failed=failed, graph_config=graph_config, halted=halted,
            on_stop=on_stop, stats=self.stats, retried=retried)

    async def aclose(self) -> None:
        """Close the models, then the cache (also when closing a model fails)."""
        try:
            await self.models.aclose()
        finally:
            if self.cache is not None:
                self.cache.close()

    async def __aenter__(self) -> RunSession:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()


class ModelSet:
    """The models an experiment names: one wrapped model per distinct spec.

    Agents bound to one spec share its wrapped model, so they share its limits,
    retries, cache and endpoint pool.
    """

    def __init__(self) -> None:
        self.backends: list[ChatModel] = []
        self.by_spec: dict[str, ChatModel] = {}
        self.pools: dict[str, EndpointPool] = {}  # by the model's spec without URLs
        self.batching: list[BatchingModel] = []

    def build(self, config: ExperimentConfig, stats: CallStats) -> None:
        """Build the models ``config`` names (if one fails, those before it are kept to close)."""
        prices = PriceTable(config.prices, batch_discount=config.batch_options.discount)
        positional, named = split_bindings(config.models)
        for spec in dict.fromkeys([*positional, *named.values()]):
            parsed = parse_model_spec(spec)
            options = config.backend_options.get(parsed.backend, {})
            endpoints = config.endpoints_of(spec)
            backend: ChatModel
            try:
                if config.batch:
                    backend = self._batching(spec, parsed, options, config)
                elif endpoints:
                    backend = EndpointPool.create(parsed, endpoints, create=create_backend,
                                                  policy=config.pool, **options)
                    name = str(parsed.model_copy(update={"base_url": None, "pool": []}))
                    key, n = name, 1
                    while key in self.pools:  # another pool of the same model
                        n += 1
                        key = f"{name} ({n})"
                    self.pools[key] = backend
                else:
                    backend = create_backend(parsed, **options)
            except TypeError as exc:  # a misspelt constructor option
                unknown = re.search(r"unexpected keyword argument '(\w+)'", str(exc))
                if unknown is None:
                    raise
                raise ConfigError(f"backend_options.{parsed.backend}.{unknown[1]}: not an option "
                                  f"of the {parsed.backend} backend ({exc})") from None
            self.backends.append(backend)
            self.by_spec[spec] = wrap(backend, stats=stats, limits=config.limits,
                                      retry=config.retry, prices=prices)

    def _batching(self, spec: str, parsed: ModelSpec, options: dict[str, Any],
                  config: ExperimentConfig) -> ChatModel:
        from debate.models.batch import batching

        if parsed.backend not in ("openai", "anthropic") or parsed.pool or (
                config.endpoints_of(spec)):
            raise ConfigError(f"batch: true sends openai: and anthropic: models (one URL each) "
                              f"through their Batch APIs; {spec} is not one")
        model = batching(create_backend(parsed, **options), config.batch_options,
                         limits=config.limits, timeout=config.retry.timeout)
        self.batching.append(model)
        return model

    def batches(self) -> int:
        """Batches the batching models submitted so far."""
        return sum(b.batches_submitted for b in self.batching)

    def batch_progress(self, stats: CallStats, discount: float) -> str:
        """Batches pending, items answered and the money saved so far, for the progress bar."""
        pending = sum(b.pending_batches for b in self.batching)
        done = sum(b.items_done for b in self.batching)
        saved = stats.batch_cost * (1 / discount - 1) if discount else 0.0
        return f"{pending} batches pending · {done} items done · saved ${saved:.2f}"

    def use_journal(self, journal: BatchJournal) -> None:
        """Give every batching model the run's batch journal (once the run folder exists)."""
        for model in self.batching:
            model.journal = journal

    def use_cache(self, cache: ResponseCache | None) -> None:
        """Give every model the run's response cache (made once the run folder exists)."""
        for model in self.by_spec.values():
            assert isinstance(model, Cached)
            model.cache = cache

    def endpoint_reports(self) -> dict[str, list[EndpointReport]]:
        """Per-replica counts of every endpoint pool, by model."""
        return {spec: pool.report() for spec, pool in self.pools.items()}

    async def aclose(self) -> None:
        """Close every backend built."""
        await close_all(self.backends)


def run_cache(run_dir: Path, name: str = "cache.sqlite", *, shared: bool = False
              ) -> ResponseCache:
    """The run folder's response cache ``name``, reading its other ``cache*.sqlite`` too.

    Each process of a run writes its own file (``cache.sqlite``, or one per Ray shard);
    a call one of them paid for is replayed by whichever process makes it next time,
    so a run resumed with another executor or shard count pays for no call twice.
    ``shared``: another process may still be adding to ``name`` (see
    :class:`~debate.models.cache.ResponseCache`).
    """
    others = sorted(p for p in run_dir.glob("cache*.sqlite") if p.name != name)
    return ResponseCache(run_dir / name, fallbacks=others, shared=shared)


