"""A process's debates, concurrently: :func:`run_questions`, and :class:`Outage`.

:class:`~debate.experiment.session.RunSession` debates a run's questions (all of
them locally; a shard of them in each Ray actor) through :func:`run_questions`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import TYPE_CHECKING

from debate.errors import RetryableError, TransportError, redact, stops_run
from debate.models.middleware import CallStats
from debate.models.types import ChatModel, close_model
from debate.protocols.base import DebateProtocol
from debate.trace import DebateTrace, Question

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig

    from debate.agents.base import Agent

__all__ = ["Outage", "close_all", "run_questions"]


async def close_all(models: Iterable[ChatModel]) -> None:
    """Close every model (all of them, even when one fails; then its error is raised)."""
    await asyncio.gather(*(close_model(model) for model in models))


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
