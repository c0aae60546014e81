"""The built-in backends, registered by spec prefix when one of them is first used.

Each factory imports its backend module (and SDK) only when called. ``openai``
and ``anthropic`` take an ``@URL``, read their API key from the environment
(or ``api_key``), and refuse a hosted API under ``DEBATELAB_BLOCK_HOSTED=1``.
``scripted`` registers itself from :mod:`debate.testing.scripted`.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import SecretStr

from debate.errors import ConfigError
from debate.models.backends_registry import backend
from debate.models.guard import BLOCK_ENV, is_local
from debate.models.spec import ModelSpec
from debate.models.types import ChatModel

__all__ = ["anthropic", "llamacpp", "openai", "vllm"]

_KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}


def _hosted(spec: ModelSpec, api_key: SecretStr | str | None) -> SecretStr | None:
    """The API key for ``spec``, after refusing a hosted API when hosted calls are blocked."""
    if not is_local(spec.base_url) and os.environ.get(BLOCK_ENV) == "1":
        raise ConfigError(f"{spec} would reach a hosted API, blocked by {BLOCK_ENV}=1")
    if api_key is not None:
        return api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
    value = os.environ.get(_KEY_ENV[spec.backend], "")
    if value:
        return SecretStr(value)
    if spec.base_url is None:
        raise ConfigError(f"{spec} needs an API key: set {_KEY_ENV[spec.backend]} in the "
                          "environment or pass api_key")
    return None  # local OpenAI-compatible servers usually need none


@backend("openai", takes_url=True)
def openai(spec: ModelSpec, *, api_key: SecretStr | str | None = None,
           **options: Any) -> ChatModel:
    """OpenAI, or any OpenAI-compatible server at ``spec.base_url``."""
    key = _hosted(spec, api_key)
    from debate.models.openai_backend import OpenAIModel

    return OpenAIModel(spec.model, base_url=spec.base_url, api_key=key, **options)


@backend("anthropic", takes_url=True)
def anthropic(spec: ModelSpec, *, api_key: SecretStr | str | None = None,
              **options: Any) -> ChatModel:
    """Anthropic's API (or a compatible proxy at ``spec.base_url``)."""
    key = _hosted(spec, api_key)
    from debate.models.anthropic_backend import AnthropicModel

    return AnthropicModel(spec.model, base_url=spec.base_url, api_key=key, **options)


@backend("vllm", local=True)
def vllm(spec: ModelSpec, **options: Any) -> ChatModel:
    """An in-process vLLM engine (``debatelab[vllm]``)."""
    from debate.models.vllm_backend import VLLMModel

    return VLLMModel(spec.model, **options)


@backend("llamacpp", local=True)
def llamacpp(spec: ModelSpec, **options: Any) -> ChatModel:
    """An embedded GGUF model (``llamacpp:smollm2`` or a path)."""
    from debate.models.llamacpp import LlamaCppModel

    return LlamaCppModel(spec.model, **options)
