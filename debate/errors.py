"""The exception tree of debatelab.

Every error the framework raises on purpose is a :class:`DebateError`. The
tree separates *your* mistakes (fix the input, the message says where) from
the *model's* (recorded in the trace, never fatal) and the *transport's*
(retried when that can help)::

    DebateError
    ├── ConfigError            bad config, card, spec or option (user's fault)
    │   ├── SpecError          a model spec string that does not parse
    │   ├── DatasetError       a bad dataset file or row (file, line, field)
    │   └── TemplateError      a prompt template with unknown or missing fields
    ├── MissingDependencyError an optional extra is not installed
    ├── ModelOutputError       unparseable / empty / refused output (recorded)
    └── TransportError         a backend call failed
        ├── RetryableError     429, 5xx, timeouts, dropped connections
        └── FatalTransportError 401/403/404/400…: retrying cannot help

A run stops on :class:`FatalTransportError` (with the endpoint and status in
the message) and keeps every debate that finished before it.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Iterator

__all__ = [
    "ConfigError",
    "DatasetError",
    "DebateError",
    "FatalTransportError",
    "MissingDependencyError",
    "ModelOutputError",
    "RetryableError",
    "SpecError",
    "TemplateError",
    "TransportError",
    "connection_error",
    "redact",
    "register_secret",
]


_SECRETS: set[str] = set()
_KEY_SHAPES = re.compile(r"(?i)(bearer\s+|x-api-key:?\s*|api[_-]?key[\"']?\s*[:=]\s*[\"']?)"
                         r"[A-Za-z0-9._~+/=-]{8,}|\bsk-[A-Za-z0-9_-]{8,}")


def register_secret(value: str) -> None:
    """Remember a configured secret (an API key) so :func:`redact` removes it from texts."""
    if len(value) >= 8:
        _SECRETS.add(value)


def redact(text: str) -> str:
    """``text`` without any registered secret or anything shaped like an API key.

    Error texts pass through this before they are stored (summary, report, traces)
    or printed: a server that echoes the key in an error body must not leak it.
    """
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, "[redacted]")
    return _KEY_SHAPES.sub(lambda m: (m.group(1) or "") + "[redacted]", text)


class DebateError(Exception):
    """Base class of every error debatelab raises on purpose."""


class ConfigError(DebateError, ValueError):
    """A configuration, card or option is invalid; the message says where."""


class SpecError(ConfigError):
    """A model spec string does not parse."""


class DatasetError(ConfigError):
    """A dataset file or row is invalid; the message names file, line and field."""


class TemplateError(ConfigError):
    """A prompt template uses an unknown field or was rendered without one."""


class MissingDependencyError(DebateError, ImportError):
    """An optional dependency is missing; the message gives the pip command."""


class ModelOutputError(DebateError):
    """A model's output could not be used (empty, refused, unparseable)."""


class TransportError(DebateError):
    """A call to a model backend failed.

    Attributes:
        endpoint: where the call went (no credentials), e.g. ``openai:gpt-4o-mini``.
        status: the HTTP status, when there was one.
        retry_after: seconds the server asked us to wait, when it said so.

    """

    def __init__(
        self,
        message: str,
        *,
        endpoint: str = "",
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(redact(message))
        self.endpoint = endpoint
        self.status = status
        self.retry_after = retry_after

    def __str__(self) -> str:
        where = f" [{self.endpoint}]" if self.endpoint else ""
        status = f" (HTTP {self.status})" if self.status is not None else ""
        return f"{super().__str__()}{status}{where}"


class RetryableError(TransportError):
    """A transient failure: rate limited, server error, timeout, lost connection."""


class FatalTransportError(TransportError):
    """A failure retrying cannot fix: bad key, unknown model, invalid request."""


def classify_status(
    status: int, message: str, *, endpoint: str, retry_after: float | None = None
) -> TransportError:
    """Map an HTTP status to the right transport error (429/408/409/5xx retry)."""
    retryable = status in (408, 409, 429) or status >= 500
    cls = RetryableError if retryable else FatalTransportError
    return cls(message, endpoint=endpoint, status=status, retry_after=retry_after)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` / ``retry-after-ms`` header value, if numeric."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


_CONNECT_REASONS: dict[int, str] = {
    errno.ECONNREFUSED: "connection refused",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
}
_LATER_REASONS: dict[int, str] = {
    errno.ECONNRESET: "connection reset by the server",
    errno.ECONNABORTED: "connection aborted",
    errno.EPIPE: "connection closed by the server",
    errno.ETIMEDOUT: "timed out",
}


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what lies under it (``os_error``, ``__cause__``, ``__context__``)."""
    seen: set[int] = set()
    todo = [exc]
    while todo and len(seen) < 20:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [e for e in (getattr(current, "os_error", None), current.__cause__,
                             current.__context__) if isinstance(e, BaseException)]


def _failure(exc: BaseException) -> tuple[bool, str]:
    """(whether the connection was never made, why) in words, from an exception chain."""
    import socket
    import ssl

    chain = list(_causes(exc))
    for cause in chain:
        if isinstance(cause, socket.gaierror):
            return True, "host name not found"
        if isinstance(cause, ssl.SSLCertVerificationError):
            return True, f"certificate not trusted: {cause.verify_message}"
        if isinstance(cause, ssl.SSLError):
            return True, f"TLS handshake failed: {cause.reason or cause}"
        code = cause.errno if isinstance(cause, OSError) else None
        if code in _CONNECT_REASONS:
            return True, _CONNECT_REASONS[code]
        if code in _LATER_REASONS:
            return False, _LATER_REASONS[code]
        if isinstance(cause, TimeoutError):
            return False, "timed out"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return False, f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def connection_error(url: str, exc: BaseException, *, endpoint: str) -> RetryableError:
    """A :class:`RetryableError` naming ``url`` and saying in words why the request failed.

    ``cannot connect to http://127.0.0.1:9/v1 (connection refused)`` rather than an
    HTTP library's exception repr; the text is redacted like every transport error.
    """
    never_connected, reason = _failure(exc)
    if never_connected:
        return RetryableError(f"cannot connect to {url} ({reason})", endpoint=endpoint)
    return RetryableError(f"request to {url} failed ({reason})", endpoint=endpoint)
