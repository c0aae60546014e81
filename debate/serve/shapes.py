"""OpenAI chat-completions shapes: the request a client sends, the replies and errors it reads.

:func:`parse_chat_request` turns a request body into a :class:`ChatRequest` or raises
:class:`ApiError`, whose :meth:`~ApiError.body` is OpenAI's error shape
(``{"error": {"message", "type", "param", "code"}}``), so an SDK raises its usual
``BadRequestError``, ``AuthenticationError``, ``NotFoundError`` or ``RateLimitError``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

__all__ = ["ApiError", "ChatRequest", "completion_body", "completion_chunks",
           "parse_chat_request"]


class ApiError(Exception):
    """A request the server refuses, as an HTTP status and OpenAI's error object."""

    def __init__(self, status: int, message: str, *, kind: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind
        self.param = param
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """``{"error": {"message", "type", "param", "code"}}``."""
        return {"error": {"message": self.message, "type": self.kind, "param": self.param,
                          "code": self.code}}


@dataclass(frozen=True)
class ChatRequest:
    """What a served debate reads from a chat-completions request."""

    model: str
    """The model id: which debate configuration answers."""
    messages: tuple[tuple[str, str], ...]
    """``(role, text)`` of every message, in order."""
    question: str
    """The last user message: the debate's question."""
    system: str | None
    """The system (or developer) messages joined, if any: instructions for the agents."""
    seed: int | None
    """The request's seed: another seed is another debate (not a replay)."""
    stream: bool
    """Answer as server-sent events."""
    include_usage: bool
    """``stream_options.include_usage``: a last chunk carries ``usage``."""


def _text(content: object, index: int) -> str:
    """A message's text: a string, or the ``text`` parts of a content list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(
                    part.get("text"), str):
                raise ApiError(400, f"messages[{index}].content: only text parts are "
                               f"served, got {str(part)[:80]}", param=f"messages[{index}]")
            parts.append(part["text"])
        return "\n".join(parts)
    raise ApiError(400, f"messages[{index}].content: a string or a list of text parts, "
                   f"not {type(content).__name__}", param=f"messages[{index}].content")


def _messages(value: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list) or not value:
        raise ApiError(400, "messages: a non-empty list of {role, content} objects",
                       param="messages")
    out = []
    for i, message in enumerate(value):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise ApiError(400, f"messages[{i}]: an object with a string role, got "
                           f"{str(message)[:80]}", param=f"messages[{i}]")
        content = message.get("content")
        if content is None and message["role"] == "assistant":  # a tool call's turn: no text
            content = ""
        out.append((message["role"], _text("" if content is None and "content" not in message
                                           else content, i)))
    return tuple(out)


def parse_chat_request(body: object) -> ChatRequest:
    """The request, checked: a model id, messages with a user message, typed options."""
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ApiError(400, "model: a model id (see GET /v1/models)", param="model")
    messages = _messages(body.get("messages"))
    users = [text for role, text in messages if role == "user"]
    if not users or not users[-1].strip():
        raise ApiError(400, "messages: no user message with text; the last user message "
                       "is the debate's question", param="messages")
    system = "\n\n".join(text for role, text in messages if role in ("system", "developer"))
    seed = body.get("seed")
    if seed is not None and type(seed) is not int:
        raise ApiError(400, f"seed: a whole number, not {seed!r}", param="seed")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise ApiError(400, f"stream: true or false, not {stream!r}", param="stream")
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise ApiError(400, "stream_options: an object", param="stream_options")
    n = body.get("n")
    if n is not None and (type(n) is not int or n != 1):
        raise ApiError(400, f"n: a served debate gives one choice (n=1), not {n!r}", param="n")
    for unserved in ("tools", "functions", "response_format"):
        if body.get(unserved):
            raise ApiError(400, f"{unserved}: a served debate answers in text, its final "
                           "answer first; it calls no tools and follows no response format",
                           param=unserved)
    return ChatRequest(model=model, messages=messages, question=users[-1],
                       system=system or None, seed=seed, stream=stream,
                       include_usage=bool(options.get("include_usage")))


def _usage(debate: dict[str, Any]) -> dict[str, int]:
    prompt, completion = debate["prompt_tokens"], debate["completion_tokens"]
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}


def completion_body(request_id: str, model: str, content: str,
                    debate: dict[str, Any]) -> dict[str, Any]:
    """A ``chat.completion`` object, with the debate's record under ``debate``."""
    return {"id": request_id, "object": "chat.completion", "created": int(time.time()),
            "model": model, "system_fingerprint": None,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "logprobs": None, "finish_reason": "stop"}],
            "usage": _usage(debate), "debate": debate}


def completion_chunks(request_id: str, model: str, content: str, debate: dict[str, Any],
                      include_usage: bool) -> list[dict[str, Any]]:
    """The same reply as ``chat.completion.chunk`` objects (the content in one delta)."""
    base = {"id": request_id, "object": "chat.completion.chunk", "created": int(time.time()),
            "model": model, "system_fingerprint": None}

    def chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                     "finish_reason": finish}]}

    chunks = [chunk({"role": "assistant", "content": ""}, None),
              chunk({"content": content}, None),
              {**chunk({}, "stop"), "debate": debate}]
    if include_usage:
        chunks.append({**base, "choices": [], "usage": _usage(debate)})
    return chunks
