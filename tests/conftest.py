"""Shared fixtures: no hosted API, a mock server, a virtual clock.

Tests never reach a hosted API: specs that would are refused here.
"""

import asyncio
import os
import selectors
from collections.abc import Coroutine, Iterator
from types import SimpleNamespace
from typing import Any, TypeVar

import pytest

os.environ["DEBATELAB_BLOCK_HOSTED"] = "1"
os.environ.pop("OPENAI_API_KEY", None)
os.environ.pop("ANTHROPIC_API_KEY", None)

T = TypeVar("T")


@pytest.fixture
def mock_server():
    from debate.testing import MockServer

    with MockServer() as server:
        yield server


class _Skip(selectors.DefaultSelector):
    """A selector that, instead of waiting for the next timer, moves the clock to it."""

    def __init__(self, loop: "VirtualTimeLoop") -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[Any]:
        if timeout is None:  # no timer at all: wait for real I/O, as a real loop does
            return super().select(None)
        ready = super().select(0)
        if not ready and timeout > 0:
            self._loop.now += timeout
        return ready


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock moves only when every task waits for a timer.

    ``asyncio.sleep``, ``asyncio.timeout`` and ``call_later`` then take no real
    time and happen at exact instants: a test can assert that 11 requests at
    50/s started at these times, not that they took "at least 0.19 s".
    """

    def __init__(self) -> None:
        self.now = 0.0
        super().__init__(_Skip(self))

    def time(self) -> float:
        return self.now

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` to completion on this loop."""
        return self.run_until_complete(coro)


@pytest.fixture
def virtual_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[VirtualTimeLoop]:
    """A :class:`VirtualTimeLoop`; asyncio-throttle (the rate limiter) reads its clock too."""
    loop = VirtualTimeLoop()
    monkeypatch.setattr("asyncio_throttle.throttler.time", SimpleNamespace(monotonic=loop.time))
    yield loop
    loop.close()
