"""Model spec strings, parsed in one place, and the bare backends they name, built.

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

The prefix names a backend in
:data:`~debate.models.backends_registry.BACKENDS` (built-ins, plug-ins under the
entry-point group ``debatelab.backends``, ``@backend``: see
:mod:`debate.models.backends_registry`, which also holds the URL check).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, SecretStr

from debate.errors import ConfigError, SpecError, hide_password, register_url_password
from debate.models.backends_registry import BACKENDS, Backend, url_problem
from debate.models.types import ChatModel

__all__ = ["SPEC_FORMS", "ModelSpec", "create_backend", "parse_model_spec"]

SPEC_FORMS = __doc__.split("Valid forms::", 1)[1].split("\n\n", 2)[1] if __doc__ else ""


class ModelSpec(BaseModel):
    """A parsed model spec."""

    backend: str
    """Which backend serves the model: a name in
    :data:`~debate.models.backends_registry.BACKENDS` (``openai``...)."""
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


def _bad(spec: str, why: str) -> SpecError:
    return SpecError(f"invalid model spec {hide_password(spec)!r}: {why}. "
                     f"Valid forms:\n{SPEC_FORMS}")


_AT_URL = re.compile(r"@(?=https?://)", re.IGNORECASE)


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

        return EndpointPool.create(parsed, [Endpoint(url=url) for url in parsed.pool],
                                   create=create_backend, **options)
    return BACKENDS.lookup(parsed.backend).create(parsed, **options)
