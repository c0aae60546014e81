"""Model spec strings, parsed in one place.

Valid forms::

    openai:MODEL                      api.openai.com (key: OPENAI_API_KEY)
    openai:MODEL@http://HOST:PORT/v1  any OpenAI-compatible server
                                      (vllm serve, llama.cpp server, SGLang, Ollama)
    anthropic:MODEL                   Anthropic (key: ANTHROPIC_API_KEY)
    vllm:MODEL                        in-process vLLM engine (debatelab[vllm], GPU)
    llamacpp:smollm2                  embedded SmolLM2-135M-Instruct (debatelab[local])
    llamacpp:PATH.gguf | PATH.gguf    any GGUF file
    scripted:NAME                     deterministic fake (tests, examples)
"""

from __future__ import annotations

import os
import re
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, SecretStr

from debate.errors import ConfigError, SpecError
from debate.models.guard import BLOCK_ENV, is_local
from debate.models.types import ChatModel

__all__ = ["SPEC_FORMS", "ModelSpec", "create_backend", "parse_model_spec"]

SPEC_FORMS = __doc__.split("Valid forms::", 1)[1].strip("\n") if __doc__ else ""

Backend = Literal["openai", "anthropic", "vllm", "llamacpp", "scripted"]
_BACKENDS = ("openai", "anthropic", "vllm", "llamacpp", "scripted")
_KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}


class ModelSpec(BaseModel):
    """A parsed model spec."""

    backend: Backend
    """Which backend serves the model."""
    model: str
    """The model name, path or script name."""
    base_url: str | None = None
    """The server URL (OpenAI-compatible backends only)."""

    def __str__(self) -> str:
        return f"{self.backend}:{self.model}" + (f"@{self.base_url}" if self.base_url else "")


def _bad(spec: str, why: str) -> SpecError:
    return SpecError(f"invalid model spec {spec!r}: {why}. Valid forms:\n{SPEC_FORMS}")


def parse_model_spec(spec: str) -> ModelSpec:
    """Parse a spec string; raise :class:`SpecError` listing the valid forms."""
    text = spec.strip()
    if text.endswith(".gguf") and not text.startswith("llamacpp:"):
        return ModelSpec(backend="llamacpp", model=text)
    backend, sep, rest = text.partition(":")
    if not sep or backend not in _BACKENDS:
        return_reason = f"unknown backend {backend!r}" if sep else "missing 'backend:' prefix"
        raise _bad(spec, return_reason)
    base_url = None
    model, at, url = rest.rpartition("@")
    if at and url.startswith(("http://", "https://")):
        if backend not in ("openai", "anthropic"):
            raise _bad(spec, f"the {backend} backend takes no @URL")
        if not urlsplit(url).netloc:
            raise _bad(spec, f"no host in URL {url!r}")
        base_url = url
    elif at and backend in ("openai", "anthropic") and _looks_like_address(url):
        # never let an address the user wrote fall back to the hosted API as a model name
        raise _bad(spec, f"{url!r} after '@' is not an http:// or https:// URL")
    else:
        model = rest
    if not model:
        raise _bad(spec, "empty model name")
    return ModelSpec(backend=backend, model=model, base_url=base_url)  # type: ignore[arg-type]


def _looks_like_address(text: str) -> bool:
    """``http//host``, ``127.0.0.1:8000/v1``, ``localhost``: an address, not a model version.

    (A version after ``@``, as in Vertex AI's ``claude-3-5-sonnet@20240620``, is left alone.)
    """
    return bool(re.search(r"[/:.]", text)) or text.lower().startswith(("http", "localhost"))


def _api_key(spec: ModelSpec, api_key: SecretStr | str | None) -> SecretStr | None:
    if api_key is not None:
        return api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
    value = os.environ.get(_KEY_ENV.get(spec.backend, ""), "")
    if value:
        return SecretStr(value)
    if spec.base_url is None:
        raise ConfigError(
            f"{spec} needs an API key: set {_KEY_ENV[spec.backend]} in the environment "
            "or pass api_key"
        )
    return None  # local OpenAI-compatible servers usually need none


def create_backend(spec: str | ModelSpec, *, api_key: SecretStr | str | None = None,
                   **options: Any) -> ChatModel:
    """Build the bare backend a spec names (no middleware; see :func:`debate.models.wrap`).

    ``options`` go to the backend's constructor (e.g. ``transport="sdk"`` for
    OpenAI, ``n_ctx=4096`` for llamacpp, engine args for vLLM).
    """
    parsed = parse_model_spec(spec) if isinstance(spec, str) else spec
    if parsed.backend in ("openai", "anthropic") and not is_local(parsed.base_url):
        if os.environ.get(BLOCK_ENV) == "1":
            raise ConfigError(f"{parsed} would reach a hosted API, blocked by {BLOCK_ENV}=1")
    if parsed.backend == "openai":
        from debate.models.openai_backend import OpenAIModel

        return OpenAIModel(parsed.model, base_url=parsed.base_url,
                           api_key=_api_key(parsed, api_key), **options)
    if parsed.backend == "anthropic":
        from debate.models.anthropic_backend import AnthropicModel

        return AnthropicModel(parsed.model, base_url=parsed.base_url,
                              api_key=_api_key(parsed, api_key), **options)
    if parsed.backend == "vllm":
        from debate.models.vllm_backend import VLLMModel

        return VLLMModel(parsed.model, **options)
    if parsed.backend == "llamacpp":
        from debate.models.llamacpp import LlamaCppModel

        return LlamaCppModel(parsed.model, **options)
    from debate.testing.scripted import scripted_from_name

    return scripted_from_name(parsed.model)
