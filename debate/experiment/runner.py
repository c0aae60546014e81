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
settings; :func:`~debate.experiment.gc_tuning.batch_gc` is an opt-in for scripts (the CLI
uses it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from debate.analysis.metrics import Summary, Tally
from debate.analysis.report import write_report
from debate.analysis.results import ResultRow, failed_row, result_row, write_results
from debate.experiment.binding import build_agents
from debate.experiment.config import ExperimentConfig
from debate.experiment.identity import fingerprint
from debate.experiment.progress import PROGRESS_EVERY, RunProgress, check_progress_every
from debate.experiment.run_folder import (
    RunLock,
    previous_summary,
    previous_totals,
    record_run,
    refuse_mixed_scoring,
    scoring_change,
)
from debate.experiment.session import RunSession
from debate.experiment.shard import close_all
from debate.models.accounting import PriceTable
from debate.models.middleware import CallStats, wrap
from debate.models.pool import EndpointReport
from debate.models.spec import create_backend
from debate.models.types import ChatModel, SamplingParams
from debate.protocols.base import DebateProtocol, create_protocol
from debate.sampling import Sampling
from debate.settings import check_settings, validated
from debate.trace import DebateTrace, Question, TraceWriter, read_traces

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig

__all__ = ["arun_experiment", "run_debate", "run_experiment"]


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


async def arun_experiment(config: ExperimentConfig, *, progress: bool = True,
                          console: Console | None = None, force: bool = False,
                          graph_config: RunnableConfig | None = None,
                          progress_every: float = PROGRESS_EVERY) -> Summary:
    """Run (or resume) an experiment; return its summary (also written to the run folder).

    Re-running a changed experiment in the same run folder is refused with what
    changed, unless ``force`` (recorded in ``config.json``). ``graph_config``
    (callbacks, tags...) goes to every debate's LangGraph run, as in :func:`run_debate`.
    The models the config names and the run's response cache are built here (by a
    :class:`~debate.experiment.session.RunSession`) and closed before this returns
    or raises. The garbage collector is left as it is: wrap the call in
    :func:`~debate.experiment.gc_tuning.batch_gc` to tune it for the run.

    Progress goes to ``console`` (stderr by default; nothing if not ``progress``): a bar
    in a terminal, and without one (a log file) a plain line every ``progress_every``
    seconds (1 to 86400) and one at the end (:mod:`debate.experiment.progress`).
    """
    check_progress_every(progress_every)  # before anything is built
    console = console or Console(stderr=True)
    check_settings(config)  # what model_copy(update=...) or model_construct let through
    session = RunSession(config)  # the protocol, resolved once for the run
    protocol = session.protocol
    dataset = config.read_dataset()
    questions = dataset.questions
    protocol.check_questions(questions)
    fp = fingerprint(config, protocol)
    stats = session.stats
    failed: dict[str, str] = {}
    stopped: str | None = None
    previous: Summary | None = None  # the last invocation's summary.json
    endpoints: dict[str, list[EndpointReport]] = {}
    batches: int | None = None
    lock = RunLock()
    try:
        async with session:  # models, then the cache, closed however the run ends
            # models and agents before the run folder: a missing key or a bad card leaves no folder
            session.build()
            if config.executor == "ray":
                from debate.experiment.ray_executor import check_ray_config, run_on_ray

                check_ray_config(config, graph_config)
            from debate.protocols.runtime import langgraph_reason, settled_runtime

            # once for every debate (a bad value stops here)
            runtime = langgraph_reason(graph_config)
            run_dir = Path(config.output_dir) / config.run_name(fp.identity)
            run_dir.mkdir(parents=True, exist_ok=True)
            lock.acquire(run_dir)  # before anything in the folder is read or written
            record_run(run_dir, config, fp, force, console)
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
                    change = scoring_change(finished.question, by_id[qid])
                    if change is not None:
                        rescored.append(f"{qid}: {change}")
                    rows[qid] = result_row(finished, prices, tally.add(finished))
            if rescored:
                refuse_mixed_scoring(run_dir, rescored, force, console)
            todo = [q for q in questions if q.id not in rows]
            # debates that failed last time go last: the others are not kept behind them
            previous = previous_summary(run_dir / "summary.json", console)  # read once
            before_failed = set(previous.failed) if previous is not None else set()
            todo.sort(key=lambda q: q.id in before_failed)

            if config.cache and config.executor == "local":  # Ray: each shard has its own
                session.open_cache(run_dir)
            if config.batch:  # batches already submitted (by a killed run) are waited for
                from debate.models.batch import BatchJournal

                session.use_journal(BatchJournal(run_dir / "batches.jsonl"))
            elif todo and (run_dir / "batches.jsonl").exists():
                console.print(
                    f"[yellow]warning:[/yellow] {run_dir / 'batches.jsonl'} lists batches an "
                    "earlier batch run submitted; calls of theirs not yet in the cache are "
                    "paid for again by this synchronous run. Re-run with --batch (batch: "
                    "true) to collect them instead.")
            start = time.perf_counter()

            def batch_detail() -> str:
                return session.models.batch_progress(stats, config.batch_options.discount)

            shown = RunProgress(console, total=len(questions), done=len(rows), stats=stats,
                                headline=tally.headline, failed=failed, show=progress,
                                every=progress_every, tick=config.batch,
                                detail=batch_detail if config.batch else None)

            with shown, TraceWriter(traces_path) as writer, settled_runtime(runtime):
                def finished_one(trace: DebateTrace, line: bytes | None = None) -> None:
                    writer.write(trace, line)
                    scored = tally.add(trace)
                    if trace.question.id not in rows:
                        rows[trace.question.id] = result_row(trace, prices, scored)
                    shown.advance()

                if config.executor == "ray":
                    outcome = await run_on_ray(config, todo, run_dir=run_dir,
                                               identity=fp.identity[:8], on_trace=finished_one,
                                               failed=failed, stats=stats,
                                               retried=before_failed)
                    stopped, endpoints = outcome.stopped, outcome.endpoints
                else:
                    stopped = await session.debate(
                        todo, identity=fp.identity[:8], on_trace=finished_one,
                        failed=failed, graph_config=graph_config, retried=before_failed)
                    endpoints = session.models.endpoint_reports()
                    batches = session.models.batches() if config.batch else None
        wall = time.perf_counter() - start
        before = previous_totals(previous)
        summary = tally.summary()
        run_models = summary.models or list(dict.fromkeys(a.model.name for a in session.agents))
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
        # in dataset order (debates finish in any order): the viewer lists them so too
        write_results(run_dir / "results.csv", [rows[q.id] for q in questions if q.id in rows])
        return summary
    finally:
        lock.release()  # after summary.json: the next run reads this one's totals


def run_experiment(config: ExperimentConfig | str | Path, *, progress: bool = True,
                   force: bool = False, graph_config: RunnableConfig | None = None,
                   progress_every: float = PROGRESS_EVERY) -> Summary:
    """Run (or resume) an experiment from a config object or a YAML spec path.

    Synchronous :func:`arun_experiment` (in a new event loop): everything it
    builds is closed before it returns.
    """
    if not isinstance(config, ExperimentConfig):
        from debate.experiment.config import load_experiment

        config = load_experiment(config)
    return asyncio.run(arun_experiment(config, progress=progress, force=force,
                                       graph_config=graph_config,
                                       progress_every=progress_every))
