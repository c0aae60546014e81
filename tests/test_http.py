"""The lean HTTP/1.1 transport (debate/models/http.py) against a server that replies
with exactly the bytes a test gives it."""

import asyncio
import gc
import json
import weakref

import pytest

from debate.errors import RetryableError
from debate.models import Message, SamplingParams
from debate.models.http import HttpPool
from debate.models.openai_backend import OpenAIModel

OK = json.dumps({"choices": [{"message": {"content": "4"}, "finish_reason": "stop"}],
                 "usage": {"prompt_tokens": 3, "completion_tokens": 1}}).encode()


def reply(body: bytes = OK, status: str = "200 OK", *headers: str) -> bytes:
    head = "\r\n".join([f"HTTP/1.1 {status}", *headers, f"Content-Length: {len(body)}"])
    return head.encode() + b"\r\n\r\n" + body


def chunked(body: bytes) -> bytes:
    half = len(body) // 2
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in (body[:half], body[half:]))
    return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"


class Canned:
    """A server answering its n-th request with ``replies[n]``: bytes to send, or
    ``close`` (close without a reply), or bytes then ``None`` (send, then close)."""

    def __init__(self, *replies):
        self.replies = list(replies)
        self.requests: list[bytes] = []
        self.connections = 0
        self.closed_by_client = 0

    async def handle(self, reader, writer):
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length")))
                self.requests.append(head + await reader.readexactly(length))
                step = self.replies.pop(0)
                if step == "close":
                    break
                data, then_close = (step, False) if isinstance(step, bytes) else step
                writer.write(data)
                await writer.drain()
                if then_close:
                    break
        except asyncio.IncompleteReadError:
            self.closed_by_client += 1
        finally:
            writer.close()

    async def __aenter__(self):
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/v1"
        return self

    async def __aexit__(self, *exc):
        self.server.close()
        await self.server.wait_closed()


MSGS = [Message(role="user", content="What is 2 + 2?")]


@pytest.mark.parametrize("framing", ["length", "chunked", "until-close"])
async def test_every_body_framing_is_read_whole(framing):
    data = {"length": reply(), "chunked": chunked(OK),
            "until-close": (b"HTTP/1.0 200 OK\r\n\r\n" + OK, True)}[framing]
    async with Canned(data, reply()) as server:
        pool = HttpPool(server.url, {"Authorization": "Bearer k"})
        assert await pool.post("/chat/completions", b"{}") == (200, None, OK)
        assert await pool.post("/chat/completions", b"{}") == (200, None, OK)
        await pool.aclose()
    # kept alive unless the reply's framing needs the connection's end
    assert server.connections == (2 if framing == "until-close" else 1)
    first = server.requests[0]
    assert first.startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")
    assert f"Host: {server.url[7:-3]}".encode() in first and b"Authorization: Bearer k" in first
    assert first.endswith(b"Content-Length: 2\r\n\r\n{}")


async def test_a_connection_the_server_closed_while_idle_is_replaced_silently():
    async with Canned((reply(), True), reply()) as server:  # closes after its first reply
        pool = HttpPool(server.url)
        assert (await pool.post("/x", b"{}"))[0] == 200
        await asyncio.sleep(0.05)  # the close arrives while the connection is idle
        assert (await pool.post("/x", b"{}"))[0] == 200
        await pool.aclose()
    assert server.connections == 2 and len(server.requests) == 2


async def test_a_reused_connection_closed_before_any_reply_is_retried_once():
    """The race a keep-alive client lives with: the server drops an idle connection as
    the next request goes out on it. Sent again on a new connection; a new connection
    that fails the same way is an error."""
    async with Canned(reply(), "close", reply()) as server:
        pool = HttpPool(server.url)
        await pool.post("/x", b"{}")
        assert (await pool.post("/x", b"{}"))[0] == 200
        await pool.aclose()
    assert server.connections == 2 and len(server.requests) == 3
    async with Canned("close") as server:
        with pytest.raises(ConnectionResetError, match="before replying"):
            await HttpPool(server.url).post("/x", b"{}")


async def test_connection_close_is_honoured():
    async with Canned(reply(OK, "200 OK", "Connection: close"), reply()) as server:
        pool = HttpPool(server.url)
        await pool.post("/x", b"{}")
        await pool.post("/x", b"{}")
        await pool.aclose()
    assert server.connections == 2


@pytest.mark.parametrize(("step", "words", "kind"), [
    ("close", "request to {url} failed (ConnectionResetError: the server closed the "
     "connection before replying)", "connection"),
    ((reply()[:40], True), "request to {url} failed (ConnectionResetError: the server closed "
     "the connection in the middle of its reply)", "connection"),
    (b"HTTX/9 banana\r\n\r\n", "malformed reply from {url}: not an HTTP response", "malformed"),
])
async def test_a_failed_reply_is_a_retryable_error_naming_the_url(step, words, kind):
    async with Canned(step) as server:
        async with OpenAIModel("m", base_url=server.url, transport="lean") as model:
            with pytest.raises(RetryableError) as info:
                await model.generate(MSGS, SamplingParams())
    assert words.format(url=server.url) in str(info.value)
    assert info.value.kind == kind  # how the run's error counts file it


async def test_status_and_retry_after_reach_the_retry_layer():
    async with Canned(reply(b'{"error": {"message": "slow down"}}', "429 Too Many Requests",
                            "Retry-After: 7"), reply()) as server:
        async with OpenAIModel("m", base_url=server.url, transport="lean") as model:
            with pytest.raises(RetryableError) as info:
                await model.generate(MSGS, SamplingParams())
            assert info.value.status == 429 and info.value.retry_after == 7
            assert "slow down" in str(info.value)
            completion = await model.generate(MSGS, SamplingParams())
    assert completion.text == "4" and completion.usage.prompt_tokens == 3


async def test_a_cancelled_request_never_hands_its_connection_on():
    async with Canned(b"", reply()) as server:  # the first reply never comes
        pool = HttpPool(server.url)
        call = asyncio.create_task(pool.post("/x", b"{}"))
        await asyncio.sleep(0.05)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert (await pool.post("/x", b"{}"))[0] == 200  # on a new connection
        await pool.aclose()
        await asyncio.sleep(0.05)
    assert server.connections == 2


async def test_closing_the_pool_closes_its_connections():
    async with Canned(reply()) as server:
        pool = HttpPool(server.url)
        await pool.post("/x", b"{}")
        await pool.aclose()
        await asyncio.sleep(0.05)
        assert server.closed_by_client == 1 and pool.closed


async def test_a_closed_connection_is_freed_without_the_cycle_collector():
    async with Canned(reply()) as server:
        pool = HttpPool(server.url)
        await pool.post("/x", b"{}")
        (connection,) = pool._idle
        gone = weakref.ref(connection)
        del connection
        gc.disable()
        try:
            await pool.aclose()
            await asyncio.sleep(0.05)  # connection_lost runs
            assert gone() is None
        finally:
            gc.enable()


def test_auto_picks_lean_for_plain_http_only():
    assert OpenAIModel("m", base_url="http://127.0.0.1:8000/v1").transport == "lean"
    assert OpenAIModel("m", base_url="https://api.example.com/v1").transport == "aiohttp"
    assert OpenAIModel("m", base_url="http://h:1/v1?key=x").transport == "aiohttp"
    assert OpenAIModel("m").transport == "aiohttp"  # api.openai.com
    with pytest.raises(ValueError, match="plain http:// only"):
        OpenAIModel("m", base_url="https://api.example.com/v1", transport="lean")
