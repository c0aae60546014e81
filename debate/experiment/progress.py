"""How a run shows its progress: a live bar in a terminal, plain lines in a log.

In a terminal (or a notebook) a run draws a rich progress bar whose info column
shows the accuracy so far, tokens, calls per second, retries and errors. Without
one (output redirected to a file: a cluster job's log) a bar draws nothing until
the end, so the run prints instead a plain line every ``every`` seconds
(:data:`PROGRESS_EVERY` by default)::

    progress: 40/100 debates, 1 failed · acc 55% · 3.2 calls/s · 4 retries · 2 errors \
(HTTP 429: 2) · 5m00s elapsed · ETA 7m30s

and one line, ``done: ...``, when the run ends. The clock is the event loop's,
so tests run it on a virtual clock.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Mapping
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from debate.errors import ConfigError
from debate.models.middleware import CallStats

__all__ = ["PROGRESS_EVERY", "PROGRESS_EVERY_RANGE", "RunProgress", "check_progress_every",
           "duration"]

PROGRESS_EVERY = 30.0
"""Seconds between two progress lines in a log (no terminal)."""

PROGRESS_EVERY_RANGE = (1.0, 86400.0)
"""The seconds ``progress_every`` may take, both ends included."""

BAR_TICK = 0.5
"""Seconds between two refreshes of the bar's info in a batch run (debates finish at its end)."""


def check_progress_every(every: float) -> float:
    """``every`` if it is a number of seconds in :data:`PROGRESS_EVERY_RANGE`, else an error."""
    low, high = PROGRESS_EVERY_RANGE
    if isinstance(every, bool) or not isinstance(every, int | float) or not low <= every <= high:
        raise ConfigError(f"progress_every: {every!r} is not allowed; give the seconds between "
                          f"two progress lines, from {low:g} to {high:g}")
    return float(every)


def duration(seconds: float) -> str:
    """``45s``, ``7m30s`` or ``2h05m``: a span of time for a progress line."""
    total = max(0, math.ceil(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _errors(stats: CallStats) -> str:
    count = sum(stats.errors.values())
    if not count:
        return "0 errors"
    kinds = ", ".join(f"{kind}: {n}" for kind, n in sorted(stats.errors.items()))
    return f"{count} error{'s' * (count != 1)} ({kinds})"


class RunProgress:
    """The progress of one run: a bar in a terminal, a line every ``every`` seconds otherwise.

    Use it as a context manager inside the running event loop; call :meth:`advance`
    for each finished debate.

    Args:
        console: where it shows; a bar if ``console.is_terminal`` (or a notebook), lines if not.
        total: the run's questions.
        done: those already finished (by an earlier invocation) when it starts.
        stats: the run's call counters (calls, tokens, retries, errors).
        headline: the accuracy so far (``acc 55%``).
        failed: the debates that failed in this invocation (question id -> error).
        show: ``False`` shows nothing (``--no-progress``).
        every: seconds between two lines (see :func:`check_progress_every`).
        detail: replaces the tokens and calls/s part (a batch run's batch progress).
        tick: keep the bar's info fresh between debates (a batch run).

    """

    def __init__(self, console: Console, *, total: int, done: int, stats: CallStats,
                 headline: Callable[[], str], failed: Mapping[str, str], show: bool = True,
                 every: float = PROGRESS_EVERY, detail: Callable[[], str] | None = None,
                 tick: bool = False) -> None:
        self.console = console
        self.total, self.done, self.first = total, done, done
        self.stats, self.headline, self.failed, self.detail = stats, headline, failed, detail
        self.every = check_progress_every(every)
        self.lines = show and not (console.is_terminal or console.is_jupyter)
        self.tick = tick and show and not self.lines
        self.bar = Progress(TextColumn("[bold]debates"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), TextColumn("{task.fields[info]}"),
                            console=console, disable=not show or self.lines)
        self.task = self.bar.add_task("debates", total=total, completed=done, info="")
        self.start = 0.0
        self._ticker: asyncio.Task[None] | None = None

    def elapsed(self) -> float:
        """Seconds since the run started showing progress (on the event loop's clock)."""
        return asyncio.get_running_loop().time() - self.start

    def info(self) -> str:
        """The bar's info column: accuracy, calls or batches, retries, errors."""
        return f"{self.headline()} · {self._calls()} · {self._faults()}"

    def _calls(self) -> str:
        if self.detail is not None:
            return self.detail()
        rate = self.stats.calls / max(self.elapsed(), 1e-9)
        tokens = self.stats.prompt_tokens + self.stats.completion_tokens
        return f"{tokens} tok · {rate:.1f} calls/s"

    def _faults(self) -> str:
        retries = self.stats.retries
        return f"{retries} retr{'ies' if retries != 1 else 'y'} · {_errors(self.stats)}"

    def eta(self) -> str:
        """Time left at this invocation's pace so far (``n/a`` before its first debate)."""
        finished = self.done - self.first
        left = self.total - self.done - len(self.failed)
        if left <= 0:
            return "0s"
        if finished <= 0:
            return "n/a"
        return duration(left * self.elapsed() / finished)

    def line(self, label: str = "progress") -> str:
        """One plain progress line (what a log gets every ``every`` seconds)."""
        failed = f", {len(self.failed)} failed" if self.failed else ""
        elapsed = duration(self.elapsed())
        tail = f"{elapsed} elapsed · ETA {self.eta()}" if label == "progress" else f"in {elapsed}"
        return (f"{label}: {self.done}/{self.total} debates{failed} · {self.headline()} · "
                f"{self.stats.calls / max(self.elapsed(), 1e-9):.1f} calls/s · "
                f"{self._faults()} · {tail}")

    def advance(self) -> None:
        """One more debate finished."""
        self.done += 1
        self.bar.update(self.task, advance=1, info=self.info())

    def _print(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    async def _every(self) -> None:
        period = self.every if self.lines else BAR_TICK
        while True:
            await asyncio.sleep(period)
            if self.lines:
                self._print(self.line())
            else:
                self.bar.update(self.task, info=self.info())

    def __enter__(self) -> RunProgress:
        self.start = asyncio.get_running_loop().time()
        self.bar.start()
        if self.lines or self.tick:
            self._ticker = asyncio.ensure_future(self._every())
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        self.bar.stop()
        if self.lines:
            self._print(self.line("done" if kind is None else "stopped"))
