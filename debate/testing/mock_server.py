r"""A fast mock OpenAI-compatible (and Anthropic Messages) server on 127.0.0.1.

It answers ``POST /v1/chat/completions``, ``GET /v1/models`` and
``POST /v1/messages`` with a deterministic policy (by default: the first
number in the first user message, as ``\boxed{N}``), counts every request
it served, and injects faults either from a queue (the next requests get
these statuses, in order: exact, for tests) or at random by rate.

From Python::

    with MockServer(latency=0.05) as server:
        model = OpenAIModel("mock", base_url=server.url)

From the shell::

    python -m debate.testing.mock_server --port 8000 --latency 0.1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

__all__ = ["FaultRates", "MockServer", "first_number_policy"]

Policy = Callable[[list[dict[str, Any]]], str]
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def first_number_policy(messages: list[dict[str, Any]]) -> str:
    """Answer with the first number of the first user message."""
    first = next((m.get("content", "") for m in messages if m.get("role") == "user"), "")
    found = _NUMBER.search(str(first))
    return f"The answer is \\boxed{{{found.group() if found else 0}}}."


@dataclass
class FaultRates:
    """Probabilities of each fault per request (drawn from a seeded generator)."""

    rate_limit: float = 0.0
    """429 with ``Retry-After``."""
    server_error: float = 0.0
    """500 or 503."""
    hang: float = 0.0
    """Never answer (past any client timeout)."""
    malformed: float = 0.0
    """200 with a body that is not JSON."""
    truncated: float = 0.0
    """A body cut short of its Content-Length."""
    dropped: float = 0.0
    """The connection closed without a response."""
    seed: int = 0


@dataclass
class MockServer:
    """The server; ``start()``/``stop()`` or use as a context manager.

    Args:
        latency: seconds before each answer (``jitter`` adds up to that much at random,
            ``per_token`` adds that much per completion word).
        policy: messages -> reply text.
        faults: statuses (int) or ``"hang"``, ``"malformed"``, ``"truncated"``, ``"dropped"``
            for the next requests, in order.
        rates: random faults by rate.
        retry_after: the ``Retry-After`` a 429 carries.

    """

    latency: float = 0.0
    jitter: float = 0.0
    per_token: float = 0.0
    policy: Policy = first_number_policy
    faults: Iterable[int | str] = ()
    rates: FaultRates = field(default_factory=FaultRates)
    retry_after: float = 0.0
    host: str = "127.0.0.1"
    port: int = 0
    requests: int = 0
    """Requests received (faults included)."""
    served: Counter[str] = field(default_factory=Counter)
    """Requests by outcome (``ok``, ``429``, ``hang``...)."""
    bodies: list[dict[str, Any]] = field(default_factory=list)
    """The JSON body of every chat request, in arrival order."""

    def __post_init__(self) -> None:
        self._queue: deque[int | str] = deque(self.faults)
        self._random = random.Random(self.rates.seed)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._hanging: set[asyncio.Task[Any]] = set()

    @property
    def url(self) -> str:
        """The ``/v1`` base URL."""
        return f"http://{self.host}:{self.port}/v1"

    def _fault(self) -> int | str | None:
        if self._queue:
            return self._queue.popleft()
        rates, draw = self.rates, self._random.random()
        for name, rate in (("429", rates.rate_limit), ("500", rates.server_error),
                           ("hang", rates.hang), ("malformed", rates.malformed),
                           ("truncated", rates.truncated), ("dropped", rates.dropped)):
            if draw < rate:
                return int(name) if name.isdigit() else name
            draw -= rate
        return None

    async def _faulty(self, request: web.Request) -> web.StreamResponse | None:
        self.requests += 1
        fault = self._fault()
        if fault is None:
            return None
        self.served[str(fault)] += 1
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
        body = await request.json()
        self.bodies.append(body)
        fault = await self._faulty(request)
        if fault is not None:
            return fault
        text = self.policy(body.get("messages", []))
        delay = self.latency + self.per_token * len(text.split())
        if self.jitter:
            delay += self._random.uniform(0, self.jitter)
        if delay:
            await asyncio.sleep(delay)
        self.served["ok"] += 1
        return web.json_response(respond(body, text))

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
        return web.json_response({"object": "list", "data": [{"id": "mock", "object": "model"}]})

    def app(self) -> web.Application:
        """The aiohttp application."""
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_get("/v1/models", self._models)
        return app

    async def _serve(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def start(self) -> MockServer:
        """Serve on a background thread; returns once the port is bound."""
        def run() -> None:
            loop = self._loop = asyncio.new_event_loop()
            try:
                loop.run_until_complete(self._serve())
                self._ready.set()
                loop.run_forever()
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, daemon=True, name="mock-openai")
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._loop is None or self._runner is None:
            return
        def cancel_hangs() -> None:
            for task in self._hanging:
                task.cancel()

        self._loop.call_soon_threadsafe(cancel_hangs)
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    """``python -m debate.testing.mock_server``: serve until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--jitter", type=float, default=0.0, help="extra random latency (s)")
    parser.add_argument("--per-token", type=float, default=0.0, help="latency per word (s)")
    for fault in ("rate-limit", "server-error", "hang", "malformed", "truncated", "dropped"):
        parser.add_argument(f"--{fault}", type=float, default=0.0, help=f"share of {fault}")
    args = parser.parse_args(argv)
    server = MockServer(latency=args.latency, jitter=args.jitter, per_token=args.per_token,
                        port=args.port,
                        rates=FaultRates(rate_limit=args.rate_limit,
                                         server_error=args.server_error, hang=args.hang,
                                         malformed=args.malformed, truncated=args.truncated,
                                         dropped=args.dropped))
    print(json.dumps({"url": f"http://127.0.0.1:{args.port}/v1"}), flush=True)
    web.run_app(server.app(), host=server.host, port=args.port, access_log=None, print=None)


if __name__ == "__main__":  # pragma: no cover
    main()
