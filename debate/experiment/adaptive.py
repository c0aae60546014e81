"""Adaptive stopping as a run mode: the data set advances round by round until it is stable.

Hu et al. (2025), "Multi-Agent Debate for LLM Judges with Adaptive Stability Detection"
(arXiv 2510.12697; reference code ``tyrionhuu/Multi-LLM-Debate``): after each round, every
question's count of agents whose answer is correct is fitted with a two-component
Beta-Binomial mixture, and the debate of the *whole data set* stops once the
Kolmogorov-Smirnov distance between consecutive rounds' fits is below 0.05 twice in a row.
The test itself is :func:`debate.analysis.stability.adaptive_stop` (its sources are cited
there); this module only runs an experiment so that the test can stop it.

The test needs every question's gold answer and all questions at the same round, so one
debate cannot stop alone. :func:`arun_adaptive` therefore runs the experiment with the
protocol option ``rounds = r`` for r = 2, 3, ... ``max_rounds`` (rounds 0..r: the test
needs 3 answer rounds), each into its own run folder (the usual identity-named folder, or
``NAME-r{r}`` for a named experiment), and computes the test over each run's traces,
stopping as soon as it gives a stop round. Each answer round is paid for once: before every
run of round r, its folder gets ``cache-seed.sqlite``, a copy of round r-1's folder's caches
that the run reads but never writes (:mod:`debate.experiment.adaptive_cache`), and since a
call's cache key is its model, messages, sampling parameters (the sampler: the agent)
and position (question id, turn id ``r{round}/{agent}/{kind}``, repeat;
:func:`debate.models.cache.cache_key`, :class:`debate.agents.base.DebateScope`), none of
which depends on the ``rounds`` option in these protocols, rounds 0..r-1 replay from the
cache and only round r is new (a protocol that qualifies promises it:
:attr:`~debate.protocols.base.DebateProtocol.answers_every_round`; a run where an earlier
round was paid again says so: :attr:`RoundRun.replayed`). A final decision that asks a model
(an LLM judge, a vote), and summaries made for the new round, are paid in every run
(:attr:`RoundRun.other_calls_paid`). ``--force`` (``force``) applies to every round's folder.

The test's ``k`` (the most answers parsed in any round, its fits' number of trials:
:func:`~debate.analysis.stability.adaptive_stop`) is taken over the rounds run so far: a
later run whose last round parses more answers refits the earlier rounds with the larger
``k``, so their KS distances, and the stop, can differ from those the previous run had (and
from those of a fixed ``max_rounds`` run, whose ``k`` counts every round). Each run records
its ``k`` (:attr:`RoundRun.k`).

The outcome goes to ``<output_dir>/<experiment>.adaptive.json`` (:class:`AdaptiveRecord`),
written atomically after each round.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field
from rich.console import Console
from rich.markup import escape

from debate.analysis.results import write_text_atomic
from debate.errors import ConfigError, DebateError, MissingDependencyError
from debate.experiment.adaptive_cache import seed_cache, seed_round
from debate.experiment.config import ExperimentConfig
from debate.experiment.identity import fingerprint
from debate.experiment.progress import PROGRESS_EVERY
from debate.experiment.runner import arun_experiment
from debate.trace import DebateTrace, Question, read_traces

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig

    from debate.analysis.metrics import Summary
    from debate.analysis.stability import AdaptiveStop

__all__ = ["MIN_ROUNDS", "AdaptiveRecord", "RoundRun", "arun_adaptive",
           "check_adaptive", "record_path", "run_adaptive", "seed_cache"]

MIN_ROUNDS = 2
"""The fewest ``rounds`` a run of this mode has: rounds 0..2, the 3 answer rounds the test
needs (a distance between consecutive rounds, below the threshold twice in a row)."""


class RoundFitRecord(BaseModel):
    """One answer round of the last run's test, as :class:`~debate.analysis.stability.RoundFit`."""

    round: int
    counts: list[int]
    """``counts[s]``: questions with ``s`` answers equal to the gold."""
    ks: float | None
    """KS distance of this round's fitted Beta mixture to the previous round's."""
    majority_accuracy: float | None


class RoundRun(BaseModel):
    """One run of the mode: the experiment with ``rounds = r``, in its own folder."""

    rounds: int
    """The protocol's ``rounds`` option: answer rounds 0..rounds."""
    run: str
    """The run folder."""
    seeded_from: str | None = None
    """The folder whose ``cache*.sqlite`` this folder's ``cache-seed.sqlite`` was rebuilt from
    (``None``: not seeded: the first round, or a folder of another experiment)."""
    replayed: bool | None = None
    """Rounds 0..rounds-1 of every debate came from the previous run's cache (``None``: the
    first run, which has no previous run)."""
    why_not_replayed: str | None = None
    """Why ``replayed`` is false: the folder was not seeded, or answer calls of earlier rounds
    were not in the seed (their prompts depend on ``rounds``)."""
    k: int | None = None
    """The test's ``k`` over this run's rounds (the most answers parsed in any round)."""
    stop: int | None = None
    """The test's stop round over this run's traces (``None``: no stop yet)."""
    not_computed: str | None = None
    """Why the test could not be computed over this run, if it could not."""
    debates: int = 0
    failed: int = 0
    calls: int = 0
    """Model calls of the run's finished debates (cache hits included)."""
    calls_paid: int = 0
    """Of them, calls paid for in this folder: those of a round after the previous run's last
    (a call of a failed debate, replayed when it is resumed, included), and any other call
    the cache did not answer."""
    answer_calls: int = 0
    """Answer turns of the run's finished debates (every round)."""
    answer_calls_paid: int = 0
    """Of them, those paid for (as ``calls_paid``): round ``rounds``' alone when the earlier
    rounds replayed."""
    other_calls_paid: int = 0
    """``calls_paid`` less ``answer_calls_paid``: a final decision that asks a model (an LLM
    judge, votes), summaries: paid again in every run."""
    accuracy: float | None = None
    """The run's final accuracy (its summary's)."""


class AdaptiveRecord(BaseModel):
    """``<experiment>.adaptive.json``: where the data set stopped and what it cost."""

    experiment: str
    protocol: str
    max_rounds: int
    finished: bool = False
    """The mode ended (a stop, ``max_rounds`` reached, or a run that could not go on)."""
    stop_round: int | None = None
    """The round at which Hu et al.'s test stopped the data set (``None``: it did not)."""
    why_no_stop: str | None = None
    """Why ``stop_round`` is ``None``."""
    threshold: float = 0.05
    stability_rounds: int = 2
    runs: list[RoundRun] = Field(default_factory=list)
    ks: list[RoundFitRecord] = Field(default_factory=list)
    """The test of the last run, round by round (its KS distances)."""
    questions: int = 0
    """Questions tested (finished, with a gold answer)."""
    without_gold: int = 0
    """Finished debates left out of the test: no gold answer."""
    accuracy_at_stop: float | None = None
    """Majority-vote accuracy at ``stop_round`` (the test's)."""
    accuracy_at_max: float | None = None
    """Majority-vote accuracy at round ``max_rounds`` (``None``: not run, the data set
    stopped before it)."""
    calls_paid: int = 0
    """Model calls paid for over every run of the mode (all kinds)."""
    answer_calls_paid: int = 0
    """Answer calls paid for over every run of the mode."""
    other_calls_paid: int = 0
    """Calls other than answers (judges, votes, summaries) paid for over every run."""
    fixed_run_answer_calls: int | None = None
    """Answer calls a fixed ``rounds = max_rounds`` run makes: exact when the mode reached
    ``max_rounds``; otherwise at most this many (every debate that had not ended before
    its run's last round answering up to ``max_rounds``, as without a consensus stop)."""
    fixed_run_answer_calls_exact: bool = False

    def summary_line(self) -> str:
        """The outcome in one line, for the terminal."""
        head = "adaptive stopping (Hu et al. 2025): "
        if self.stop_round is not None:
            where = (f"stopped at round {self.stop_round} (max {self.max_rounds}); "
                     f"majority-vote accuracy {_pct(self.accuracy_at_stop)} there")
        else:
            where = f"no stop ({self.why_no_stop})"
            if self.accuracy_at_max is not None:
                where += f"; majority-vote accuracy {_pct(self.accuracy_at_max)} at round " \
                         f"{self.max_rounds}"
        bound = "the" if self.fixed_run_answer_calls_exact else "at most"
        fixed = ("" if self.fixed_run_answer_calls is None else
                 f" of {bound} {self.fixed_run_answer_calls} a fixed {self.max_rounds}-round"
                 " run makes")
        other = ("" if not self.other_calls_paid else
                 f"; {self.other_calls_paid} other calls paid (a judge, votes, summaries: "
                 "each run pays its own)")
        return (f"{head}{where}; {self.answer_calls_paid} answer calls paid{fixed}{other} "
                f"({len(self.runs)} run folder{'s' * (len(self.runs) != 1)})")


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def check_adaptive(config: ExperimentConfig, max_rounds: int) -> str:
    """Refuse what this mode cannot run, before anything is paid; the protocol's name.

    See :func:`_check`.
    """
    return _check(config, max_rounds)[0]


def _check(config: ExperimentConfig, max_rounds: int) -> tuple[str, dict[str, Question]]:
    """Refuse what this mode cannot run; the protocol's name and the questions by id.

    A :class:`ConfigError` names why: ``max_rounds`` under :data:`MIN_ROUNDS`, rounds set by
    the experiment itself (they would be replaced), a protocol
    whose rounds are not rounds in which every agent answers
    (:attr:`~debate.protocols.base.DebateProtocol.answers_every_round`: du, du-sparse,
    reconcile; not mad, critique-refine, sr-dcr, the oversight protocols), fewer than two
    answering agents, no response cache, no gold answer in the data set. Without scipy (the
    fit's), a :class:`MissingDependencyError`.
    """
    if max_rounds < MIN_ROUNDS:
        raise ConfigError(f"adaptive stopping: max_rounds is {max_rounds}; it is at least "
                          f"{MIN_ROUNDS} (rounds 0..2: the test of Hu et al. compares 3 answer "
                          "rounds)")
    given = config.rounds if config.rounds is not None else config.protocol_options.get("rounds")
    if given is not None:  # a preset's rounds is its default; the spec's own would be lost
        raise ConfigError(f"adaptive stopping runs rounds 2..{max_rounds} itself, and the "
                          f"experiment sets rounds {given}: remove it (rounds or "
                          "protocol_options.rounds), or run without adaptive stopping")
    cls, options = config.resolve_protocol()
    if "rounds" not in cls.config_class.model_fields:
        why = "it has no rounds option"
    elif not cls.answers_every_round:
        why = f"its rounds are not rounds in which every agent answers ({cls.rounds_meaning})"
    else:
        why = None
    if why is not None:
        raise ConfigError(f"adaptive stopping runs protocols whose every agent answers each "
                          f"round (du, du-sparse, reconcile); protocol "
                          f"{cls.name!r} does not qualify: {why}")
    protocol = cls(**{**options, "rounds": MIN_ROUNDS})
    answering = [n for n in protocol.agent_names() if n != "judge"]
    if len(answering) < 2:
        raise ConfigError(f"adaptive stopping counts the correct answers of several agents per "
                          f"question; protocol {cls.name!r} has {len(answering)} agent")
    if not config.cache:
        raise ConfigError("adaptive stopping replays rounds 0..r-1 from the previous round's "
                          "response cache: it needs cache: true (no --no-cache)")
    from debate.analysis.stability import SCIPY_MISSING

    try:
        import scipy  # noqa: F401  (the fit's; checked before anything is paid)
    except ImportError:
        raise MissingDependencyError(SCIPY_MISSING) from None
    questions = {q.id: q for q in config.read_dataset().questions}
    if not any(q.gold is not None for q in questions.values()):
        raise ConfigError(f"adaptive stopping needs gold answers: none of the {len(questions)} "
                          "questions has one (the test counts the agents whose answer equals "
                          "the gold)")
    return cls.name, questions


def round_config(config: ExperimentConfig, rounds: int) -> ExperimentConfig:
    """``config`` with the protocol's ``rounds`` set (a named experiment: ``NAME-r{rounds}``).

    An unnamed experiment's folder is named by its identity, which the ``rounds`` option
    changes (:meth:`ExperimentConfig.run_name`), so every round has its own folder either way.
    """
    update: dict[str, object] = {"rounds": rounds}
    if config.name:
        update["name"] = f"{config.name}-r{rounds}"
    return config.model_copy(update=update)


def run_folder(config: ExperimentConfig, identity: str | None = None) -> Path:
    """The run folder :func:`~debate.experiment.runner.arun_experiment` uses for ``config``.

    ``identity``: ``config``'s (:func:`~debate.experiment.identity.fingerprint`), if known.
    """
    identity = identity or fingerprint(config).identity
    return Path(config.output_dir) / config.run_name(identity)


def record_path(output_dir: str | Path, experiment: str) -> Path:
    """Where the mode writes ``experiment``'s :class:`AdaptiveRecord`."""
    return Path(output_dir) / f"{experiment}.adaptive.json"


def _run_traces(run_dir: Path, wanted: set[str]) -> list[DebateTrace]:
    """The debates the run's summary counts: the first trace of each of the run's questions."""
    seen: dict[str, DebateTrace] = {}
    for trace in read_traces(run_dir / "traces.jsonl"):
        if trace.question.id in wanted and trace.question.id not in seen:
            seen[trace.question.id] = trace
    return list(seen.values())


def _fixed_run_answers(traces: list[DebateTrace], rounds: int, max_rounds: int) -> int:
    """Answer calls of a ``rounds = max_rounds`` run, from a ``rounds`` run's debates.

    A debate that ended before its last round (a consensus stop) ends there in the longer
    run too (the same calls); one that ran to ``max_rounds`` answers its last round's
    number of times in each further round.
    """
    total = 0
    for trace in traces:
        answer_rounds = trace.rounds()
        total += sum(len(r) for r in answer_rounds)
        if trace.stop_reason == "max_rounds" and answer_rounds:
            total += len(answer_rounds[-1]) * (max_rounds - rounds)
    return total


def _account(entry: RoundRun, summary: Summary, traces: list[DebateTrace],
             before: int) -> None:
    """Count the run's calls; ``before``: the previous run's rounds (-1: none).

    A call is paid for in this folder if its round is after ``before`` (the previous run's
    cache cannot hold it, so a call the trace marks cached was paid by a failed attempt of
    its debate, replayed on resume) or the cache did not answer it.
    """
    entry.debates, entry.failed = summary.debates, len(summary.failed)
    turns = [t for trace in traces for t in trace.turns]
    answers = [t for trace in traces for r in trace.rounds() for t in r]
    entry.calls, entry.answer_calls = len(turns), len(answers)
    entry.calls_paid = sum(t.round > before or not t.cached for t in turns)
    entry.answer_calls_paid = sum(t.round > before or not t.cached for t in answers)
    entry.other_calls_paid = entry.calls_paid - entry.answer_calls_paid
    entry.accuracy = summary.accuracy


def _check_replay(entry: RoundRun, traces: list[DebateTrace], console: Console) -> None:
    """After a seeded run: were rounds 0..rounds-1 all replayed? Warn if not."""
    if entry.why_not_replayed is None:
        again = sum(not t.cached for trace in traces for r in trace.rounds() for t in r
                    if t.round < entry.rounds)
        if again:
            entry.why_not_replayed = (
                f"{again} answer call(s) of rounds 0..{entry.rounds - 1} were paid in this "
                "folder, not replayed from the seed (a run without the seed, e.g. under "
                "--force, or prompts that depend on rounds)")
    entry.replayed = entry.why_not_replayed is None
    if not entry.replayed:
        console.print(f"[yellow]warning:[/yellow] adaptive stopping, the run with rounds="
                      f"{entry.rounds} did not replay the rounds before: "
                      f"{escape(entry.why_not_replayed or '')}")


def _record_test(record: AdaptiveRecord, result: AdaptiveStop) -> None:
    record.ks = [RoundFitRecord(round=f.round, counts=list(f.counts), ks=f.ks,
                                majority_accuracy=f.majority_accuracy) for f in result.rounds]
    record.questions, record.without_gold = result.questions, result.without_gold
    record.threshold, record.stability_rounds = result.threshold, result.stability_rounds
    record.stop_round = result.stop
    record.accuracy_at_stop = result.accuracy_at_stop


async def arun_adaptive(config: ExperimentConfig, max_rounds: int, *, progress: bool = True,
                        console: Console | None = None, force: bool = False,
                        graph_config: RunnableConfig | None = None,
                        progress_every: float = PROGRESS_EVERY,
                        echo: bool = True) -> AdaptiveRecord:
    """Run ``config`` round by round until Hu et al.'s test stops it, or to ``max_rounds``.

    For r = 2..``max_rounds``: ``config`` with ``rounds = r`` (:func:`round_config`) runs
    (:func:`~debate.experiment.runner.arun_experiment`: resumable, as any run) into its
    folder, after that folder's ``cache-seed.sqlite`` is rebuilt from round r-1's caches
    (:func:`~debate.experiment.adaptive_cache.seed_round`; not into a folder of another
    experiment, which the run then refuses, unless ``force``); then
    :func:`~debate.analysis.stability.adaptive_stop` is computed over its traces, and the
    mode ends at the first run where it gives a stop round. It also ends, without a stop,
    when a run stopped, left debates unfinished or was refused (re-running the same call
    resumes; a refused seed, e.g. a folder another run holds, too), or when the test cannot
    be computed. A ``rounds`` the experiment sets is refused (:func:`check_adaptive`); a
    preset's is its default, and is replaced. ``force`` applies to every round's folder.

    The record (:class:`AdaptiveRecord`) is written to :func:`record_path`
    (``<output_dir>/<experiment>.adaptive.json``) when the mode starts (unfinished, with no
    run: a previous record is not left in place) and after each run; ``<experiment>`` is the
    config's name, or the name of the folder of a fixed ``max_rounds`` run (which may never
    be made). ``echo``: print its :meth:`~AdaptiveRecord.summary_line` to ``console`` at the
    end. The other arguments are :func:`arun_experiment`'s.
    """
    from debate.analysis.stability import adaptive_stop

    protocol, questions = _check(config, max_rounds)
    console = console or Console(stderr=True)
    wanted = set(questions)
    identities: dict[int, str] = {}  # each round's, computed once (it builds the protocol)

    def identity(rounds: int) -> str:
        if rounds not in identities:
            identities[rounds] = fingerprint(round_config(config, rounds)).identity
        return identities[rounds]

    experiment = config.name or round_config(config, max_rounds).run_name(identity(max_rounds))
    path = record_path(config.output_dir, experiment)
    record = AdaptiveRecord(experiment=experiment, protocol=protocol, max_rounds=max_rounds)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, record.model_dump_json(indent=2))  # not a previous run's, if stopped
    previous: Path | None = None
    traces: list[DebateTrace] = []
    complete = True  # the last run finished every debate
    for rounds in range(MIN_ROUNDS, max_rounds + 1):
        cfg = round_config(config, rounds)
        run_dir = run_folder(cfg, identity(rounds))
        entry = RoundRun(rounds=rounds, run=str(run_dir))
        try:
            if previous is not None:
                why = seed_round(previous, run_dir, identity(rounds), force=force)
                if why is None:
                    entry.seeded_from = str(previous)
                else:
                    entry.why_not_replayed = f"the folder was not seeded: {why}"
            summary = await arun_experiment(cfg, progress=progress, console=console,
                                            force=force, graph_config=graph_config,
                                            progress_every=progress_every)
        except DebateError as exc:  # refused (its seed, or the run): the record says so
            record.why_no_stop = f"the run with rounds={rounds} was refused: {exc}"
            record.finished = True
            write_text_atomic(path, record.model_dump_json(indent=2))
            raise
        traces = _run_traces(run_dir, wanted)
        _account(entry, summary, traces, rounds - 1 if previous is not None else -1)
        if previous is not None:
            _check_replay(entry, traces, console)
        record.runs.append(entry)
        record.calls_paid = sum(r.calls_paid for r in record.runs)
        record.answer_calls_paid = sum(r.answer_calls_paid for r in record.runs)
        record.other_calls_paid = sum(r.other_calls_paid for r in record.runs)
        if summary.stopped or summary.failed:
            record.why_no_stop = (f"the run with rounds={rounds} "
                                  + (f"stopped: {summary.stopped}" if summary.stopped else
                                     f"left {len(summary.failed)} debate(s) unfinished")
                                  + "; re-run the same command to resume")
            complete = False
            break
        result = adaptive_stop(traces)
        entry.stop, entry.not_computed = result.stop, result.not_computed
        entry.k = result.rounds[0].agents if result.rounds else None
        _record_test(record, result)
        if result.not_computed is not None:
            record.why_no_stop = f"the test was not computed: {result.not_computed}"
            break
        if rounds == max_rounds:
            record.accuracy_at_max = result.accuracy_last
        if result.stop is not None:
            break
        if rounds == max_rounds:
            record.why_no_stop = (f"no {result.stability_rounds} consecutive rounds with a KS "
                                  f"distance below {result.threshold:g} in rounds "
                                  f"0..{max_rounds}")
        previous = run_dir
        write_text_atomic(path, record.model_dump_json(indent=2))
    last = record.runs[-1]
    if complete:
        record.fixed_run_answer_calls = _fixed_run_answers(traces, last.rounds, max_rounds)
        record.fixed_run_answer_calls_exact = last.rounds == max_rounds
    record.finished = True
    write_text_atomic(path, record.model_dump_json(indent=2))
    if echo:
        console.print(escape(record.summary_line()), highlight=False)
    return record


def run_adaptive(config: ExperimentConfig | str | Path, max_rounds: int, *,
                 progress: bool = True, force: bool = False,
                 graph_config: RunnableConfig | None = None,
                 progress_every: float = PROGRESS_EVERY, echo: bool = True) -> AdaptiveRecord:
    """Synchronous :func:`arun_adaptive` (in a new event loop), from a config or a spec path."""
    if not isinstance(config, ExperimentConfig):
        from debate.experiment.config import load_experiment

        config = load_experiment(config)
    return asyncio.run(arun_adaptive(config, max_rounds, progress=progress, force=force,
                                     graph_config=graph_config, progress_every=progress_every,
                                     echo=echo))
