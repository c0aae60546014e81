"""The OpenAI-compatible server: ``GET /v1/models``, ``POST /v1/chat/completions``.

Each model id is a :class:`~debate.serve.service.DebateService`. A request runs one
debate (or replays it from the cache); the handler is cancelled when its client
disconnects, and so are the debate's pending calls. :class:`DebateServer` serves in
the running event loop (:meth:`~DebateServer.start`) or on a background thread
(``with DebateServer(...) as server:``, for tests and notebooks).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from debate.serve.security import check_bearer, check_browser_reach, check_host
from debate.serve.service import DebateService, debate_record, reply_text
from debate.serve.shapes import (
    ApiError,
    ChatRequest,
    completion_body,
    completion_chunks,
    parse_chat_request,
)

__all__ = ["DebateServer"]

log = logging.getLogger(__name__)

PING_SECONDS = 10.0
"""Seconds between ``: progress`` comment lines while a streamed debate runs."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error_response(error: ApiError) -> web.Response:
    return web.json_response(error.body(), status=error.status, headers=error.headers)


class DebateServer:
    """Serves debate configurations as OpenAI models.

    Args:
        services: the model ids and their services (opened by :meth:`start`).
        host: the address to bind; without ``api_key`` it must be a loopback one.
        port: the port (0: a free one, read back from :attr:`port`).
        api_key: the key every request must carry as ``Authorization: Bearer KEY``.

    """

    def __init__(self, services: Mapping[str, DebateService], *, host: str = "127.0.0.1",
                 port: int = 8000, api_key: str | None = None) -> None:
        check_host(host, api_key)
        self.services = dict(services)
        self.host = host
        self.port = port
        self.api_key = api_key
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The API's base URL (``http://HOST:PORT/v1``), what clients take as ``base_url``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/v1"

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The background thread's event loop, while ``with DebateServer(...)`` serves."""
        return self._loop

    def app(self) -> web.Application:
        """The aiohttp application."""
        app = web.Application(middlewares=[self._errors, self._auth],
                              client_max_size=16 * 1024 * 1024)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/v1/models/{model}", self._model)
        app.router.add_post("/v1/chat/completions", self._chat)
        return app

    @web.middleware
    async def _errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as error:
            return _error_response(error)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return _error_response(ApiError(exc.status, f"{request.method} {request.path}: "
                                            f"{exc.reason}; this server answers GET /v1/models "
                                            "and POST /v1/chat/completions"))
        except Exception as exc:  # a fault of the server's own: still an OpenAI-shaped reply
            log.exception("%s %s failed", request.method, request.path)
            return _error_response(ApiError(500, f"the server failed: {type(exc).__name__}: "
                                            f"{exc}", kind="server_error"))

    @web.middleware
    async def _auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        check_bearer(request.headers.get("Authorization"), self.api_key)
        check_browser_reach(request.headers.get("Host"), request.content_type, self.api_key,
                            posting=request.method == "POST")
        return await handler(request)

    def _card(self, model_id: str) -> dict[str, Any]:
        service = self.services[model_id]
        return {"id": model_id, "object": "model", "created": 0, "owned_by": "debatelab",
                "protocol": service.session.protocol.name, "max_calls": service.max_calls}

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list",
                                  "data": [self._card(m) for m in self.services]})

    async def _model(self, request: web.Request) -> web.Response:
        return web.json_response(self._card(self._service(request.match_info["model"])
                                            .spec.model_id))

    def _service(self, model_id: str) -> DebateService:
        service = self.services.get(model_id)
        if service is None:
            raise ApiError(404, f"model {model_id!r} is not served here; served: "
                           f"{', '.join(self.services)} (GET /v1/models)", param="model",
                           code="model_not_found")
        return service

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ApiError(400, f"the request body is not JSON: {exc}") from None
        chat = parse_chat_request(body)
        service = self._service(chat.model)
        request_id = f"chatcmpl-{uuid.uuid4().hex}"
        with service.admit():
            if chat.stream:
                return await self._stream(request, service, chat, request_id)
            trace = await service.debate(chat)
        record = debate_record(trace, service.max_calls)
        return web.json_response(completion_body(request_id, chat.model, reply_text(trace),
                                                 record))

    async def _stream(self, request: web.Request, service: DebateService, chat: ChatRequest,
                      request_id: str) -> web.StreamResponse:
        """Server-sent events: ``: progress`` comments while the debate runs, then chunks."""
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                               "Cache-Control": "no-cache"})
        await response.prepare(request)
        await response.write(f": progress debate {service.question(chat).id} started\n\n"
                             .encode())
        task = asyncio.ensure_future(service.debate(chat))
        try:
            while not task.done():
                await asyncio.wait({task}, timeout=PING_SECONDS)
                if not task.done():
                    await response.write(b": progress debating\n\n")
            trace = task.result()
        except ApiError as error:
            await response.write(b"data: " + json.dumps(error.body()).encode() + b"\n\n")
            await response.write_eof()
            return response
        finally:
            task.cancel()  # a client gone (the handler cancelled): the debate's calls too
        record = debate_record(trace, service.max_calls)
        for chunk in completion_chunks(request_id, chat.model, reply_text(trace), record,
                                       chat.include_usage):
            await response.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def start(self) -> None:
        """Open every service (models, cache, trace file), then listen."""
        for service in self.services.values():
            service.open()
        self._runner = web.AppRunner(self.app(), access_log=None, handler_cancellation=True,
                                     shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def close(self) -> None:
        """Stop listening, then close every service."""
        try:
            if self._runner is not None:
                await self._runner.cleanup()
        finally:
            for service in self.services.values():
                await service.aclose()

    def __enter__(self) -> DebateServer:
        """Serve on a background thread; returns once the port is bound."""
        ready = threading.Event()
        failed: list[BaseException] = []

        def run() -> None:
            loop = self._loop = asyncio.new_event_loop()
            try:
                try:
                    loop.run_until_complete(self.start())
                except BaseException as exc:  # said by __enter__, below
                    failed.append(exc)
                    loop.run_until_complete(self.close())
                    return
                finally:
                    ready.set()
                loop.run_forever()
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, daemon=True, name="debate-serve")
        self._thread.start()
        ready.wait()
        if failed:
            raise failed[0]
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop the background thread's server."""
        if self._loop is None or self._loop.is_closed():
            return
        asyncio.run_coroutine_threadsafe(self.close(), self._loop).result(60)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
