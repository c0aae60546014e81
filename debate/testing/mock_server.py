r"""A fast mock OpenAI-compatible (and Anthropic Messages) server on 127.0.0.1.

It answers ``POST /v1/chat/completions``, ``GET /v1/models`` and
``POST /v1/messages`` with a deterministic policy (by default: the first
number in the first user message, as ``\boxed{N}``; from the shell, ``--reply
TEMPLATE`` fills a template from each request's messages:
:mod:`debate.testing.mock_replies`), counts every request it
served (``GET /stats``), and injects faults either from a queue (the next
requests get these statuses, in order: exact, for tests) or at random by rate.

Random faults: each model request (chat or messages) draws one number ``u``
from a generator seeded with ``--seed``; the faults take consecutive slices
of ``[0, 1)`` in this order, and ``u`` past all of them is answered normally:

=================  =========================  ==================================
option             ``FaultRates`` field       what the client gets
=================  =========================  ==================================
``--fail-429``     ``rate_limit``             429 with ``Retry-After``
``--fail-500``     ``server_error``           500
``--fail-503``     ``unavailable``            503
``--fail-401``     ``unauthorized``           401 echoing the ``Authorization`` header
``--hang``         ``hang``                   no answer until the server stops
``--malformed``    ``malformed``              200 with a body that is not JSON
``--truncated``    ``truncated``              a body cut short of its Content-Length
``--dropped``      ``dropped``                the connection closed, no response
=================  =========================  ==================================

So with one seed, the n-th request always gets the same outcome, and the
counts over N requests are the same on every run, whatever order concurrent
requests arrive in. ``GET /stats`` returns those counts as JSON::

    {"requests": 12, "in_flight": 0, "peak_in_flight": 4,
     "batches": {"submitted": 0, "items_answered": 0},
     "outcomes": {"ok": 10, "429": 2},
     "paths": {"/v1/chat/completions": {"ok": 10, "429": 2}, "/v1/models": {"ok": 1}}}

``requests`` and ``outcomes`` count model requests (``paths`` counts
``/v1/models`` too, never ``/stats``); ``in_flight`` is how many are being
answered now, ``peak_in_flight`` the most at once so far.

From Python (a background thread; ``server.served`` holds the same counts)::

    with MockServer(latency=0.05, rates=FaultRates(rate_limit=0.1, seed=0)) as server:
        model = OpenAIModel("mock", base_url=server.url)

From the shell (prints ``{"url": ...}`` once it listens; ``--port 0`` picks a
free port; Ctrl-C or SIGTERM stops it)::

    python -m debate.testing.mock_server --port 8000 --latency 0.1 \
        --fail-429 0.1 --fail-500 0.05 --hang 0.01 --malformed 0.02 --seed 0
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from debate.testing.mock_batches import BatchSettings, BatchStore
from debate.testing.scripted import first_number_reply

__all__ = ["FAULTS", "FaultRates", "MockServer", "first_number_policy"]

Policy = Callable[[list[dict[str, Any]]], str]


def first_number_policy(messages: list[dict[str, Any]]) -> str:
    """Answer with the first number of the first user message."""
    first = next((m.get("content", "") for m in messages if m.get("role") == "user"), "")
    return first_number_reply(str(first))


@dataclass
class FaultRates:
    """Probabilities of each fault per model request, drawn from a generator seeded by ``seed``.

    The faults take consecutive slices of ``[0, 1)`` in the order of the fields
    below, so their sum must not exceed 1.
    """

    rate_limit: float = 0.0
    """429 with ``Retry-After``."""
    server_error: float = 0.0
    """500."""
    unavailable: float = 0.0
    """503."""
    unauthorized: float = 0.0
    """401 (the message echoes the key, as some servers do)."""
    hang: float = 0.0
    """Never answer (past any client timeout)."""
    malformed: float = 0.0
    """200 with a body that is not JSON."""
    truncated: float = 0.0
    """A body cut short of its Content-Length."""
    dropped: float = 0.0
    """The connection closed without a response."""
    seed: int = 0

    def __post_init__(self) -> None:
        rates = self.slices()
        bad = [name for name, rate in rates if not 0.0 <= rate <= 1.0]
        if bad:
            raise ValueError(f"FaultRates: {', '.join(bad)} must be between 0 and 1")
        if sum(rate for _, rate in rates) > 1.0 + 1e-9:
            given = {outcome: rate for outcome, rate in rates if rate}
            raise ValueError(f"FaultRates: the rates add up to more than 1: {given}")

    def slices(self) -> list[tuple[str, float]]:
        """``(outcome, rate)`` in drawing order; outcomes are statuses or fault names."""
        return [(outcome, getattr(self, name)) for name, (outcome, _, _) in FAULTS.items()]


# field -> (outcome, command-line options, what the client gets), in drawing order
FAULTS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "rate_limit": ("429", ("--fail-429", "--rate-limit"), "429 with Retry-After"),
    "server_error": ("500", ("--fail-500", "--server-error"), "500"),
    "unavailable": ("503", ("--fail-503",), "503"),
    "unauthorized": ("401", ("--fail-401",), "401"),
    "hang": ("hang", ("--hang",), "no answer (a hang)"),
    "malformed": ("malformed", ("--malformed",), "200 with a body that is not JSON"),
    "truncated": ("truncated", ("--truncated",), "a body cut short"),
    "dropped": ("dropped", ("--dropped",), "a dropped connection"),
}


@dataclass
class MockServer:
    """The server; ``start()``/``stop()`` or use as a context manager.

    Args:
        latency: seconds before each answer (``jitter`` adds up to that much at random,
            ``per_token`` adds that much per completion word).
        policy: messages -> reply text.
        faults: statuses (int) or ``"hang"``, ``"malformed"``, ``"truncated"``, ``"dropped"``
            for the next requests, in order (before any random fault); ``"ok"`` serves
            one normally (``["ok"] * 20 + [401]``: the 21st request is refused).
        rates: random faults by rate (see the module docstring).
        prompt_faults: messages -> a fault for that request (or ``None``), decided before
            the queue and the rates: a prompt the server always fails
            (``lambda m: 500 if "poison" in str(m) else None``).
        retry_after: the ``Retry-After`` a 429 carries.

    """

    latency: float = 0.0
    jitter: float = 0.0
    per_token: float = 0.0
    policy: Policy = first_number_policy
    faults: Iterable[int | str] = ()
    rates: FaultRates = field(default_factory=FaultRates)
    prompt_faults: Callable[[list[dict[str, Any]]], int | str | None] | None = None
    retry_after: float = 0.0
    host: str = "127.0.0.1"
    port: int = 0
    requests: int = 0
    """Model requests received (faults included)."""
    served: Counter[str] = field(default_factory=Counter)
    """Model requests by outcome (``ok``, ``429``, ``hang``...)."""
    by_path: Counter[tuple[str, str]] = field(default_factory=Counter)
    """Requests by ``(path, outcome)``, ``/v1/models`` included."""
    in_flight: int = 0
    """Model requests being answered now."""
    peak_in_flight: int = 0
    """The most model requests answered at once so far."""
    bodies: list[dict[str, Any]] = field(default_factory=list)
    """The JSON body of every chat request, in arrival order."""
    batches: BatchSettings = field(default_factory=BatchSettings)
    """How batch requests behave (OpenAI Batches, Anthropic Message Batches):
    :mod:`debate.testing.mock_batches`."""

    def __post_init__(self) -> None:
        self._queue: deque[int | str] = deque(self.faults)
        self._random = random.Random(self.rates.seed)
        self._jitter_random = random.Random(self.rates.seed + 1)  # faults keep their sequence
        self._slices = self.rates.slices()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._hanging: set[asyncio.Task[Any]] = set()
        self.batch_store = BatchStore(self.batches, self._batch_answer)

    @property
    def url(self) -> str:
        """The ``/v1`` base URL."""
        return f"http://{self.host}:{self.port}/v1"

    def stats(self) -> dict[str, Any]:
        """The counts ``GET /stats`` returns (see the module docstring)."""
        paths: dict[str, dict[str, int]] = {}
        for (path, outcome), count in sorted(self.by_path.items()):
            paths.setdefault(path, {})[outcome] = count
        return {"requests": self.requests, "in_flight": self.in_flight,
                "peak_in_flight": self.peak_in_flight, "batches": self.batch_store.stats(),
                "outcomes": dict(sorted(self.served.items())), "paths": paths}

    def _count(self, request: web.Request, outcome: str) -> None:
        self.served[outcome] += 1
        self.by_path[request.path, outcome] += 1

    def _fault(self, body: dict[str, Any]) -> int | str | None:
        if self.prompt_faults is not None:
            chosen = self.prompt_faults(body.get("messages", []))
            if chosen is not None:
                return chosen
        if self._queue:
            queued = self._queue.popleft()
            return None if queued == "ok" else queued
        draw = self._random.random()
        for outcome, rate in self._slices:
            if draw < rate:
                return int(outcome) if outcome.isdigit() else outcome
            draw -= rate
        return None

    async def _faulty(self, request: web.Request, body: dict[str, Any]
                      ) -> web.StreamResponse | None:
        self.requests += 1
        fault = self._fault(body)
        if fault is None:
            return None
        self._count(request, str(fault))
        if fault == "hang":  # until the client gives up, or the server stops
            task = asyncio.current_task()
            if task is not None:
                self._hanging.add(task)
                task.add_done_callback(self._hanging.discard)
            await asyncio.sleep(3600)
        if fault == "malformed":
            return web.Response(text='{"choices": [', content_type="application/json")
        if fault == "dropped":
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=500)  # never reaches the client
        if fault == "truncated":
            response = web.StreamResponse(headers={"Content-Type": "application/json",
                                                   "Content-Length": "4096"})
            await response.prepare(request)
            await response.write(b'{"id": "cut", "choices": [{"message"')
            if request.transport is not None:
                request.transport.abort()
            return response
        status = int(fault)
        headers = {"Retry-After": str(self.retry_after)} if status == 429 else {}
        message = f"injected {status}"
        if status == 401:  # as some servers do: echo the key that was refused
            message = f"invalid API key: {request.headers.get('Authorization', '(none)')}"
        return web.json_response({"error": {"message": message}}, status=status,
                                 headers=headers)

    async def _handle(self, request: web.Request,
                      respond: Callable[[dict[str, Any], str], dict[str, Any]]
                      ) -> web.StreamResponse:
        """Record the body, maybe inject a fault, else answer with ``respond(body, text)``."""
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            try:
                body = await request.json()
            except ValueError:
                self._count(request, "400")
                return web.json_response({"error": {"message": "the body is not JSON"}},
                                         status=400)
            self.bodies.append(body)
            fault = await self._faulty(request, body)
            if fault is not None:
                return fault
            text = self.policy(body.get("messages", []))
            delay = self.latency + self.per_token * len(text.split())
            if self.jitter:
                delay += self._jitter_random.uniform(0, self.jitter)
            if delay:
                await asyncio.sleep(delay)
            self._count(request, "ok")
            return web.json_response(respond(body, text))
        finally:
            self.in_flight -= 1

    def _batch_answer(self, api: str, body: dict[str, Any]) -> dict[str, Any]:
        text = self.policy(body.get("messages", []))
        return self._chat_body(body, text) if api == "openai" else self._messages_body(body, text)

    def _chat_body(self, body: dict[str, Any], text: str) -> dict[str, Any]:
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body["messages"])
        choice: dict[str, Any] = {"index": 0, "finish_reason": "stop",
                                  "message": {"role": "assistant", "content": text}}
        if body.get("logprobs"):
            k = int(body.get("top_logprobs") or 0)
            alternatives = [{"token": f"alt{i}", "logprob": -0.1 - i} for i in range(k)]
            choice["logprobs"] = {"content": [{"token": w, "logprob": -0.1,
                                               "top_logprobs": alternatives}
                                              for w in text.split()]}
        return {
            "id": f"mock-{self.requests}", "object": "chat.completion",
            "model": body.get("model", "mock"), "choices": [choice],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": len(text.split()),
                      "total_tokens": prompt_tokens + len(text.split())},
        }

    def _messages_body(self, body: dict[str, Any], text: str) -> dict[str, Any]:
        return {
            "id": f"msg-{self.requests}", "type": "message", "role": "assistant",
            "model": body.get("model", "mock"), "stop_reason": "end_turn",
            "stop_sequence": None, "content": [{"type": "text", "text": text}],
            "usage": {"input_tokens": 1, "output_tokens": len(text.split())},
        }

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, self._chat_body)

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, self._messages_body)

    async def _models(self, request: web.Request) -> web.Response:
        self.by_path[request.path, "ok"] += 1
        return web.json_response({"object": "list", "data": [{"id": "mock", "object": "model"}]})

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats())

    def app(self) -> web.Application:
        """The aiohttp application."""
        app = web.Application(client_max_size=200 * 1024**2)  # a batch file: up to 200 MB
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/stats", self._stats)
        self.batch_store.add_routes(app)
        return app

    async def _serve(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _close(self) -> None:
        for task in self._hanging:
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()

    def start(self) -> MockServer:
        """Serve on a background thread; returns once the port is bound.

        Starting a started server does nothing (``with server.start():`` enters it again);
        a port that cannot be bound is a ``RuntimeError`` here, not a dead thread.
        """
        if self._thread is not None and self._thread.is_alive():
            return self

        failed: list[OSError] = []

        def run() -> None:
            loop = self._loop = asyncio.new_event_loop()
            try:
                try:
                    loop.run_until_complete(self._serve())
                except OSError as exc:  # the port is taken: said by start(), below
                    failed.append(exc)
                    return
                finally:
                    self._ready.set()
                loop.run_forever()
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, daemon=True, name="mock-openai")
        self._thread.start()
        self._ready.wait()
        if failed:
            self._ready.clear()
            raise RuntimeError(f"the mock server cannot serve on {self.host}:{self.port}: "
                               f"{failed[0]}") from failed[0]
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._loop is None or self._runner is None:
            return
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def wait_for_requests(self, count: int, outcome: str = "ok", timeout: float = 60.0) -> None:
        """Block until ``served[outcome] >= count`` (from another thread than the server's).

        For tests that act when a client has reached a point, e.g. kill it once
        it has had 100 answers. Raises ``TimeoutError`` after ``timeout`` seconds.
        """
        self._wait(lambda: self.served[outcome] >= count, timeout,
                   f"{count} {outcome!r} requests (got {self.served[outcome]})")

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Block until no client connection is open and no request is being answered.

        After a client process died, this is when every request it had sent has
        been answered (and counted). Raises ``TimeoutError`` after ``timeout`` seconds.
        """
        def idle() -> bool:
            runner = self._runner
            server = runner.server if runner is not None else None
            return self.in_flight == 0 and not (server is not None and server.connections)

        self._wait(idle, timeout, f"no connection (in flight: {self.in_flight})")

    def _wait(self, done: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not done():  # counters change on the server's thread: look every 5 ms
            if time.monotonic() > deadline:
                raise TimeoutError(f"mock server at {self.url}: no {what} after {timeout}s")
            time.sleep(0.005)

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":  # pragma: no cover
    from debate.testing.mock_server_cli import main

    main()
