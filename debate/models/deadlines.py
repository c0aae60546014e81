"""Per-attempt deadlines: a call's timeout, without the time it waits in a queue.

:class:`~debate.models.middleware.Retrying` gives each attempt ``retry.timeout``
seconds; the time a call waits for its turn (``Limited``'s in-flight cap, an
embedded model's free slot, a pool's replica) is not part of it: such code waits
inside :func:`queued`. A pool that moves a hung attempt to another replica asks
:func:`attempt_expired` and gives the next one the whole timeout with
:func:`retry_at_once`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from contextvars import ContextVar

__all__ = ["CURRENT_ATTEMPT", "AttemptTimeout", "Deadlines", "attempt_expired", "queued",
           "retry_at_once"]


class _Attempt:
    """One timed attempt: the task running it and whether its time ran out."""

    __slots__ = ("at_once", "clock", "done", "expired", "generation", "task")

    def __init__(self, clock: Deadlines, task: asyncio.Task[object]) -> None:
        self.clock = clock
        self.task = task
        self.generation = 0  # bumped when its clock stops: its queued deadline is void
        self.done = False
        self.expired = False
        self.at_once = False  # its retry need not back off (see retry_at_once)


class AttemptTimeout(TimeoutError):
    """An attempt's timeout ran out; ``at_once``: retry without backing off."""

    def __init__(self, at_once: bool) -> None:
        super().__init__()
        self.at_once = at_once


class Deadlines:
    """The per-attempt timeouts of one :class:`Retrying` layer, on one timer.

    Every attempt of a layer has the same timeout, so deadlines arrive in time
    order: a deque holds them and one timer waits for the earliest. Starting and
    ending an attempt are a deque append and a flag, not a timer each (an
    ``asyncio.timeout`` per attempt made and cancelled a timer handle per call, and
    :func:`queued` rescheduled it twice more).
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._due: deque[tuple[float, _Attempt, int]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> _Attempt:
        """A new attempt of the current task, its time running from now."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # first use, or a new event loop: nothing carries over
            self._loop, self._timer = loop, None
            self._due.clear()
        task = asyncio.current_task()
        assert task is not None, "a timed attempt runs in a task"
        attempt = _Attempt(self, task)
        self.resume(attempt)
        return attempt

    def resume(self, attempt: _Attempt) -> None:
        """(Re)start ``attempt``'s clock: its whole timeout from now."""
        assert self._loop is not None
        due = self._due
        while due and (due[0][1].done or due[0][1].generation != due[0][2]):
            due.popleft()  # ended or paused: their deadlines are void
        due.append((self._loop.time() + self.timeout, attempt, attempt.generation))
        if self._timer is None:
            self._timer = self._loop.call_at(due[0][0], self._expire)

    def _expire(self) -> None:
        """Cancel every live attempt whose deadline has passed; wait for the next one."""
        assert self._loop is not None
        self._timer = None
        now, due = self._loop.time(), self._due
        while due:
            deadline, attempt, generation = due[0]
            if attempt.done or attempt.generation != generation:
                due.popleft()
            elif deadline <= now:
                due.popleft()
                attempt.expired = True
                attempt.task.cancel()
            else:
                self._timer = self._loop.call_at(deadline, self._expire)
                return


CURRENT_ATTEMPT: ContextVar[_Attempt | None] = ContextVar("debatelab_attempt", default=None)


def attempt_expired() -> bool:
    """True inside a timed attempt whose timeout has run out (its cancel is the timeout)."""
    attempt = CURRENT_ATTEMPT.get()
    return attempt is not None and attempt.expired


def retry_at_once() -> None:
    """Let the current timed attempt, which timed out, be retried without a backoff.

    An endpoint pool calls this when a hung replica's timeout sends the call on to
    another replica: waiting would only delay a call the next replica can serve now.
    """
    attempt = CURRENT_ATTEMPT.get()
    if attempt is not None:
        attempt.at_once = True


class queued:  # noqa: N801 - used as a function: ``with queued():``
    """Stop the current attempt's timeout while waiting for a turn; restart it after.

    A per-attempt timeout should measure the call being served, not the wait
    for a free slot: ``Limited`` waits for its in-flight cap inside this, and
    so does the embedded model for a free slot. When the wait ends the attempt
    gets its whole timeout again. Outside a timed attempt it does nothing.
    """

    __slots__ = ("CURRENT_ATTEMPT",)

    def __enter__(self) -> None:
        attempt = CURRENT_ATTEMPT.get()
        if attempt is not None and (attempt.done or attempt.expired):
            attempt = None  # a task that outlived its attempt (inherited the variable)
        if attempt is not None:
            attempt.generation += 1  # its pending deadline no longer counts
        self.CURRENT_ATTEMPT = attempt

    def __exit__(self, *exc: object) -> None:
        attempt = self.CURRENT_ATTEMPT
        if attempt is not None and not attempt.done:
            attempt.clock.resume(attempt)
