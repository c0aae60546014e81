"""Shared fixtures: no hosted API, nothing left open, registries restored after each
test, a mock server, a virtual clock.

Tests never reach a hosted API: specs that would are refused here. Resources
left open fail the test that leaked them: ``ResourceWarning`` and unraisable
exceptions (warnings raised by ``__del__``, as aiohttp's "Unclosed client
session" is) are errors (``filterwarnings`` in pyproject.toml), and so is an
"Unclosed ..." report through asyncio's logger, which aiohttp also sends its
reports to.
"""

import asyncio
import gc
import logging
import os
import selectors
from collections.abc import Callable, Coroutine, Iterator
from types import SimpleNamespace
from typing import Any, TypeVar

import pytest

os.environ["DEBATELAB_BLOCK_HOSTED"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"  # datasets never download in tests
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.pop("OPENAI_API_KEY", None)
os.environ.pop("ANTHROPIC_API_KEY", None)
for _tracing in ("LANGSMITH_TRACING", "LANGSMITH_TRACING_V2", "LANGCHAIN_TRACING_V2",
                 "LANGCHAIN_TRACING"):  # no traces to LangSmith (test_graph_runtime fakes it)
    os.environ.pop(_tracing, None)


class _UnclosedReports(logging.Handler):
    """Keeps asyncio's log records that report an unclosed resource."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.reports: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Unclosed"):
            self.reports.append(message.splitlines()[0])


@pytest.fixture(autouse=True)
def _nothing_left_unclosed():
    handler = _UnclosedReports()
    logger = logging.getLogger("asyncio")
    logger.addHandler(handler)
    try:
        yield
        # a leak found now is reported against the test that made it; what is still alive
        # is frozen, so each collection scans only what the last test made (a full
        # collection of the test process's heap takes a third of a second here)
        gc.collect()
        gc.freeze()
    finally:
        logger.removeHandler(handler)
    if handler.reports:
        pytest.fail("left open: " + "; ".join(handler.reports), pytrace=False)

@pytest.fixture
def unfrozen() -> None:
    """Nothing frozen in the collector when the test starts (the fixture above freezes
    what outlives each test), for tests of code that freezes and unfreezes itself."""
    gc.unfreeze()


T = TypeVar("T")


def registries() -> list[Any]:
    """Every registry a test may add to, with the built-in entries already in it.

    The name registries (``debate.registry.Registry``: roles, parsers, judges,
    protocols, backends, export strategies and formats, relevance scorers), the
    scripts behind ``scripted:NAME`` and the secrets :func:`debate.errors.redact`
    removes. The built-in backends register on first use: they are loaded here, so
    the snapshot holds them.
    """
    import debate.agents
    import debate.agents.base
    import debate.export
    import debate.judges
    import debate.models.backends
    import debate.models.backends_registry
    import debate.protocols
    import debate.uncertainty
    from debate.errors import _SECRETS
    from debate.testing.scripted import _SCRIPTS

    return [debate.agents.ROLES, debate.agents.base.PARSERS, debate.judges.JUDGES,
            debate.protocols.PROTOCOLS, debate.models.backends_registry.BACKENDS,
            debate.export.STRATEGIES, debate.export.FORMATS, debate.uncertainty.RELEVANCE,
            _SCRIPTS, _SECRETS]


def snapshot(registry: Any) -> Callable[[], None]:
    """What puts ``registry`` (a dict or set, and a Registry's plug-in state) back as it is."""
    entries = registry.copy()
    state = {name: value.copy() if isinstance(value, dict) else value
             for name, value in getattr(registry, "__dict__", {}).items()}

    def restore() -> None:
        registry.clear()
        registry.update(entries)
        for name, value in state.items():
            current = getattr(registry, name)
            if isinstance(value, dict) and isinstance(current, dict):  # in place: same object
                current.clear()
                current.update(value)
            else:
                setattr(registry, name, value)

    return restore


@pytest.fixture(autouse=True)
def restored_registries() -> Iterator[list[Any]]:
    """Undo whatever a test registered (a role, a protocol, a script...) once it ends.

    Its value is the list of registries it restores.
    """
    found = registries()
    restores = [snapshot(registry) for registry in found]
    yield found
    for restore in restores:
        restore()


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

    def call_at(self, when: float, callback: Any, *args: Any,
                context: Any = None) -> asyncio.TimerHandle:
        # A real loop runs a timer due within its clock's resolution at once, and its clock
        # has moved on by then; here it would not have, and code that waits for "1e-13 s
        # left" would wait again for ever. Such a timer is due one resolution later.
        if self.now < when < self.now + self._clock_resolution:
            when = self.now + self._clock_resolution
        return super().call_at(when, callback, *args, context=context)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` to completion on this loop."""
        return self.run_until_complete(coro)


@pytest.fixture
def virtual_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[VirtualTimeLoop]:
    """A :class:`VirtualTimeLoop`; the rate limiter and the pool's cooldowns read its clock too."""
    loop = VirtualTimeLoop()
    clock = SimpleNamespace(monotonic=loop.time)
    monkeypatch.setattr("asyncio_throttle.throttler.time", clock)
    monkeypatch.setattr("debate.models.pool.time", clock)
    yield loop
    loop.close()
