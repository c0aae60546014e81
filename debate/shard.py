"""What one process runs: an experiment's models and agents, and its debates, concurrently.

:func:`debate.runner.arun_experiment` runs all of a run's questions through
these pieces in its own process; with ``executor: ray`` each Ray actor runs its
shard of the questions through the very same ones (:mod:`debate.distributed`),
so a debate is computed the same way wherever it runs.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Collection, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from debate.binding import build_agents, split_bindings
from debate.errors import ConfigError, RetryableError, TransportError, redact, stops_run
from debate.models.accounting import PriceTable
from debate.models.cache import ResponseCache
from debate.models.middleware import Cached, CallStats, wrap
from debate.models.pool import EndpointPool, EndpointReport
from debate.models.spec import ModelSpec, create_backend, parse_model_spec
from debate.models.types import ChatModel, SamplingParams, close_model
from debate.protocols.base import DebateProtocol
from debate.trace import DebateTrace, Question

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig

    from debate.agents.base import Agent
    from debate.config import ExperimentConfig
    from debate.models.batch import BatchingModel, BatchJournal

__all__ = ["Models", "Outage", "agents_for", "close_all", "close_run", "run_cache", "run_questions"]


async def close_all(models: Iterable[ChatModel]) -> None:
    """Close every model (all of them, even when one fails; then its error is raised)."""
    await asyncio.gather(*(close_model(model) for model in models))


class Models:
    """One wrapped model per distinct spec: agents on one endpoint share its limits."""

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
                    backend = EndpointPool.create(parsed, endpoints, policy=config.pool,
                                                  **options)
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


async def close_run(models: Models, cache: ResponseCache | None) -> None:
    """Close the models, then the cache (also when closing a model fails)."""
    try:
        await models.aclose()
    finally:
        if cache is not None:
            cache.close()


def agents_for(config: ExperimentConfig, protocol: DebateProtocol, models: Models) -> list[Agent]:
    """The agents ``config`` binds to ``protocol``'s seats, on ``models``.

    Each samples with the run-wide ``temperature``/``max_tokens`` under the preset's
    and the spec's ``sampling`` for its name or role (:mod:`debate.sampling`).
    """
    params: SamplingParams = config.sampling_params()
    positional, named = split_bindings(config.models)
    return build_agents(protocol, [models.by_spec[spec] for spec in positional],
                        config.roles, params, config.seed,
                        named_models={k: models.by_spec[spec] for k, spec in named.items()},
                        strict_parsing=config.strict_parsing,
                        sampling=config.sampling_layers())


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


class Outage:
    """Debates failed in a row after every retry while no call was answered: the endpoint is down.

    One prompt that the server always fails (a 500 for that prompt alone) fails its
    debate, and the calls of the other debates are still answered. When *no* call has
    been answered since the first of ``limit`` debates that failed in a row with a
    retryable error (5xx, timeouts, lost connections), the endpoint itself is down
    (a dead server behind a proxy answering 502), and every further debate would
    spend its retries for nothing: the run stops, as for a pool past its outage limit.
    A 400 (a prompt too long) is the question's and never counts here.
    """

    MIN_FAILURES = 10
    """The fewest failed debates that stop a run (or the run's concurrency, if more)."""

    def __init__(self, stats: CallStats | None, limit: int,
                 retried: Collection[str] = ()) -> None:
        self.stats = stats
        self.limit = limit
        self.retried = frozenset(retried)
        """Questions whose debates failed last time: failing again, they say nothing of
        the endpoint (their cached rounds are no answers)."""
        self.failures = 0
        """Debates failed in a row since a call was last answered."""
        self._answered = -1

    def failed(self, question: str, exc: TransportError) -> str | None:
        """Count a failed debate; the reason to stop the run, when it is time to."""
        if self.stats is None or not isinstance(exc, RetryableError) or question in self.retried:
            return None
        answered = self.stats.answered
        if answered != self._answered:  # a call was answered since: start counting anew
            self.failures, self._answered = 0, answered
        self.failures += 1
        if self.failures < self.limit:
            return None
        return (f"{self.failures} debates in a row failed after every retry and no call was "
                f"answered meanwhile: the endpoint is down, not the questions (last: {exc})")


async def run_questions(
    protocol: DebateProtocol,
    agents: Sequence[Agent],
    questions: Sequence[Question],
    *,
    identity: str,
    concurrency: int,
    on_trace: Callable[[DebateTrace], None],
    failed: dict[str, str],
    graph_config: RunnableConfig | None = None,
    halted: Callable[[], bool] | None = None,
    on_stop: Callable[[str], None] | None = None,
    stats: CallStats | None = None,
    retried: Collection[str] = (),
) -> str | None:
    """Debate every question, ``concurrency`` at a time; each finished trace to ``on_trace``.

    A debate that cannot finish is recorded in ``failed`` (question id -> error) and
    the others go on, also when one of its calls failed after every retry; a transport
    error that :func:`~debate.errors.stops_run` (a refused key, an unknown model, an
    endpoint down) stops every debate and is returned (``None`` when none did).
    With ``stats`` (the models' counters), :class:`Outage` also stops the run when
    debates keep failing after every retry while no call is answered anywhere: an
    endpoint down, not a question (``retried``: questions that failed last time, which
    do not count). ``identity`` prefixes the trace ids. Once
    ``halted()`` is true no new debate starts
    (those under way finish); ``on_stop`` hears of a stop as soon as it happens
    (before the debates under way finish).
    """
    pending = iter(questions)
    stopped: list[str] = []
    outage = Outage(stats, max(Outage.MIN_FAILURES, concurrency), retried)

    def stop(reason: str) -> None:
        stopped.append(reason)
        if on_stop is not None and len(stopped) == 1:
            on_stop(stopped[0])

    async def worker() -> None:
        for question in pending:
            if stopped or (halted is not None and halted()):
                return
            try:
                trace = await protocol.run(question, agents, trace_id=f"{identity}:{question.id}",
                                           graph_config=graph_config)
            except TransportError as exc:
                if stops_run(exc):  # every call would fail the same way: the run's error
                    stop(redact(str(exc)))
                    return
                failed[question.id] = redact(f"{type(exc).__name__}: {exc}")  # this one's
                down = outage.failed(question.id, exc)
                if down is not None:
                    stop(redact(down))
                    return
                continue
            except Exception as exc:  # a debate that cannot finish must not end the run
                failed[question.id] = redact(f"{type(exc).__name__}: {exc}")
                continue
            outage.failures = 0
            on_trace(trace)

    await asyncio.gather(*(worker() for _ in range(min(concurrency, max(len(questions), 1)))))
    return stopped[0] if stopped else None
