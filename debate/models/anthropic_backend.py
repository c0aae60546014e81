"""Anthropic's Messages API through ``AsyncAnthropic``.

No logprobs, no ``n``, no seed: a call that asks for logprobs gets
``Completion.logprobs = None`` and protocols fall back to stated confidence.

Sampling parameters: the 1.x and later SDKs dropped ``temperature`` and
``top_p`` from ``messages.create()``'s typed parameters, but the API still
takes them for most models, so they go in ``extra_body`` (the SDK's
documented way to send fields it does not type), whatever the SDK version.
Only models that reject them (see :func:`accepts_sampling`) get neither, with
a warning once per model: debaters on such a model then differ only by the
API's own sampling. The SDK's own retries are off; our :class:`Retrying`
layer retries instead.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import SecretStr

from debate.errors import (
    MalformedReplyError,
    MissingDependencyError,
    classify_status,
    connection_error,
    hide_password,
    parse_retry_after,
    register_secret,
    register_url_password,
)
from debate.models.guard import check_request
from debate.models.types import (
    DEFAULT_CAPABILITIES,
    Capabilities,
    Closeable,
    Completion,
    Message,
    SamplingParams,
    Usage,
)

__all__ = ["AnthropicModel", "accepts_sampling"]

ANTHROPIC_URL = "https://api.anthropic.com"
DEFAULT_MAX_TOKENS = 1024
log = logging.getLogger(__name__)

_CLAUDE = re.compile(r"claude-(opus|sonnet|haiku)-(\d+)(?:-(\d{1,2})(?!\d))?")
_NO_SAMPLING_NAMES = ("fable", "mythos")


def accepts_sampling(model: str) -> bool:
    """Whether the Messages API takes ``temperature`` / ``top_p`` for ``model``.

    It answers HTTP 400 ("`temperature` is deprecated for this model") for Claude
    Opus 4.7 and later, every Claude model of generation 5 and later
    (``claude-sonnet-5``, ``claude-opus-5-5``, ``claude-haiku-5-5``...) and the
    Fable and Mythos models. Every other name (older Claude models such as
    ``claude-sonnet-4-5`` or ``claude-3-5-haiku-latest``, other servers' models)
    takes them. Decided from the name's family and version, so a later model of
    an affected family is covered; pass ``sampling=`` to :class:`AnthropicModel`
    to override.
    """
    name = model.lower()
    if any(word in name for word in _NO_SAMPLING_NAMES):
        return False
    found = _CLAUDE.search(name)
    if found is None:
        return True
    family, major, minor = found.group(1), int(found.group(2)), int(found.group(3) or 0)
    return major < 5 and not (family == "opus" and (major, minor) >= (4, 7))


class AnthropicModel(Closeable):
    """A Claude model.

    Holds one ``AsyncAnthropic`` client, made on the first call: close it with
    :meth:`aclose` or ``async with model:``.

    Args:
        model: e.g. ``claude-sonnet-4-5``.
        api_key: the key (default: ``ANTHROPIC_API_KEY`` from the environment).
        base_url: another Messages-API endpoint (used by tests with a mock server).
        sampling: send ``temperature`` / ``top_p``; ``None`` decides by the model's
            name (:func:`accepts_sampling`).

    """

    capabilities: ClassVar[Capabilities] = DEFAULT_CAPABILITIES
    """A hosted API over the network: limited, and each attempt timed."""

    def __init__(self, model: str, *, api_key: SecretStr | str | None = None,
                 base_url: str | None = None, sampling: bool | None = None) -> None:
        self.model = model
        self.name = f"anthropic:{model}"
        self.endpoint = f"{self.name}@{hide_password(base_url)}" if base_url else self.name
        if base_url:
            register_url_password(base_url)
        self.api_key = api_key if isinstance(api_key, SecretStr | None) else SecretStr(api_key)
        if self.api_key is not None:
            register_secret(self.api_key.get_secret_value())
        self.base_url = base_url
        self.sampling = accepts_sampling(model) if sampling is None else sampling
        self._client: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._warned = False

    def _get_client(self) -> Any:
        try:
            import anthropic
        except ImportError as exc:  # pragma: no cover - a core dependency
            raise MissingDependencyError("the anthropic backend needs the anthropic SDK") from exc
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            key = self.api_key.get_secret_value() if self.api_key is not None else None
            if key is None and self.base_url is not None:
                key = "EMPTY"  # a local server that wants no key: the SDK insists on one
            self._client = anthropic.AsyncAnthropic(api_key=key, base_url=self.base_url,
                                                    max_retries=0, timeout=None)
            self._loop = loop
        return self._client

    def _sampling(self, params: SamplingParams) -> dict[str, Any]:
        """The ``extra_body`` fields for ``params``: one of temperature and top_p, or none."""
        wanted: dict[str, Any] = {}
        if params.temperature is not None:
            wanted["temperature"] = params.temperature
        elif params.top_p is not None:  # Claude 4.5 models reject both at once
            wanted["top_p"] = params.top_p
        if wanted and not self.sampling:
            if not self._warned:
                self._warned = True
                log.warning("%s: the API rejects %s for this model; not sent", self.name,
                            " and ".join(wanted))
            return {}
        return wanted

    def request(self, messages: Sequence[Message], params: SamplingParams
                ) -> tuple[dict[str, Any], dict[str, Any]]:
        """One call's Messages-API fields: (the SDK's typed ones, the sampling ones).

        System messages go to ``system``. The request body is both merged (a batch
        request's ``params``); the SDK takes the second as ``extra_body``.
        """
        system = "\n\n".join(m.content for m in messages if m.role == "system")
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content}
                         for m in messages if m.role != "system"],
            "max_tokens": params.max_tokens or DEFAULT_MAX_TOKENS,
        }
        if system:
            kwargs["system"] = system
        if params.stop:
            kwargs["stop_sequences"] = list(params.stop)
        return kwargs, self._sampling(params)

    async def generate(self, messages: Sequence[Message], params: SamplingParams) -> Completion:
        """Send one Messages-API request (system messages go to ``system``)."""
        url = self.base_url or ANTHROPIC_URL
        check_request(url, self.endpoint)
        import anthropic

        client = self._get_client()
        kwargs, sampling = self.request(messages, params)
        if sampling:
            kwargs["extra_body"] = sampling
        start = time.perf_counter()
        try:
            response = await client.messages.create(**kwargs)
        except anthropic.APIStatusError as exc:
            retry_after = parse_retry_after(exc.response.headers.get("retry-after"))
            raise classify_status(exc.status_code, str(exc.message), endpoint=self.endpoint,
                                  retry_after=retry_after) from exc
        except anthropic.APIConnectionError as exc:
            raise connection_error(url, exc, endpoint=self.endpoint) from exc
        except (anthropic.APIResponseValidationError, json.JSONDecodeError) as exc:
            raise MalformedReplyError(f"malformed reply from {hide_password(url)}: {exc}"[:300],
                                      endpoint=self.endpoint) from exc
        try:
            return Completion(
                text="".join(getattr(block, "text", "") for block in response.content),
                finish_reason=response.stop_reason,
                usage=Usage(prompt_tokens=response.usage.input_tokens,
                            completion_tokens=response.usage.output_tokens),
                latency=time.perf_counter() - start,
                model=response.model,
                logprobs=None,
            )
        except (AttributeError, TypeError, ValueError) as exc:
            raise MalformedReplyError(f"malformed reply from {hide_password(url)}: not a "
                                      f"message ({exc!r})"[:300], endpoint=self.endpoint) from exc

    def completion(self, message: dict[str, Any]) -> Completion:
        """A :class:`Completion` from a Messages-API response body (a batch result's)."""
        usage = message.get("usage") or {}
        return Completion(
            text="".join(block.get("text", "") for block in message.get("content") or ()
                         if isinstance(block, dict)),
            finish_reason=message.get("stop_reason"),
            usage=Usage(prompt_tokens=usage.get("input_tokens") or 0,
                        completion_tokens=usage.get("output_tokens") or 0),
            model=message.get("model") or "",
        )

    async def aclose(self) -> None:
        """Close the SDK client (the next call makes a new one)."""
        client, self._client = self._client, None
        if client is not None:
            await client.close()
