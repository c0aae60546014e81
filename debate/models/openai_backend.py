"""OpenAI and every OpenAI-compatible server (vLLM, llama.cpp, SGLang, Ollama).

Three transports speak the same chat-completions protocol; ``auto`` (the
default) picks ``lean`` for a plain ``http://`` URL and ``aiohttp`` otherwise:

- ``lean``: keep-alive connections of our own (:class:`debate.models.http.HttpPool`,
  ``httptools`` parsing the replies) posting the body we build ourselves. About
  0.13 ms of CPU per call, so a 2-core client keeps up with a fast local server.
  Plain HTTP only: no TLS, proxies or redirects.
- ``aiohttp``: one pooled ``aiohttp`` session, for ``https://`` and everything
  else HTTP offers. About 0.3 ms of CPU per call.
- ``sdk``: the official ``AsyncOpenAI`` client (its own retries off, so every
  retry is ours, visible and counted once). Costs 2-3 ms of CPU per call,
  mostly re-validating the whole message history.

All map failures to :class:`RetryableError` / :class:`FatalTransportError`; a
request that never got an HTTP reply says so in words, naming the URL (a connection
never made is an :class:`~debate.errors.UnreachableError`), and a reply that is not
the JSON the API promises is a :class:`~debate.errors.MalformedReplyError`
(``malformed`` in the error counts). A user and password in the URL
(``http://user:pass@host``) are sent as HTTP basic auth, instead of the key (one
``Authorization`` header holds one), and the password is shown nowhere: names and
messages carry ``http://user:***@host``.

The session (or client) opens on the first call and belongs to the model:
close it with ``await model.aclose()`` or ``async with model:`` before the
event loop ends. A closed model opens a new one on its next call.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

import orjson
from pydantic import SecretStr

from debate.errors import (
    MalformedReplyError,
    classify_status,
    connection_error,
    hide_password,
    parse_retry_after,
    register_secret,
    register_url_password,
)
from debate.models.guard import check_request
from debate.models.http import HttpPool, MalformedResponse
from debate.models.types import (
    DEFAULT_CAPABILITIES,
    Capabilities,
    Closeable,
    Completion,
    Message,
    SamplingParams,
    TokenLogprob,
    Usage,
)

__all__ = [
    "OpenAIModel",
    "parse_response",
    "request_body",
    "response_format",
    "sampling_kwargs",
]

OPENAI_URL = "https://api.openai.com/v1"


def sampling_kwargs(params: SamplingParams) -> dict[str, Any]:
    """The set sampling parameters under their OpenAI names (``sampler`` is never sent)."""
    kwargs: dict[str, Any] = {}
    for key in ("temperature", "top_p", "max_tokens", "seed"):
        value = getattr(params, key)
        if value is not None:
            kwargs[key] = value
    if params.stop:
        kwargs["stop"] = list(params.stop)
    if params.logprobs:
        kwargs["logprobs"] = True
        if params.top_logprobs:
            kwargs["top_logprobs"] = params.top_logprobs
    return kwargs


Structured = Literal["json_schema", "json_object"]


def response_format(schema: dict[str, Any], structured: Structured) -> dict[str, Any]:
    """The ``response_format`` asking for JSON that follows ``schema``.

    ``json_schema`` is what OpenAI and ``vllm serve`` take; ``json_object`` with a
    ``schema`` is what the llama.cpp servers (and llama-cpp-python) take.
    """
    if structured == "json_object":
        return {"type": "json_object", "schema": schema}
    return {"type": "json_schema",
            "json_schema": {"name": str(schema.get("title", "reply")), "schema": schema}}


def request_body(model: str, messages: Sequence[Message], params: SamplingParams,
                 structured: Structured = "json_schema") -> dict[str, Any]:
    """The chat-completions request body for one call."""
    body = {
        "model": model,
        "messages": [{"role": m.role, "content": m.content} for m in messages],
        **sampling_kwargs(params),
    }
    if params.json_schema is not None:
        body["response_format"] = response_format(params.json_schema, structured)
    return body


def parse_response(data: dict[str, Any], *, endpoint: str, latency: float) -> Completion:
    """A :class:`Completion` from a chat-completions JSON response.

    Raises :class:`MalformedReplyError` when ``data`` is not that shape.
    """
    try:
        return _parse(data, latency)
    except (KeyError, IndexError, TypeError, AttributeError, ValueError) as exc:
        raise MalformedReplyError(f"malformed reply: not a chat completion ({exc!r})"[:300],
                                  endpoint=endpoint) from exc


def _parse(data: dict[str, Any], latency: float) -> Completion:
    choice = data["choices"][0]
    text = choice["message"].get("content") or ""
    usage = data.get("usage") or {}
    logprobs = None
    content = (choice.get("logprobs") or {}).get("content")
    if content:
        logprobs = [
            TokenLogprob(
                token=str(item["token"]),
                logprob=float(item["logprob"]),
                top={str(t["token"]): float(t["logprob"])
                     for t in item.get("top_logprobs") or []} or None,
            )
            for item in content
        ]
    return Completion(
        text=text,
        finish_reason=choice.get("finish_reason"),
        usage=Usage(
            prompt_tokens=usage.get("prompt_tokens") or 0,
            completion_tokens=usage.get("completion_tokens") or 0,
            cached_tokens=(usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0,
        ),
        latency=latency,
        model=data.get("model") or "",
        logprobs=logprobs,
    )


class OpenAIModel(Closeable):
    """A chat model behind the OpenAI chat-completions API.

    Holds one HTTP session (or SDK client), opened on the first call: close it
    with :meth:`aclose` or ``async with model:``.

    Args:
        model: the model name the server knows, e.g. ``gpt-4o-mini``.
        base_url: the server's ``/v1`` URL; ``None`` means api.openai.com.
        api_key: the key; held as a ``SecretStr`` and never written anywhere.
        transport: ``auto`` (default: ``lean`` for ``http://`` URLs, else ``aiohttp``),
            ``lean``, ``aiohttp`` or ``sdk`` (``AsyncOpenAI``); see the module's docstring.
        structured: how structured output is asked for: ``json_schema`` (OpenAI,
            vLLM) or ``json_object`` (llama.cpp servers).
        extra_body: extra request fields (e.g. vLLM's ``structured_outputs``).

    """

    capabilities: ClassVar[Capabilities] = DEFAULT_CAPABILITIES
    """A server over the network: limited, and each attempt timed."""

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: SecretStr | str | None = None,
        transport: Literal["auto", "lean", "aiohttp", "sdk"] = "auto",
        structured: Structured = "json_schema",
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.name = f"openai:{model}"
        self.base_url = (base_url or OPENAI_URL).rstrip("/")
        """Where requests go (with any password in it: shown nowhere, see ``url``)."""
        self.url = hide_password(self.base_url)
        """The base URL as messages show it (a password as ``***``)."""
        register_url_password(self.base_url)
        self.endpoint = f"{self.name}@{self.url}" if base_url else self.name
        self.api_key = api_key if isinstance(api_key, SecretStr | None) else SecretStr(api_key)
        if self.api_key is not None:
            register_secret(self.api_key.get_secret_value())
        if transport == "auto":
            transport = "lean" if _plain_http(self.base_url) else "aiohttp"
        elif transport == "lean" and not _plain_http(self.base_url):
            raise ValueError(f"transport 'lean' speaks plain http:// only (no user:password), "
                             f"not {self.url}: use 'aiohttp' (or 'auto')")
        self.transport: Literal["lean", "aiohttp", "sdk"] = transport
        self.structured = structured
        self.extra_body = extra_body or {}
        self._session: Any = None
        self._client: Any = None
        self._pool: HttpPool | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def generate(self, messages: Sequence[Message], params: SamplingParams) -> Completion:
        """Send one chat-completions request."""
        check_request(self.base_url, self.endpoint)
        body = request_body(self.model, messages, params, self.structured)
        body.update(self.extra_body)
        if self.transport == "lean":
            return await self._generate_lean(body)
        if self.transport == "sdk":
            return await self._generate_sdk(body)
        return await self._generate_aiohttp(body)

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        # a URL's user:password is the Authorization (basic auth): one header holds one
        if self.api_key is not None and urlsplit(self.base_url).username is None:
            headers["Authorization"] = f"Bearer {self.api_key.get_secret_value()}"
        return headers

    def _bind_loop(self) -> bool:
        """True when clients must be (re)made: first use, or a new event loop."""
        loop = asyncio.get_running_loop()
        fresh = self._loop is not loop
        self._loop = loop
        return fresh

    async def _generate_lean(self, body: dict[str, Any]) -> Completion:
        pool = self._pool
        if pool is None:
            pool = self._pool = HttpPool(self.base_url, self._headers())
        start = time.perf_counter()
        try:
            status, retry_after, raw = await pool.post("/chat/completions", _encode(body))
        except MalformedResponse as exc:
            raise MalformedReplyError(f"malformed reply from {self.url}: {exc}",
                                      endpoint=self.endpoint) from exc
        except OSError as exc:
            raise connection_error(self.base_url, exc, endpoint=self.endpoint) from exc
        return self._completion(status, retry_after, raw, start)

    def _completion(self, status: int, retry_after: str | None, raw: bytes,
                    start: float) -> Completion:
        """The completion in an HTTP reply, or the error its status means."""
        if status >= 400:
            raise classify_status(status, _error_text(raw), endpoint=self.endpoint,
                                  retry_after=parse_retry_after(retry_after))
        try:
            data = _decode(raw)
        except ValueError as exc:
            raise MalformedReplyError(f"malformed reply from {self.url}: not JSON "
                                      f"({len(raw)} bytes)", endpoint=self.endpoint) from exc
        return parse_response(data, endpoint=self.endpoint, latency=time.perf_counter() - start)

    async def _generate_aiohttp(self, body: dict[str, Any]) -> Completion:
        import aiohttp

        if self._bind_loop() or self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300),
                headers=self._headers(),
                timeout=aiohttp.ClientTimeout(total=None),
            )
        url = self.base_url + "/chat/completions"
        start = time.perf_counter()
        try:
            async with self._session.post(url, data=_encode(body)) as resp:
                raw = await resp.read()
                status, retry_after = resp.status, resp.headers.get("Retry-After")
        except aiohttp.ClientError as exc:
            raise connection_error(self.base_url, exc, endpoint=self.endpoint) from exc
        return self._completion(status, retry_after, raw, start)

    async def _generate_sdk(self, body: dict[str, Any]) -> Completion:
        import openai

        if self._bind_loop() or self._client is None:
            key = self.api_key.get_secret_value() if self.api_key is not None else "EMPTY"
            self._client = openai.AsyncOpenAI(
                api_key=key, base_url=self.base_url, max_retries=0, timeout=None
            )
        start = time.perf_counter()
        try:
            response = await self._client.chat.completions.create(**body)
        except openai.APIStatusError as exc:
            retry_after = parse_retry_after(exc.response.headers.get("retry-after"))
            raise classify_status(exc.status_code, str(exc.message), endpoint=self.endpoint,
                                  retry_after=retry_after) from exc
        except openai.APIConnectionError as exc:
            raise connection_error(self.base_url, exc, endpoint=self.endpoint) from exc
        except (openai.APIResponseValidationError, json.JSONDecodeError) as exc:
            raise MalformedReplyError(f"malformed reply from {self.url}: {exc}"[:300],
                                      endpoint=self.endpoint) from exc
        # the SDK hands back JSON that is not an object as it is
        data = response.model_dump(warnings=False) if hasattr(response, "model_dump") else response
        return parse_response(data, endpoint=self.endpoint, latency=time.perf_counter() - start)

    async def aclose(self) -> None:
        """Close the HTTP session or client (the next call opens a new one)."""
        session, client, pool = self._session, self._client, self._pool
        self._session = self._client = self._pool = None
        if pool is not None:
            await pool.aclose()
        if session is not None and not session.closed:
            await session.close()
        if client is not None:
            await client.close()


def _plain_http(url: str) -> bool:
    """True for an ``http://host[:port]/path`` URL the lean transport can serve."""
    parts = urlsplit(url)
    return (parts.scheme == "http" and bool(parts.hostname) and not parts.query
            and not parts.fragment and parts.username is None)


def _encode(body: dict[str, Any]) -> bytes:
    """The request body as JSON bytes (orjson; the standard library for what it refuses)."""
    try:
        return orjson.dumps(body)
    except TypeError:  # e.g. an int beyond 64 bits or a non-string key in extra_body
        return json.dumps(body).encode()


def _decode(raw: bytes) -> Any:
    """A JSON reply (orjson; the standard library for what it refuses, as ``NaN``)."""
    try:
        return orjson.loads(raw)
    except ValueError:
        return json.loads(raw)


def _error_text(raw: bytes) -> str:
    try:
        data = json.loads(raw)
        error = data.get("error", data)
        return str(error.get("message", error) if isinstance(error, dict) else error)[:500]
    except (ValueError, AttributeError):
        return raw[:500].decode("utf-8", "replace") or "empty error body"

