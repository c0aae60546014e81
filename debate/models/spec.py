"""Model spec strings, parsed in one place, and the backend registry they name.

Valid forms::

    openai:MODEL                      api.openai.com (key: OPENAI_API_KEY)
    openai:MODEL@http://HOST:PORT/v1  any OpenAI-compatible server
                                      (vllm serve, llama.cpp server, SGLang, Ollama)
    openai:MODEL@URL,URL,...          replicas of one model: an endpoint pool
    anthropic:MODEL                   Anthropic (key: ANTHROPIC_API_KEY)
    vllm:MODEL                        in-process vLLM engine (debatelab[vllm], GPU)
    llamacpp:smollm2                  embedded SmolLM2-135M-Instruct (debatelab[local])
    llamacpp:PATH.gguf | PATH.gguf    any GGUF file
    scripted:NAME                     deterministic fake (tests, examples)
    PREFIX:MODEL                      a plug-in backend (entry-point group debatelab.backends)

A URL is checked in full when the spec is parsed (scheme ``http``/``https``, a
host, a port from 1 to 65535): a typo fails before a run starts, naming the spec
and what is wrong. A password in a URL (``http://user:pass@host/v1``) is shown
as ``***`` wherever the spec is (its ``str``, errors) and redacted from error texts.

The prefix names a backend in :data:`BACKENDS`. Built-in backends register
themselves when their prefix is first used (``scripted`` from
:mod:`debate.testing`, which this module never imports); a package adds a
provider under the entry-point group ``debatelab.backends``::

    [project.entry-points."debatelab.backends"]
    gemini = "my_package.gemini:create"        # (spec, **options) -> ChatModel

or, in Python, ``@backend("gemini")`` on such a function. A backend whose models
run on the user's own hardware says so (``@backend("mylocal", local=True)``, or an
entry point naming a :class:`Backend` with ``local=True``): its calls are priced at 0
instead of unknown.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, SecretStr

from debate.errors import ConfigError, SpecError, hide_password, register_url_password
from debate.models.types import ChatModel
from debate.registry import Registry

__all__ = ["BACKENDS", "SPEC_FORMS", "Backend", "ModelSpec", "backend", "create_backend",
           "parse_model_spec", "url_problem"]

SPEC_FORMS = __doc__.split("Valid forms::", 1)[1].split("\n\n", 2)[1] if __doc__ else ""


class ModelSpec(BaseModel):
    """A parsed model spec."""

    backend: str
    """Which backend serves the model: a name in :data:`BACKENDS` (``openai``...)."""
    model: str
    """The model name, path or script name."""
    base_url: str | None = None
    """The server URL (backends that take one: OpenAI-compatible, Anthropic); a pool's first."""
    pool: list[str] = []
    """Every URL when the spec names several replicas (``@URL,URL``): an endpoint pool
    (:mod:`debate.models.pool`); empty for one server."""

    def __str__(self) -> str:
        """The spec as written, with any password in its URLs shown as ``***``."""
        urls = ",".join(self.pool) if self.pool else self.base_url
        return f"{self.backend}:{self.model}" + (f"@{hide_password(urls)}" if urls else "")


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


def _bad(spec: str, why: str) -> SpecError:
    return SpecError(f"invalid model spec {hide_password(spec)!r}: {why}. "
                     f"Valid forms:\n{SPEC_FORMS}")


_AT_URL = re.compile(r"@(?=https?://)", re.IGNORECASE)
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


def _entry(spec: str, prefix: str) -> Backend:
    try:
        return BACKENDS.lookup(prefix)
    except ConfigError as exc:
        raise _bad(spec, str(exc)) from None


def parse_model_spec(spec: str) -> ModelSpec:
    """Parse a spec string; raise :class:`SpecError` listing the valid forms."""
    text = spec.strip()
    if text.endswith(".gguf") and not text.startswith("llamacpp:"):
        return ModelSpec(backend="llamacpp", model=text)
    prefix, sep, rest = text.partition(":")
    if not sep:
        raise _bad(spec, "missing 'backend:' prefix")
    entry = _entry(spec, prefix)
    base_url, pool = None, []
    model, at, url = rest.rpartition("@")
    first = _AT_URL.search(rest)  # the URL's own '@' (user:password@host) comes after it
    if first is not None:
        model, at, url = rest[:first.start()], "@", rest[first.end():]
    if at and url.lower().startswith(("http://", "https://")):
        if not entry.takes_url:
            raise _bad(spec, f"the {prefix} backend takes no @URL")
        urls = [u.strip() for u in url.split(",")]
        for item in urls:
            problem = url_problem(item)
            if problem is not None:
                raise _bad(spec, problem)
            register_url_password(item)
        if len(set(urls)) < len(urls):
            raise _bad(spec, "a URL is listed twice")
        base_url = urls[0]
        pool = urls if len(urls) > 1 else []
    elif at and entry.takes_url and _looks_like_address(url):
        # never let an address the user wrote fall back to the hosted API as a model name
        raise _bad(spec, f"{url!r} after '@' is not an http:// or https:// URL")
    else:
        model = rest
    if not model:
        raise _bad(spec, "empty model name")
    return ModelSpec(backend=prefix, model=model, base_url=base_url, pool=pool)


def _looks_like_address(text: str) -> bool:
    """``http//host``, ``127.0.0.1:8000/v1``, ``localhost``: an address, not a model version.

    (A version after ``@``, as in Vertex AI's ``claude-3-5-sonnet@20240620``, is left alone.)
    """
    return bool(re.search(r"[/:.]", text)) or text.lower().startswith(("http", "localhost"))


def create_backend(spec: str | ModelSpec, *, api_key: SecretStr | str | None = None,
                   **options: Any) -> ChatModel:
    """Build the bare backend a spec names (no middleware; see :func:`debate.models.wrap`).

    ``options`` go to the backend's constructor (e.g. ``transport="sdk"`` for
    OpenAI, ``n_ctx=4096`` for llamacpp, engine args for vLLM). A spec naming
    several URLs gives an :class:`~debate.models.pool.EndpointPool` of one backend
    per URL, each with the default :class:`~debate.models.Limits`.
    """
    parsed = parse_model_spec(spec) if isinstance(spec, str) else spec
    if api_key is not None:
        options["api_key"] = api_key
    if parsed.pool:  # replicas: one backend each, default limits (see EndpointPool.create)
        from debate.models.pool import Endpoint, EndpointPool

        return EndpointPool.create(parsed, [Endpoint(url=url) for url in parsed.pool], **options)
    return BACKENDS.lookup(parsed.backend).create(parsed, **options)
