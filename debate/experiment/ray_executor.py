"""Ray: one experiment's debates sharded over many processes and machines.

With ``executor: ray`` in an experiment spec (or ``debate run --ray [ADDRESS]``;
``pip install -e ".[ray]"``) the questions still to debate are split into
shards by a stable hash of their id (:func:`shard_of`), and each shard runs in
a Ray async actor (``ray.num_cpus`` CPUs each) through the very session one
process uses (:class:`debate.experiment.session.RunSession`): its own models and
endpoint pools, its own
limits, and its own response cache file in the run folder
(``cache-shard-K.sqlite``, which also reads the run's other cache files). Each
finished trace goes back to the driver, the run's only writer: it appends
``traces.jsonl``, shows the progress and writes the summary, as a local run does.

Nothing is lost and nothing is paid twice when something dies:

- an actor that dies (a node lost, ``ray.kill``) is replaced, up to
  ``ray.max_restarts`` times per shard, by one that debates what its shard has
  not sent back yet; calls the dead one paid for are replayed from its cache
  file (a reply is committed there before anyone sees it);
- a killed driver takes its actors with it; re-running the command skips the
  debates in ``traces.jsonl`` and every shard replays its cache.

Limits (``limits``, ``endpoints``) and ``concurrency`` apply per shard: with 4
shards on one endpoint capped at 64 in flight, up to 256 calls reach it. The run
folder must be on storage every node sees (the shards' cache files live there).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from debate.errors import ConfigError, MissingDependencyError
from debate.experiment.config import ExperimentConfig, RayOptions
from debate.models.middleware import CallStats
from debate.models.pool import EndpointReport
from debate.trace import DebateTrace, Question, parse_trace, trace_json

__all__ = ["ShardRunner", "actor_name", "run_on_ray", "shard_of"]

NAMESPACE = "debatelab"


def shard_of(question_id: str, shards: int) -> int:
    """The shard of a question: a stable hash of its id (the same on every machine and run)."""
    digest = hashlib.sha256(question_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % shards


def actor_name(identity: str, run_dir: str | Path, shard: int, incarnation: int) -> str:
    """The Ray actor name of a shard's ``incarnation``-th actor (namespace ``debatelab``).

    It names the run folder too (a hash of its absolute path): the same experiment run
    into two folders on one cluster is two runs, and neither touches the other's actors.
    """
    return f"{_run_key(identity, run_dir)}-shard-{shard}-{incarnation}"


def _run_key(identity: str, run_dir: str | Path) -> str:
    folder = hashlib.sha256(str(Path(run_dir).resolve()).encode("utf-8")).hexdigest()[:8]
    return f"{identity}-{folder}"


@dataclass
class _Report:
    """What :meth:`ShardRunner.take` hands the driver."""

    traces: list[bytes]
    done: bool
    stats: dict[str, Any]
    failed: dict[str, str]
    stopped: str | None
    endpoints: dict[str, list[dict[str, Any]]]
    error: str | None


class ShardRunner:
    """One shard's debates in one process (a Ray actor; plain Python otherwise).

    ``start`` begins debating in the background; ``take`` returns what has finished
    since the last ``take`` (waiting up to ``wait`` seconds for something).
    """

    def __init__(self, config: dict[str, Any], shard: int, run_dir: str,
                 identity: str) -> None:
        self.config = ExperimentConfig.model_validate(config)
        self.shard = shard
        self.run_dir = Path(run_dir)
        self.identity = identity
        self.stats = CallStats()
        self.failed: dict[str, str] = {}
        self.retried: list[str] = []
        self.stopped: str | None = None
        self.error: str | None = None
        self._out: list[bytes] = []
        self._session: Any = None
        self._halted = False
        self._done = False
        self._ready: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, questions: list[dict[str, Any]], retried: list[str]) -> None:
        """Debate these questions (in the background); ``retried`` failed last time."""
        self.retried = retried
        self._ready = asyncio.Event()
        try:
            parsed = [Question.model_validate(q) for q in questions]
        except ValueError as exc:  # never raised to the driver: reported by take()
            self.error = f"shard {self.shard}: {exc}"
            self._done = True
            return
        self._task = asyncio.get_running_loop().create_task(self._run(parsed))

    async def _run(self, questions: Sequence[Question]) -> None:
        from debate.experiment.gc_tuning import batch_gc
        from debate.experiment.session import RunSession

        try:
            session = self._session = RunSession(self.config, stats=self.stats)
        except Exception as exc:  # the driver reports it; the run stops there
            self.error = f"shard {self.shard}: {type(exc).__name__}: {exc}"
            self._done = True
            self._wake()
            return
        try:
            async with session:  # models, then the cache, closed however it ends
                session.build()
                if self.config.cache:  # shared: the actor of a killed driver may linger a moment
                    session.open_cache(self.run_dir, f"cache-shard-{self.shard}.sqlite",
                                       shared=True)
                with batch_gc():  # this process is the shard's alone
                    self.stopped = await session.debate(
                        questions, identity=self.identity, on_trace=self._emit,
                        failed=self.failed, halted=lambda: self._halted, on_stop=self._stop,
                        retried=self.retried)
        except Exception as exc:  # the driver reports it; the run stops there
            self.error = f"shard {self.shard}: {type(exc).__name__}: {exc}"
        finally:
            self._done = True
            self._wake()

    def _stop(self, reason: str) -> None:  # the driver hears of it at the next take()
        self.stopped = reason
        self._wake()

    async def halt(self) -> None:
        """Start no more debates (another shard stopped the run); finish those under way."""
        self._halted = True

    def _emit(self, trace: DebateTrace) -> None:
        self._out.append(trace_json(trace))
        self._wake()

    def _wake(self) -> None:
        if self._ready is not None:
            self._ready.set()

    async def take(self, wait: float = 1.0) -> _Report:
        """The traces finished since the last call (waits up to ``wait`` s for one)."""
        if not self._out and not self._done and self._ready is not None:
            self._ready.clear()
            try:
                await asyncio.wait_for(self._ready.wait(), wait)
            except TimeoutError:
                pass
        out, self._out = self._out, []
        endpoints = (self._session.models.endpoint_reports() if self._session is not None
                     else {})
        return _Report(out, self._done, asdict(self.stats), dict(self.failed), self.stopped,
                       {m: [r.model_dump() for r in rs] for m, rs in endpoints.items()},
                       self.error)


@dataclass
class _Shard:
    """The driver's view of one shard."""

    index: int
    remaining: dict[str, Question]
    incarnation: int = 0
    handle: Any = None
    base: CallStats = field(default_factory=CallStats)  # counts of dead incarnations
    last: CallStats = field(default_factory=CallStats)  # the live one's latest counts
    endpoints: list[dict[str, list[EndpointReport]]] = field(
        default_factory=lambda: [{}])  # per incarnation: the latest report of each
    reported_at: float = 0.0  # when the driver last heard from it (monotonic)
    unreachable: int = 0  # reports missed in a row because its actor could not be reached


@dataclass
class RayOutcome:
    """What a Ray run leaves beside its traces."""

    stopped: str | None
    endpoints: dict[str, list[EndpointReport]]
    shards: int


async def run_on_ray(config: ExperimentConfig, questions: Sequence[Question], *, run_dir: Path,
                     identity: str, on_trace: Callable[[DebateTrace, bytes], None],
                     failed: dict[str, str], stats: CallStats,
                     retried: Collection[str] = ()) -> RayOutcome:
    """Debate ``questions`` on Ray shards; each finished trace to ``on_trace`` (here).

    ``on_trace`` gets the trace and the line the shard encoded it as (to write as is).

    ``stats`` is kept up to date with the sum over every shard's calls; debates that
    could not finish go to ``failed``; ``retried``: those that failed last time (see
    :class:`debate.experiment.shard.Outage`). See the module docstring.
    """
    ray = _import_ray()
    options: RayOptions = config.ray
    started = not ray.is_initialized()
    if started:  # and shut down at the end: a caller who started Ray keeps it
        ray.init(address=options.address, namespace=NAMESPACE, include_dashboard=False,
                 log_to_driver=False, configure_logging=False)
    try:
        return await _run_shards(ray, options, config, questions, run_dir=run_dir,
                                 identity=identity, on_trace=on_trace, failed=failed,
                                 stats=stats, retried=frozenset(retried))
    finally:
        if started:
            ray.shutdown()


async def _run_shards(ray: Any, options: RayOptions, config: ExperimentConfig,
                      questions: Sequence[Question], *, run_dir: Path, identity: str,
                      on_trace: Callable[[DebateTrace, bytes], None], failed: dict[str, str],
                      stats: CallStats, retried: frozenset[str]) -> RayOutcome:
    cpus = float(ray.cluster_resources().get("CPU", 0))
    largest = max((float(n.get("Resources", {}).get("CPU", 0)) for n in ray.nodes()
                   if n.get("Alive", True)), default=cpus)
    if options.num_cpus > largest:
        raise ConfigError(f"ray.num_cpus is {options.num_cpus}, but the largest node of the "
                          f"cluster has {largest:g} CPUs: no actor could ever start")
    count = options.shards or max(1, int(cpus // options.num_cpus))
    folder = str(Path(run_dir).resolve())  # noqa: ASYNC240 - once; an actor has its own cwd
    _kill_leftovers(ray, _run_key(identity, folder))
    shards = [_Shard(k, {}) for k in range(count)]
    for question in questions:
        shards[shard_of(question.id, count)].remaining[question.id] = question
    actor = ray.remote(num_cpus=options.num_cpus, max_restarts=0,
                       max_concurrency=16)(ShardRunner)
    payload = _portable(config)
    pending: dict[asyncio.Future[Any], _Shard] = {}
    stopped: str | None = None

    def launch(shard: _Shard) -> None:
        shard.handle = actor.options(
            name=actor_name(identity, folder, shard.index, shard.incarnation),
            namespace=NAMESPACE).remote(payload, shard.index, folder, identity)
        shard.handle.start.remote([q.model_dump(mode="json")
                                   for q in shard.remaining.values()],
                                  [qid for qid in shard.remaining if qid in retried])
        ask(shard)

    def ask(shard: _Shard, delay: float = 0.0) -> None:
        pending[asyncio.ensure_future(_take(shard.handle, delay))] = shard

    def halt_all() -> None:  # one shard stopped the run: the others start nothing new
        for other in shards:
            if other.handle is not None:
                other.handle.halt.remote()

    try:
        for shard in shards:
            if shard.remaining:
                launch(shard)
        while pending:
            done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for future in done:
                shard = pending.pop(future)
                try:
                    report: _Report = future.result()
                except ray.exceptions.RayActorError as exc:  # died, or unreachable
                    if (isinstance(exc, _unavailable(ray)) and shard.unreachable < _PATIENCE
                            and stopped is None):  # a network blip: ask again
                        shard.unreachable += 1
                        ask(shard, delay=shard.unreachable)
                        continue
                    _kill(ray, shard.handle)  # an unreachable one must not return beside its heir
                    shard.handle = None
                    shard.base = _add(shard.base, shard.last)
                    shard.last = CallStats()
                    if stopped is not None:  # the run stopped: what is left stays to do
                        continue
                    if shard.incarnation >= options.max_restarts:
                        for qid in shard.remaining:
                            failed[qid] = (f"shard {shard.index}: its actor died "
                                           f"{shard.incarnation + 1} times ({exc})")
                        continue
                    shard.incarnation += 1
                    shard.endpoints.append({})
                    launch(shard)
                    continue
                for line in report.traces:
                    trace = parse_trace(line)
                    shard.remaining.pop(trace.question.id, None)
                    on_trace(trace, line)
                shard.last = CallStats(**report.stats)
                shard.unreachable = 0
                shard.reported_at = time.monotonic()
                shard.endpoints[-1] = {m: [EndpointReport(**r) for r in rs]
                                       for m, rs in report.endpoints.items()}
                _total(shards, stats)
                if (report.error is not None or report.stopped is not None) and stopped is None:
                    stopped = report.error or report.stopped
                    halt_all()
                if not report.done:
                    ask(shard)
                    continue
                failed.update(report.failed)
                _kill(ray, shard.handle)  # its CPUs go to a shard still waiting for them
                shard.handle = None
    finally:
        for future in pending:
            future.cancel()
        for shard in shards:
            if shard.handle is not None:
                _kill(ray, shard.handle)
    _total(shards, stats)
    return RayOutcome(stopped, _merge_endpoints(shards), count)


async def _take(handle: Any, delay: float) -> _Report:
    """The shard's next report (asked for after ``delay`` seconds)."""
    if delay:
        await asyncio.sleep(delay)
    report: _Report = await asyncio.wrap_future(handle.take.remote().future())
    return report


class _Never(Exception):
    """Matches no error (a Ray without ``ActorUnavailableError``)."""


_PATIENCE = 3
"""Times in a row an unreachable actor is asked again (1, 2, 3 s apart) before it is
taken for dead and replaced."""


def _unavailable(ray: Any) -> type[BaseException]:
    """Ray's error for an actor it cannot reach for now (none in older Rays)."""
    error: type[BaseException] = getattr(ray.exceptions, "ActorUnavailableError", _Never)
    return error


def _kill(ray: Any, handle: Any) -> None:
    """Kill an actor for good (Ray must not restart it); one already gone is fine."""
    try:
        ray.kill(handle, no_restart=True)
    except Exception:  # noqa: BLE001 - gone, or its node is: nothing left to stop
        pass


def _portable(config: ExperimentConfig) -> dict[str, Any]:
    """The config as JSON, its relative file paths made absolute.

    An actor on another node has another working folder: preset cards, protocol files,
    plug-ins and role cards must be named so that it finds them (on shared storage).
    Rows given in Python travel as their record (kind, count, hash): an actor never reads
    the dataset, the driver sends it its questions (``ShardRunner.start``).
    """
    from debate.experiment.binding import split_bindings
    from debate.experiment.plugins import split_file_ref

    def absolute(value: str) -> str:
        path = Path(value)
        return str(path.resolve()) if not path.is_absolute() and path.exists() else value

    # only what was set: a value left at its default means "not given" on the shard too
    # (a preset's per-role temperatures, an in-process model without a retry timeout)
    data: dict[str, Any] = config.model_dump(mode="json", exclude_unset=True)
    split = split_file_ref(config.protocol)
    data["protocol"] = (f"{absolute(split[0])}:{split[1]}" if split
                        else absolute(config.protocol))
    data["plugins"] = [absolute(p) for p in data.get("plugins", [])]
    roles = []
    for role in data.get("roles", []):
        positional, named = split_bindings([role])
        roles.extend([f"{k}={absolute(v)}" for k, v in named.items()] or
                     [absolute(positional[0])])
    data["roles"] = roles
    return data


def _kill_leftovers(ray: Any, run_key: str) -> None:
    """Kill this run's actors a killed driver left on a cluster that outlived it."""
    for actor in ray.util.list_named_actors(all_namespaces=True):
        if actor["namespace"] == NAMESPACE and actor["name"].startswith(f"{run_key}-shard-"):
            try:
                _kill(ray, ray.get_actor(actor["name"], namespace=NAMESPACE))
            except ValueError:  # gone meanwhile
                pass


def _add(a: CallStats, b: CallStats) -> CallStats:
    total = CallStats()
    for f in fields(CallStats):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, dict):
            setattr(total, f.name, {k: x.get(k, 0) + y.get(k, 0) for k in {*x, *y}})
        else:
            setattr(total, f.name, x + y)
    return total


def _total(shards: Sequence[_Shard], stats: CallStats) -> None:
    """Set ``stats`` to the sum over every shard (dead incarnations included)."""
    total = CallStats()
    for shard in shards:
        total = _add(total, _add(shard.base, shard.last))
    for f in fields(CallStats):
        setattr(stats, f.name, getattr(total, f.name))


def _merge_endpoints(shards: Sequence[_Shard]) -> dict[str, list[EndpointReport]]:
    """Each pool's replicas over every shard and every actor a shard had.

    Counts add up. Seconds out of rotation add up over one shard's actors (one after
    the other) and are the longest of the shards (each judges a replica's health on
    its own, over the same wall time). Whether a replica is in rotation at the end is
    what the shard that reported last saw.
    """
    per_shard: list[tuple[float, dict[str, dict[str, EndpointReport]]]] = []
    for shard in shards:
        mine: dict[str, dict[str, EndpointReport]] = {}
        for incarnation in shard.endpoints:
            for model, reports in incarnation.items():
                by_url = mine.setdefault(model, {})
                for r in reports:
                    seen = by_url.get(r.url)
                    by_url[r.url] = r.model_copy() if seen is None else r.model_copy(update={
                        **_counts(seen, r),
                        "out_of_rotation": seen.out_of_rotation + r.out_of_rotation})
        per_shard.append((shard.reported_at, mine))
    merged: dict[str, dict[str, EndpointReport]] = {}
    for _, mine in sorted(per_shard, key=lambda pair: pair[0]):  # the last report last
        for model, by_url in mine.items():
            into = merged.setdefault(model, {})
            for url, r in by_url.items():
                seen = into.get(url)
                into[url] = r.model_copy() if seen is None else r.model_copy(update={
                    **_counts(seen, r),
                    "out_of_rotation": max(seen.out_of_rotation, r.out_of_rotation)})
    return {model: list(by_url.values()) for model, by_url in merged.items()}


def _counts(a: EndpointReport, b: EndpointReport) -> dict[str, int]:
    return {"calls": a.calls + b.calls, "errors": a.errors + b.errors,
            "failovers": a.failovers + b.failovers, "ejections": a.ejections + b.ejections}


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise MissingDependencyError(
            "executor 'ray' needs Ray: pip install 'debatelab[ray]'") from None
    return ray


def check_ray_config(config: ExperimentConfig, graph_config: Any) -> None:
    """Refuse what a Ray run cannot do, before anything starts."""
    if graph_config is not None:
        raise ConfigError("graph_config (LangGraph callbacks) cannot travel to Ray actors; "
                          "run without executor 'ray' to trace debates")
    _import_ray()

