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
        │   ├── UnreachableError    never connected: refused, host not found, TLS failure
        │   ├── OutageError         every endpoint of a pool out of rotation too long
        │   └── MalformedReplyError an answer that is not the JSON expected
        └── FatalTransportError 401/403/404/400…: retrying cannot help
            └── BatchRefusedError  a Batch API refused a whole batch

A failed call fails its *debate* or stops the *run*, as :func:`stops_run`
decides. A run stops on what would fail every call: a refused key, account or
model (HTTP 401, 402, 403, 404, or a refusal without a status such as the
hosted-API guard), an endpoint that refuses connections
(:mod:`debate.models.reach`), a pool with every endpoint out past its outage
limit. Everything else (HTTP 500 or a timeout still failing after every
retry, a 400 for a prompt too long for the context) is the question's: that
debate is recorded as failed and the others go on, unless debates keep failing
so while no call is answered anywhere (:class:`debate.experiment.shard.Outage`: an
endpoint down). Either way every finished debate is kept.

Secrets never reach a text a person or a file sees: :func:`redact` removes every
registered key (:func:`register_secret`), whatever its length, text shaped like a
key, and the password of any URL (``http://user:***@host/v1``,
:func:`hide_password`).
"""

from __future__ import annotations

import errno
import re
from collections.abc import Iterator
from typing import ClassVar

__all__ = [
    "BatchRefusedError",
    "ConfigError",
    "DatasetError",
    "DebateError",
    "FatalTransportError",
    "MalformedReplyError",
    "MissingDependencyError",
    "ModelOutputError",
    "OutageError",
    "RetryableError",
    "SpecError",
    "TemplateError",
    "TransportError",
    "UnreachableError",
    "connection_error",
    "hide_password",
    "redact",
    "register_secret",
    "register_url_password",
    "stops_run",
]


_SECRETS: set[str] = set()
_LONG_SECRET = 8
"""Secrets this long or longer are removed wherever they occur; shorter ones only as a
whole token (see :func:`redact`)."""
_KEY_SHAPES = re.compile(r"(?i)(bearer\s+|basic\s+|x-api-key:?\s*|"
                         r"api[_-]?key[\"']?\s*[:=]\s*[\"']?)[A-Za-z0-9._~+/=-]{8,}"
                         r"|\bsk-[A-Za-z0-9_-]{8,}")
"""Text shaped like a credential: an ``Authorization`` header's value (a bearer token, a
``Basic`` user and password), an ``api_key`` field, an ``sk-`` key."""
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s/?#@:]*):\S*@")
"""The password of a URL's userinfo: from the user's ``:`` to the last ``@`` of the URL,
whatever lies between (an ``@``, ``/``, ``?`` or ``#`` that should have been percent-encoded
included: such a URL may not parse, and its error must not show the password). When in
doubt it hides more: a URL without a password but with an ``@`` in its path loses the part
between its port and that ``@`` from view."""


def register_secret(value: str) -> None:
    """Remember a configured secret (an API key, a password) so :func:`redact` removes it.

    Every non-empty value counts, however short (a 7-character key once reached
    ``summary.json``); see :func:`redact` for how short ones are matched.
    """
    if value.strip():
        _SECRETS.add(value)


def register_url_password(url: str) -> None:
    """Register the password in ``url``'s userinfo, if any, as a secret (see :func:`redact`).

    As written, percent-decoded, and as the ``Basic`` token a server may echo back.
    """
    from base64 import b64encode
    from urllib.parse import unquote

    found = _URL_PASSWORD.search(url)
    raw = found.group(0)[len(found.group(1)) + 1:-1] if found else ""
    if not raw:
        return
    user = unquote(found.group(1).partition("://")[2]) if found else ""
    password = unquote(raw)
    for value in (raw, password, b64encode(f"{user}:{password}".encode()).decode()):
        register_secret(value)


def hide_password(url: str) -> str:
    """``url`` with the password of its userinfo shown as ``***``: ``http://user:***@host/v1``.

    The form every URL a person or a file sees takes (specs, endpoints, error texts,
    ``config.json``); the real URL is kept only where requests are sent from.
    """
    return _URL_PASSWORD.sub(r"\1:***@", url)


def _short_secret(secret: str) -> re.Pattern[str]:
    """``secret`` as a whole token: not part of a longer run of letters and digits."""
    return re.compile(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])")


def redact(text: str) -> str:
    """``text`` without any registered secret, anything shaped like a key, or a URL password.

    Error texts pass through this before they are stored (summary, report, traces)
    or printed: a server that echoes the key in an error body must not leak it.

    A registered secret of 8 characters or more is removed wherever it occurs. A
    shorter one only where it stands as a whole token (not inside a longer run of
    letters and digits): a 3-character key such as ``abc`` must go from ``Bearer abc``
    or ``"key": "abc"``, but not turn ``abcdef`` or ``fabcon`` into nonsense. A key
    that short still replaces a word or number equal to it; that is the price of never
    showing it, and ``[redacted]`` says where it happened.
    """
    for secret in sorted(_SECRETS, key=len, reverse=True):  # a longer one that holds a shorter
        if secret not in text:
            continue
        if len(secret) >= _LONG_SECRET:
            text = text.replace(secret, "[redacted]")
        else:
            text = _short_secret(secret).sub("[redacted]", text)
    text = _URL_PASSWORD.sub(r"\1:***@", text)
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

    category: ClassVar[str] = "connection"
    """How :attr:`kind` counts an error without an HTTP status."""

    def __init__(
        self,
        message: str,
        *,
        endpoint: str = "",
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(redact(message))
        self.endpoint = redact(endpoint)
        self.status = status
        self.retry_after = retry_after

    @property
    def kind(self) -> str:
        """What ``CallStats.errors`` counts it as: ``HTTP 429``, ``malformed``, ``connection``."""
        return f"HTTP {self.status}" if self.status is not None else self.category

    def __str__(self) -> str:
        where = f" [{self.endpoint}]" if self.endpoint else ""
        status = f" (HTTP {self.status})" if self.status is not None else ""
        return f"{super().__str__()}{status}{where}"


class RetryableError(TransportError):
    """A transient failure: rate limited, server error, timeout, lost connection."""


class UnreachableError(RetryableError):
    """The connection was never made: refused, host not found, TLS handshake failed.

    Attributes:
        url: the address tried (its password hidden).
        reason: why, in words (``connection refused``).
        hint: what to check (``is the server running?``).

    """

    def __init__(self, message: str, *, endpoint: str = "", url: str = "", reason: str = "",
                 hint: str = "is the server running?") -> None:
        super().__init__(message, endpoint=endpoint)
        self.url = hide_password(url)
        self.reason = reason
        self.hint = hint


class OutageError(RetryableError):
    """Every endpoint of a pool has been out of rotation for longer than its outage limit."""


class MalformedReplyError(RetryableError):
    """The server answered, but its body is not JSON, or not the shape the API promises."""

    category = "malformed"


class FatalTransportError(TransportError):
    """A failure retrying cannot fix: bad key, unknown model, invalid request."""


class BatchRefusedError(FatalTransportError):
    """A Batch API refused a whole batch (a 400 or 413 at create): the run's, not an item's."""


def classify_status(
    status: int, message: str, *, endpoint: str, retry_after: float | None = None
) -> TransportError:
    """Map an HTTP status to the right transport error (429/408/409/5xx retry)."""
    retryable = status in (408, 409, 429) or status >= 500
    cls = RetryableError if retryable else FatalTransportError
    return cls(message, endpoint=endpoint, status=status, retry_after=retry_after)


RUN_STATUSES = frozenset({401, 402, 403, 404})
"""HTTP statuses about the key, the account or the model, not the prompt: every call gets them."""


def stops_run(exc: BaseException) -> bool:
    """Whether a failed call stops the whole run, rather than failing its debate only.

    True for what every other call would meet too: a status of :data:`RUN_STATUSES`,
    a fatal refusal without a status (the hosted-API guard), a connection never made
    (:class:`UnreachableError`, once retries end), a pool outage (:class:`OutageError`)
    and a whole batch refused (:class:`BatchRefusedError`), also when wrapped in the
    error retries give up with.
    A 400 (a prompt over the context window, a request the server rejects), and a
    500, 429 or timeout still failing after every retry, belong to one call's
    question: ``False``.
    """
    for cause in _causes(exc):
        if isinstance(cause, UnreachableError | OutageError | BatchRefusedError):
            return True
        if isinstance(cause, FatalTransportError):
            return cause.status is None or cause.status in RUN_STATUSES
    return False


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


def _hint(reason: str) -> str:
    """What to check when a connection was never made for ``reason``."""
    if reason == "host name not found":
        return "is the host name right?"
    if reason.startswith(("certificate", "TLS")):
        return "is the URL's scheme (http/https) right, and its certificate trusted?"
    return "is the server running?"


def connection_error(url: str, exc: BaseException, *, endpoint: str) -> RetryableError:
    """A :class:`RetryableError` naming ``url`` and saying in words why the request failed.

    ``cannot connect to http://127.0.0.1:9/v1 (connection refused)`` rather than an
    HTTP library's exception repr; the text is redacted like every transport error.
    A connection never made is an :class:`UnreachableError`.
    """
    url = hide_password(url)
    never_connected, reason = _failure(exc)
    if never_connected:
        return UnreachableError(f"cannot connect to {url} ({reason})", endpoint=endpoint,
                                url=url, reason=reason, hint=_hint(reason))
    return RetryableError(f"request to {url} failed ({reason})", endpoint=endpoint)
