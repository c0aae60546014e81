"""A lean HTTP/1.1 client for plain ``http://`` servers: keep-alive POSTs of JSON.

The OpenAI-compatible backend's default transport for local servers (vLLM,
llama.cpp, SGLang on ``http://``). It does one thing: POST a body to one host
over a pool of keep-alive connections and return the status, the
``Retry-After`` header and the body. Responses are parsed by ``httptools``
(llhttp, the parser of Node.js and uvicorn), so Content-Length, chunked
bodies and ``Connection: close`` are handled as the standard says; the rest of
HTTP (TLS, proxies, redirects, cookies, compression) is not needed for a
local inference server and is left to the ``aiohttp`` transport, which
``https://`` URLs use.

Why: against a fast local server the client's CPU is what limits a 2-core
machine. ``aiohttp`` spends about 0.3 ms of CPU per request there; this
client about 0.13 ms (``benchmarks/README.md``).

Failures are ``OSError`` (``ConnectionError`` when the server closed the
connection, :class:`MalformedResponse` when what it sent is not HTTP), which the
backend words with :func:`debate.errors.connection_error` (or counts as a
malformed reply). A request on a reused connection that
the server had closed while it was idle (no byte of a response came back) is
sent once more on a new connection, as every keep-alive client does.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import cast
from urllib.parse import urlsplit

import httptools

__all__ = ["HttpPool", "MalformedResponse"]


class MalformedResponse(ConnectionError):
    """The server answered with bytes that are not an HTTP response."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection; one request at a time."""

    def __init__(self) -> None:
        self.parser: httptools.HttpResponseParser | None = httptools.HttpResponseParser(self)
        """Points back at this connection: dropped when the connection is lost, so a
        closed connection is freed at once rather than by the cycle collector."""
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[tuple[int, str | None, bytes, bool]] | None = None
        self.body: list[bytes] = []
        self.retry_after: str | None = None
        self.received = False  # any byte of the current response
        self.framed = False  # its body has a length or is chunked (else: until EOF)
        self.headers_done = False
        self.lost = False

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.received = True
        if self.parser is None:  # lost already
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(MalformedResponse(f"not an HTTP response ({exc})"))
            self.close()

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.headers_done and not self.framed and exc is None:
            self.on_message_complete()  # an HTTP/1.0-style body ends with the connection
        else:
            reason = "the server closed the connection" + (
                " before replying" if not self.received else " in the middle of its reply")
            error = ConnectionResetError(reason)
            if exc is not None:
                error.__cause__ = exc
            self._fail(error)
        self.parser = None

    # httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"retry-after":
            self.retry_after = value.decode("latin-1")
        elif name in (b"content-length", b"transfer-encoding"):
            self.framed = True

    def on_headers_complete(self) -> None:
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        waiter, self.waiter = self.waiter, None
        body, self.body = b"".join(self.body), []
        parser = self.parser
        assert parser is not None  # called by the parser, or by connection_lost before it drops it
        if waiter is not None and not waiter.done():
            waiter.set_result((parser.get_status_code(), self.retry_after, body,
                               parser.should_keep_alive()))

    # ours

    def send(self, data: bytes) -> asyncio.Future[tuple[int, str | None, bytes, bool]]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.received, self.retry_after = False, None
        self.framed = self.headers_done = False
        self.transport.write(data)
        return self.waiter

    def _fail(self, error: Exception) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    def close(self) -> None:
        self.lost = True
        if self.transport is not None:
            self.transport.close()


class HttpPool:
    """Keep-alive connections to the host of one ``http://`` base URL.

    Args:
        base_url: ``http://host:port/prefix``; requests go to ``prefix + path``.
        headers: sent with every request (``Content-Type`` is always JSON).

    Bound to the event loop of its first request; close it with :meth:`aclose`.

    """

    def __init__(self, base_url: str, headers: dict[str, str] | None = None) -> None:
        url = urlsplit(base_url)
        if url.scheme != "http" or not url.hostname or url.query or url.fragment:
            raise ValueError(f"HttpPool takes a plain http://host[:port]/path URL, not {base_url}")
        self.host = url.hostname
        self.port = url.port or 80
        self.prefix = url.path.rstrip("/")
        self._prefix = self.prefix.encode()
        lines = [f"Host: {url.netloc}", "Content-Type: application/json",
                 *(f"{k}: {v}" for k, v in (headers or {}).items()
                   if k.lower() not in ("host", "content-type", "content-length"))]
        self._head = ("\r\n".join(lines) + "\r\nContent-Length: ").encode("latin-1")
        self._idle: deque[_Connection] = deque()
        self._open: set[_Connection] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.closed = False

    async def post(self, path: str, body: bytes) -> tuple[int, str | None, bytes]:
        """POST ``body`` (JSON) to ``prefix + path``: (status, Retry-After, response body)."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new event loop: the old one's connections are gone
            self._loop = loop
            self._idle.clear()
            self._open.clear()
        request = b"POST %s%s HTTP/1.1\r\n%s%d\r\n\r\n%s" % (
            self._prefix, path.encode(), self._head, len(body), body)
        while True:
            connection, reused = await self._connection(loop)
            try:
                status, retry_after, data, keep_alive = await connection.send(request)
            except ConnectionResetError:
                self._open.discard(connection)
                if reused and not connection.received:  # closed while idle: send it again
                    continue
                raise
            except BaseException:  # cancelled mid-request: the connection's state is unknown
                self._open.discard(connection)
                connection.close()
                raise
            if keep_alive and not connection.lost:
                self._idle.append(connection)
            else:
                self._open.discard(connection)
                connection.close()
            return status, retry_after, data

    async def _connection(self, loop: asyncio.AbstractEventLoop) -> tuple[_Connection, bool]:
        while self._idle:
            connection = self._idle.pop()  # the most recently used: the least likely closed
            if not connection.lost:
                return connection, True
            self._open.discard(connection)
        _, connection = await loop.create_connection(_Connection, self.host, self.port)
        self._open.add(connection)
        self.closed = False  # open again (after aclose, or on a new loop)
        return connection, False

    async def aclose(self) -> None:
        """Close every connection (the next request opens new ones)."""
        self.closed = True
        if self._loop is not asyncio.get_running_loop():  # another loop's: gone with it
            self._open.clear()
            self._idle.clear()
            return
        for connection in self._open:
            connection.close()
        self._open.clear()
        self._idle.clear()
        await asyncio.sleep(0)  # let the transports finish closing
