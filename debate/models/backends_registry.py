"""The backend registry model specs name, and the check of a server URL.

The prefix of a model spec (``openai:MODEL``, see :mod:`debate.models.spec`) names a
backend in :data:`BACKENDS`. Built-in backends register themselves when their prefix is
first used (``scripted`` from :mod:`debate.testing`, which this module never imports);
a package adds a provider under the entry-point group ``debatelab.backends``::

    [project.entry-points."debatelab.backends"]
    gemini = "my_package.gemini:create"        # (spec, **options) -> ChatModel

or, in Python, ``@backend("gemini")`` on such a function. A backend whose models
run on the user's own hardware says so (``@backend("mylocal", local=True)``, or an
entry point naming a :class:`Backend` with ``local=True``): its calls are priced at 0
instead of unknown.

:func:`url_problem` checks a server URL in full (scheme ``http``/``https``, a host, a
port from 1 to 65535), for specs and for the endpoints of a pool.

This module sits below the rest of :mod:`debate.models` that uses it (accounting, pools,
specs) and imports none of them.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from debate.errors import hide_password
from debate.models.types import ChatModel
from debate.registry import Registry

__all__ = ["BACKENDS", "Backend", "backend", "url_problem"]


@dataclass(frozen=True)
class Backend:
    """How the models of one spec prefix are built.

    ``create(spec, **options)`` returns the bare model (``options``: the spec's
    ``backend_options`` and, when given, ``api_key``); it should import its SDK
    only when called.
    """

    create: Callable[..., ChatModel]
    """``(spec: ModelSpec, **options) -> ChatModel``."""
    takes_url: bool = False
    """Whether a spec may end in ``@http(s)://HOST/...`` (then ``spec.base_url``)."""
    local: bool = False
    """Whether the model runs on the user's own hardware, so its calls cost no money
    (the price table then charges 0 for it, whatever the model's name)."""


def _as_backend(name: str, loaded: Any) -> Backend:
    """A plug-in's entry point: a :class:`Backend`, or a plain ``create`` function."""
    if isinstance(loaded, Backend):
        return loaded
    if not callable(loaded):
        raise TypeError(f"backend {name!r} must be a Backend or a callable, not "
                        f"{type(loaded).__name__}")
    return Backend(loaded)


BACKENDS: Registry[Backend] = Registry(
    "backend", "backend_name", group="debatelab.backends", adapt=_as_backend,
    lazy={**dict.fromkeys(("openai", "anthropic", "vllm", "llamacpp"), "debate.models.backends"),
          "scripted": "debate.testing.scripted"})
"""Backends by spec prefix; built-ins load on first use, plug-ins from ``debatelab.backends``."""

F = Callable[..., ChatModel]


def backend(name: str, *, takes_url: bool = False, local: bool = False) -> Callable[[F], F]:
    """Decorator registering ``create(spec, **options) -> ChatModel`` as prefix ``name``.

    ``takes_url``: specs may end in ``@http(s)://...``; ``local``: the model runs on the
    user's hardware and its calls cost nothing (see :class:`Backend`).
    """

    def decorate(create: F) -> F:
        BACKENDS[name] = Backend(create, takes_url, local)
        return create

    return decorate


_HOST = re.compile(r"[\w.-]+")  # a name or an IPv4 address (IPv6 comes in brackets)


def url_problem(url: str) -> str | None:
    """What is wrong with a server URL, in words, or ``None`` for a usable one.

    It must be ``http://`` or ``https://``, name a host (a name, an IPv4 address or
    a bracketed IPv6 one) and, if it has a port, a number from 1 to 65535.
    """
    shown = hide_password(url)
    if any(c.isspace() or not c.isprintable() for c in url):
        return f"URL {shown!r} holds a space or a control character"
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # an unclosed '[' of an IPv6 address
        return f"{shown!r} is not a URL ({exc})"
    if parts.scheme.lower() not in ("http", "https"):
        return f"{shown!r} is not an http:// or https:// URL"
    host = parts.hostname
    if not host:
        return f"no host in URL {shown!r}"
    hostport = parts.netloc.rpartition("@")[2]
    if hostport.startswith("["):
        try:
            ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            return f"{host!r} in URL {shown!r} is not an IPv6 address"
    elif not _HOST.fullmatch(host):
        return f"{host!r} in URL {shown!r} is not a host name or IP address"
    port = hostport.rpartition("]")[2].partition(":")[2]
    if port and not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        return f"port {port!r} in URL {shown!r} is not a number from 1 to 65535"
    return None
