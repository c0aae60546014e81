"""The experiment runner: debates over a dataset, concurrently, resumably.

A run lives in ``<output_dir>/<name>/``::

    config.json     the resolved config (no secrets) and its identity hash
    traces.jsonl    one finished debate per line, flushed as each finishes
    cache.sqlite    every model response, keyed by call (and sampler: the agent)
    summary.json    metrics; report.md the same for people, with accuracy.svg
    results.csv     one row per debate summary.json counts (resumes included), and one
                    per failed debate, at the end

Re-running the same command skips finished debates and replays the cached
calls of unfinished ones, so a killed run loses nothing and pays for nothing
twice. A failure every call would meet (a refused key, an unknown model, an
endpoint that cannot be reached; :func:`debate.errors.stops_run`) stops the run
with one message naming the endpoint and status, and keeps what finished. A
debate that fails otherwise (a call still failing after every retry, a prompt
over the context window, a reply that breaks a protocol step) fails alone: the
others go on, it is listed with its error in the summary and ``results.csv``,
the summary's ``accuracy_bound`` counts it as wrong, and the next run retries it.

What a runner builds it closes: models made from spec strings (their HTTP
sessions) and the run's response cache are closed when the run ends, however
it ends. Model objects a caller passes in stay open: the caller owns them.
Nothing here changes process-wide state such as the garbage collector's
settings; :func:`batch_gc` is an opt-in for scripts (the CLI uses it).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from debate.binding import build_agents
from debate.config import ExperimentConfig
from debate.datasets import read_dataset
from debate.errors import ConfigError, hide_password, register_secret
from debate.files import read_json_model, read_run_record
from debate.identity import Fingerprint, changes, fingerprint
from debate.metrics import Summary, Tally, load_run_summary
from debate.models.accounting import PriceTable
from debate.models.cache import ResponseCache
from debate.models.middleware import CallStats, wrap
from debate.models.pool import EndpointReport
from debate.models.spec import create_backend
from debate.models.types import ChatModel, SamplingParams
from debate.protocols.base import DebateProtocol, create_protocol
from debate.report import write_report
from debate.results import ResultRow, failed_row, result_row, write_results, write_text_atomic
from debate.sampling import Sampling
from debate.settings import check_settings, validated
from debate.shard import Models, agents_for, close_all, close_run, run_cache, run_questions
from debate.trace import DebateTrace, Question, TraceWriter, read_traces

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig

__all__ = ["arun_experiment", "batch_gc", "build_agents", "load_run_summary", "run_debate",
           "run_experiment"]


async def run_debate(
    question: Question | str,
    *,
    protocol: str | DebateProtocol = "du",
    models: ChatModel | str | Sequence[ChatModel | str] | Mapping[str, ChatModel | str] = (
        "llamacpp:smollm2"),
    roles: Sequence[str] = (),
    params: SamplingParams | None = None,
    sampling: Mapping[str, Sampling | Mapping[str, Any]] | None = None,
    seed: int | None = 0,
    strict_parsing: bool = False,
    graph_config: RunnableConfig | None = None,
    **options: Any,
) -> DebateTrace:
    """Run one debate and return its trace.

    Models given as spec strings are built for this debate and closed when it
    ends (with the default middleware: limits, retries; no cache). Model objects
    are used as they are and left open: they belong to the caller, who closes
    them (``async with model:`` or ``await model.aclose()``), typically after
    the last of the debates that share them and before the event loop ends.

    Args:
        question: a :class:`Question`, or plain text (scored as ``exact``, no gold).
        protocol: a registered name (options go in ``**options``) or a protocol object.
        models: one model (object or spec string) for every agent, one per agent, or a
            mapping from agent name or role to model (``{"debater": m, "judge": j}``).
        roles: role card paths, once or per agent.
        params: sampling parameters of every agent.
        sampling: sampling per agent name or role over ``params``
            (``{"judge": {"temperature": 0}, "debater": Sampling(temperature=0.7)}``;
            see :mod:`debate.sampling`); a key naming no agent or role is an error.
        seed: base seed (agent i uses ``seed + i``); ``None`` leaves seeds unset.
        strict_parsing: count only explicitly given answers (a boxed answer, "Answer:",
            a JSON field); a fallback-parsed answer becomes ``None``.
        graph_config: a LangGraph config (``{"callbacks": [handler]}``, tags, metadata);
            the debate then runs on LangGraph's runtime, which honours it.
        **options: protocol options (``rounds=1``, ``agents=5``...) for a protocol given by name.

    """
    if isinstance(question, str):
        question = Question(id="question", text=question)
    layers = [("sampling", {key: validated(Sampling, item, f"sampling.{key}")
                            for key, item in (sampling or {}).items()})]
    proto = protocol if isinstance(protocol, DebateProtocol) else create_protocol(protocol,
                                                                                 **options)
    stats = CallStats()
    built: dict[str, ChatModel] = {}

    def model(item: ChatModel | str) -> ChatModel:
        if not isinstance(item, str):
            return item
        if item not in built:
            built[item] = wrap(create_backend(item), stats=stats)
        return built[item]

    try:
        if isinstance(models, Mapping):
            agents = build_agents(proto, [], roles, params, seed,
                                  named_models={key: model(m) for key, m in models.items()},
                                  strict_parsing=strict_parsing, sampling=layers)
        else:
            listed = [models] if isinstance(models, str | ChatModel) else list(models)
            agents = build_agents(proto, [model(m) for m in listed], roles, params, seed,
                                  strict_parsing=strict_parsing, sampling=layers)
        proto.check_questions([question])
        return await proto.run(question, agents, graph_config=graph_config)
    finally:
        await close_all(built.values())


_SECRET_NAME = re.compile(r"(^|_)(key|token|secret|password|authorization|credentials?)$", re.I)


def _without_secrets(data: Any) -> Any:
    """``data`` with every secret-named key's value (``api_key``, ``token``...) redacted.

    The password of every URL in it is shown as ``***`` too (``http://user:***@host``).
    Each such value is also registered with :func:`debate.errors.register_secret`, so an
    error text that quotes it is redacted too.
    """
    if isinstance(data, dict):
        cleaned: dict[str, Any] = {}
        for key, value in data.items():
            if isinstance(value, str) and _SECRET_NAME.search(str(key)):
                register_secret(value)
                cleaned[key] = "[redacted]"
            else:
                cleaned[key] = _without_secrets(value)
        return cleaned
    if isinstance(data, list):
        return [_without_secrets(item) for item in data]
    if isinstance(data, str):
        return hide_password(data)
    return data


def _record_run(run_dir: Path, config: ExperimentConfig, fp: Fingerprint, force: bool,
                console: Console) -> None:
    """Write ``config.json``; refuse (or, with ``force``, record) a change of experiment."""
    path = run_dir / "config.json"
    forced: list[dict[str, Any]] = []
    stored = read_run_record(run_dir)
    if stored is not None:
        forced = stored.forced
        if stored.identity != fp.identity:
            changed = changes(stored.fingerprint, fp.components)
            listed = "\n".join(f"  - {line}" for line in changed)
            if not force:
                raise ConfigError(
                    f"{run_dir} holds a run of a different experiment; what changed:\n{listed}\n"
                    "Start a new run with --name NEW_NAME, or continue this one knowingly with "
                    "--force (its finished debates stay as they were made).")
            console.print(f"[yellow]--force:[/yellow] continuing {run_dir} with a changed "
                          f"experiment:\n{listed}", highlight=False)
            forced.append({"at": datetime.now(UTC).isoformat(), "from": stored.identity,
                           "to": fp.identity, "changed": changed})
    record: dict[str, Any] = {"identity": fp.identity, "fingerprint": fp.components,
                              "config": _without_secrets(config.model_dump(mode="json"))}
    if forced:
        record["forced"] = forced
    write_text_atomic(path, json.dumps(record, indent=2))  # a kill never leaves half of it


async def arun_experiment(config: ExperimentConfig, *, progress: bool = True,
                          console: Console | None = None, force: bool = False,
                          graph_config: RunnableConfig | None = None) -> Summary:
    """Run (or resume) an experiment; return its summary (also written to the run folder).

    Re-running a changed experiment in the same run folder is refused with what
    changed, unless ``force`` (recorded in ``config.json``). ``graph_config``
    (callbacks, tags...) goes to every debate's LangGraph run, as in :func:`run_debate`.
    The models the
    config names and the run's response cache are built here and closed before
    this returns or raises. The garbage collector is left as it is: wrap the
    call in :func:`batch_gc` to tune it for the run.
    """
    console = console or Console(stderr=True)
    check_settings(config)  # what model_copy(update=...) or model_construct let through
    proto_cls, options = config.resolve_protocol()
    protocol = proto_cls(**options)
    dataset = read_dataset(config.dataset.source(), task=config.dataset.task,
                           fields=config.dataset.fields, limit=config.limit,
                           partial_gold=config.dataset.partial_gold,
                           numeric_tolerance=config.dataset.numeric_tolerance)
    questions = dataset.questions
    protocol.check_questions(questions)
    fp = fingerprint(config, protocol)
    stats = CallStats()
    models = Models()
    cache: ResponseCache | None = None
    failed: dict[str, str] = {}
    stopped: str | None = None
    previous: Summary | None = None  # the last invocation's summary.json
    endpoints: dict[str, list[EndpointReport]] = {}
    batches: int | None = None
    lock = _RunLock()
    try:
        try:
            # models and agents before the run folder: a missing key or a bad card leaves no folder
            models.build(config, stats)
            agents = agents_for(config, protocol, models)
            if config.executor == "ray":
                from debate.distributed import check_ray_config, run_on_ray

                check_ray_config(config, graph_config)
            from debate.protocols.executor import langgraph_reason, settled_runtime

            # once for every debate (a bad value stops here)
            runtime = langgraph_reason(graph_config)
            run_dir = Path(config.output_dir) / config.run_name(fp.identity)
            run_dir.mkdir(parents=True, exist_ok=True)
            lock.acquire(run_dir)  # before anything in the folder is read or written
            _record_run(run_dir, config, fp, force, console)
            traces_path = run_dir / "traces.jsonl"
            wanted = {q.id for q in questions}
            prices = PriceTable(config.prices, batch_discount=config.batch_options.discount)
            tally = Tally(prices)
            rows: dict[str, ResultRow] = {}  # question id -> the row of the debate counted
            by_id = {q.id: q for q in questions}
            rescored: list[str] = []  # finished debates whose question now reads otherwise
            for finished in read_traces(traces_path):  # one pass: what to skip, its metrics
                qid = finished.question.id
                if qid in wanted and qid not in rows:  # what summary.json counts, and no more
                    change = _scoring_change(finished.question, by_id[qid])
                    if change is not None:
                        rescored.append(f"{qid}: {change}")
                    rows[qid] = result_row(finished, prices, tally.add(finished))
            if rescored:
                _mixed_scoring(run_dir, rescored, force, console)
            todo = [q for q in questions if q.id not in rows]
            # debates that failed last time go last: the others are not kept behind them
            previous = _previous_summary(run_dir / "summary.json", console)  # read once
            before_failed = set(previous.failed) if previous is not None else set()
            todo.sort(key=lambda q: q.id in before_failed)

            # a Ray driver makes no call: each shard has its cache file
            cache = run_cache(run_dir) if config.cache and config.executor == "local" else None
            models.use_cache(cache)
            if config.batch:  # batches already submitted (by a killed run) are waited for
                from debate.models.batch import BatchJournal

                models.use_journal(BatchJournal(run_dir / "batches.jsonl"))
            elif todo and (run_dir / "batches.jsonl").exists():
                console.print(
                    f"[yellow]warning:[/yellow] {run_dir / 'batches.jsonl'} lists batches an "
                    "earlier batch run submitted; calls of theirs not yet in the cache are "
                    "paid for again by this synchronous run. Re-run with --batch (batch: "
                    "true) to collect them instead.")
            start = time.perf_counter()
            bar = Progress(TextColumn("[bold]debates"), BarColumn(), MofNCompleteColumn(),
                           TimeElapsedColumn(), TextColumn("{task.fields[info]}"),
                           console=console, disable=not progress)
            task = bar.add_task("debates", total=len(questions), completed=len(rows), info="")

            with bar, TraceWriter(traces_path) as writer, settled_runtime(runtime):
                def info() -> str:
                    acc = tally.headline()
                    if config.batch:
                        return f"{acc} · " + models.batch_progress(
                            stats, config.batch_options.discount)
                    elapsed = max(time.perf_counter() - start, 1e-9)
                    return (f"{acc} · {stats.prompt_tokens + stats.completion_tokens} tok · "
                            f"{stats.calls / elapsed:.1f} calls/s")

                def finished_one(trace: DebateTrace, line: bytes | None = None) -> None:
                    writer.write(trace, line)
                    scored = tally.add(trace)
                    if trace.question.id not in rows:
                        rows[trace.question.id] = result_row(trace, prices, scored)
                    bar.update(task, advance=1, info=info())

                async def tick() -> None:  # a batch run finishes debates only at its end
                    while True:
                        await asyncio.sleep(0.5)
                        bar.update(task, info=info())

                ticker = asyncio.ensure_future(tick()) if config.batch and progress else None

                try:
                    if config.executor == "ray":
                        outcome = await run_on_ray(config, todo, run_dir=run_dir,
                                                   identity=fp.identity[:8], on_trace=finished_one,
                                                   failed=failed, stats=stats,
                                                   retried=before_failed)
                        stopped, endpoints = outcome.stopped, outcome.endpoints
                    else:
                        # a batch carries one step of every unfinished debate: all of them at once
                        concurrency = max(config.concurrency, len(todo)) if config.batch else (
                            config.concurrency)
                        stopped = await run_questions(
                            protocol, agents, todo, identity=fp.identity[:8],
                            concurrency=concurrency, on_trace=finished_one, failed=failed,
                            graph_config=graph_config, stats=stats, retried=before_failed)
                        endpoints = models.endpoint_reports()
                        batches = models.batches() if config.batch else None
                finally:
                    if ticker is not None:
                        ticker.cancel()
        finally:
            await close_run(models, cache)
        wall = time.perf_counter() - start
        before = _previous_totals(previous)
        summary = tally.summary()
        run_models = summary.models or list(dict.fromkeys(a.model.name for a in agents))
        for qid, error in failed.items():  # a row each, counted wrong where scored
            rows[qid] = failed_row(by_id[qid], protocol.name, run_models, error)
        summary = summary.model_copy(update={
            # what ran, also when no debate finished (a run stopped as it started)
            "protocol": summary.protocol or protocol.name,
            "models": run_models,
            "run": str(run_dir), "questions": len(questions), "wall_time": wall,
            "requests": stats.requests, "retries": stats.retries, "errors": stats.errors,
            "failed": failed, "stopped": stopped,
            "failed_scored": sum(by_id[qid].gold is not None for qid in failed),
            "task": dataset.task, "task_source": dataset.task_source,
            "invocations": before[0] + 1, "total_wall_time": before[1] + wall,
            "total_requests": before[2] + stats.requests,
            "endpoints": endpoints, "batches": batches,
        })
        (run_dir / "summary.json").write_text(summary.model_dump_json(indent=2), encoding="utf-8")
        write_report(run_dir, summary)
        write_results(run_dir / "results.csv", rows.values())
        return summary
    finally:
        lock.release()  # after summary.json: the next run reads this one's totals


class _RunLock:
    """An exclusive lock on a run folder, held while a run uses it (``.lock`` inside).

    Two processes running into one folder would interleave their traces, share one
    cache and overwrite each other's summary; the second is refused with the first's
    pid instead. The operating system drops the lock when its process dies, so a
    killed run never leaves a stale lock. (Windows has no ``fcntl``: no lock there.)
    """

    def __init__(self) -> None:
        self._file: Any = None

    def acquire(self, run_dir: Path) -> None:
        try:
            import fcntl
        except ImportError:  # Windows
            return
        path = run_dir / ".lock"
        file = path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            file.seek(0)
            holder = file.read().strip() or "unknown"
            file.close()
            raise ConfigError(f"run folder {run_dir} is in use by another run (pid {holder}); "
                              "wait for it to finish, or give this run another --name") from None
        file.seek(0)
        file.truncate()
        file.write(f"{os.getpid()}\n")
        file.flush()
        self._file = file

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the file releases the lock
            self._file = None


def _scoring_change(then: Question, now: Question) -> str | None:
    """How a finished debate's question was scored otherwise than it reads now, if it was."""
    was = (then.task, then.gold, then.numeric_tolerance, then.choices)
    is_ = (now.task, now.gold, now.numeric_tolerance, now.choices)
    if was == is_:
        return None
    names = ("task", "gold", "numeric_tolerance", "choices")
    return ", ".join(f"{name} {a!r} -> {b!r}" for name, a, b in zip(names, was, is_, strict=True)
                     if a != b)


def _mixed_scoring(run_dir: Path, rescored: list[str], force: bool, console: Console) -> None:
    """Refuse (or, with ``force``, warn of) a run that would score its debates two ways."""
    shown = "\n".join(f"  - {line}" for line in rescored[:5])
    more = f"\n  ... and {len(rescored) - 5} more" if len(rescored) > 5 else ""
    text = (f"{run_dir}: {len(rescored)} finished debates were scored as their questions no "
            f"longer read (the dataset, or how debatelab reads it, changed):\n{shown}{more}\n")
    if not force:
        raise ConfigError(text + "Set dataset.task to what they were scored as, start a new run "
                          "with --name NEW_NAME, or continue knowingly with --force (each "
                          "finished debate keeps its own scoring).")
    console.print(f"[yellow]--force:[/yellow] {escape(text)}each finished debate keeps its "
                  "own scoring", highlight=False)


def _previous_summary(path: Path, console: Console) -> Summary | None:
    """The summary the run's last invocation wrote (``None``: none, or unreadable, warned)."""
    if not path.exists():
        return None
    try:
        return read_json_model(path, Summary, "run summary", "it is written anew")
    except ConfigError as exc:  # the debates are done: count again rather than fail the run
        console.print(f"[yellow]warning:[/yellow] {escape(str(exc))}; the totals of earlier "
                      "invocations start again from this one", highlight=False)
        return None


def _previous_totals(previous: Summary | None) -> tuple[int, float, int]:
    """(invocations, seconds, requests) of the run's earlier invocations, from its summary."""
    if previous is None:
        return 0, 0.0, 0
    if previous.invocations is None:  # written before totals were kept: its last invocation
        return 1, previous.wall_time or 0.0, previous.requests or 0
    return (previous.invocations, previous.total_wall_time or 0.0,
            previous.total_requests or 0)


class _BatchGC:
    """Tune Python's cyclic garbage collector for a batch of debates; restore it after.

    Opt-in, as ``with batch_gc(): ...`` around a run; the CLI does this, the
    library never does it by itself (the collector's settings are the whole
    process's). Nearly everything a debate allocates is freed by reference
    counting, yet at the default thresholds the collector kept rescanning the
    ~100 000 objects that imports leave behind (60 ms a full pass) and took a
    third of the CPU of a zero-latency run. Inside, objects alive at the start
    are frozen (never scanned; unless the caller had frozen objects already, which
    stay as they were) and young objects are collected every 50 000 allocations.
    Nested or concurrent uses: the first to enter tunes, the last to leave restores.
    """

    def __init__(self) -> None:
        self.runs = 0
        self.saved = gc.get_threshold()
        self.froze = False

    @contextmanager
    def __call__(self) -> Iterator[None]:
        if self.runs == 0:
            self.saved = gc.get_threshold()
            self.froze = gc.get_freeze_count() == 0
            if self.froze:
                gc.freeze()
            gc.set_threshold(50_000, 20, 20)
        self.runs += 1
        try:
            yield
        finally:
            self.runs -= 1
            if self.runs == 0:
                gc.set_threshold(*self.saved)
                if self.froze:
                    gc.unfreeze()


batch_gc = _BatchGC()
"""``with batch_gc(): ...``: the collector tuned for a batch run, restored after (opt-in)."""


def run_experiment(config: ExperimentConfig | str | Path, *, progress: bool = True,
                   force: bool = False, graph_config: RunnableConfig | None = None) -> Summary:
    """Run (or resume) an experiment from a config object or a YAML spec path.

    Synchronous :func:`arun_experiment` (in a new event loop): everything it
    builds is closed before it returns.
    """
    if not isinstance(config, ExperimentConfig):
        from debate.config import load_experiment

        config = load_experiment(config)
    return asyncio.run(arun_experiment(config, progress=progress, force=force,
                                       graph_config=graph_config))
