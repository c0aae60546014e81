"""Failing fast when nothing answers at an endpoint's address.

A connection that is never made (refused, host not found, TLS handshake failed:
:class:`~debate.errors.UnreachableError`) by an endpoint that has not answered
once in this run means a wrong address or a server that is not running, and
retrying every call ``max_attempts`` times only delays saying so (a run against
a closed port once took 25 s and 80 requests to stop). So, until the endpoint
answers:

- a refused call does not back off and retry on its own: the refused calls take
  turns, one try at a time, each after the retry policy's backoff (at most
  :data:`MAX_DELAY`);
- once ``RetryPolicy.connect_attempts`` tries in a row were refused (the calls
  refused together at the start count as one try), every waiting call raises one
  error, ``cannot connect to http://127.0.0.1:9/v1 (connection refused): 3 attempts
  over 2.1 s; is the server running?``, and the run stops (about 2 s and a request
  per call in flight, plus two);
- anything else the endpoint does (a completion, any HTTP status, a malformed body, a
  connection that broke after it was made) counts as an answer, and from then on its
  connection failures are retried like any others: a server restarted mid-run does
  not stop the run.

:class:`~debate.models.middleware.Retrying` holds one :class:`Reach` per layer, so
per model spec; an endpoint pool is answered when any of its replicas is
(:mod:`debate.models.pool`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from debate.errors import UnreachableError

__all__ = ["MAX_DELAY", "Reach"]

MAX_DELAY = 2.0
"""The longest wait between two tries of an endpoint that has never answered (seconds)."""


class Reach:
    """Whether one endpoint has answered in this run; its refusals until it does.

    Args:
        attempts: tries refused in a row before every call gives up (at least 1).

    """

    def __init__(self, attempts: int) -> None:
        self.attempts = max(1, attempts)
        self.answered = False
        """Whether the endpoint has answered anything (see the module)."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._turn = asyncio.Lock()
        self._first = 0.0  # when the first refusal came (the loop's clock)
        self._tries = 0  # tries refused in a row, the first burst counted once
        self._verdict: tuple[str, str] | None = None  # (message, endpoint) once given up

    def _bind(self) -> asyncio.AbstractEventLoop:
        """The running loop; on a new one nothing but ``answered`` carries over."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop, self._turn = loop, asyncio.Lock()
            self._tries, self._verdict = 0, None
        return loop

    async def refused(self, error: UnreachableError, delay: Callable[[int], float],
                      probed: bool) -> bool:
        """Wait, after ``error`` ended one of a call's attempts, until the call may try again.

        ``probed``: the attempt was this call's turn (it held the turn when it was sent).
        ``delay(n)``: the backoff before try ``n + 1``. Returns ``True`` when the call
        holds the turn (send the next attempt, then :meth:`release`), ``False`` when the
        endpoint answered meanwhile (retry as usual). Raises the run's one
        :class:`UnreachableError` once the endpoint is given up.
        """
        loop = self._bind()
        if self._tries == 0:
            self._first, self._tries = loop.time(), 1
        elif probed:
            self._tries += 1
        turn = self._turn
        await turn.acquire()
        if self.answered:
            turn.release()
            return False
        try:
            if self._verdict is None and self._tries >= self.attempts:
                elapsed = loop.time() - self._first
                tries = f"{self._tries} attempt{'s' if self._tries > 1 else ''}"
                self._verdict = (f"{error.args[0]}: {tries} over {elapsed:.1f} s; {error.hint}",
                                 error.endpoint)
            if self._verdict is not None:
                message, endpoint = self._verdict
                raise UnreachableError(message, endpoint=endpoint, url=error.url,
                                       reason=error.reason, hint=error.hint) from error
            await asyncio.sleep(min(delay(self._tries), MAX_DELAY))
        except BaseException:
            turn.release()
            raise
        return True

    def release(self) -> None:
        """End the turn :meth:`refused` gave (its attempt has ended)."""
        if self._turn.locked():
            self._turn.release()
