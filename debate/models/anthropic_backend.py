"""Anthropic's Messages API through ``AsyncAnthropic``.

No logprobs, no ``n``, no seed: a call that asks for logprobs gets
``Completion.logprobs = None`` and protocols fall back to stated confidence.
Recent SDKs (2.x) no longer accept ``temperature`` or ``top_p``: we send only
the sampling parameters the installed SDK's ``messages.create`` accepts and
warn once about the others, since debaters on one Claude model then differ
only by the API's default sampling.
The SDK's own retries are off; our :class:`Retrying` layer retries instead.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Sequence
from typing import Any

from pydantic import SecretStr

from debate.errors import (
    MissingDependencyError,
    classify_status,
    connection_error,
    parse_retry_after,
    register_secret,
)
from debate.models.guard import check_request
from debate.models.types import Closeable, Completion, Message, SamplingParams, Usage

__all__ = ["AnthropicModel"]

DEFAULT_MAX_TOKENS = 1024
log = logging.getLogger(__name__)


class AnthropicModel(Closeable):
    """A Claude model.

    Holds one ``AsyncAnthropic`` client, made on the first call: close it with
    :meth:`aclose` or ``async with model:``.

    Args:
        model: e.g. ``claude-sonnet-4-5``.
        api_key: the key (default: ``ANTHROPIC_API_KEY`` from the environment).
        base_url: another Messages-API endpoint (used by tests with a mock server).

    """

    def __init__(self, model: str, *, api_key: SecretStr | str | None = None,
                 base_url: str | None = None) -> None:
        self.model = model
        self.name = f"anthropic:{model}"
        self.endpoint = f"{self.name}@{base_url}" if base_url else self.name
        self.api_key = api_key if isinstance(api_key, SecretStr | None) else SecretStr(api_key)
        if self.api_key is not None:
            register_secret(self.api_key.get_secret_value())
        self.base_url = base_url
        self._client: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._accepted: set[str] | None = None
        self._warned: set[str] = set()

    def _get_client(self) -> Any:
        try:
            import anthropic
        except ImportError as exc:  # pragma: no cover - a core dependency
            raise MissingDependencyError("the anthropic backend needs the anthropic SDK") from exc
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            key = self.api_key.get_secret_value() if self.api_key is not None else None
            self._client = anthropic.AsyncAnthropic(api_key=key, base_url=self.base_url,
                                                    max_retries=0, timeout=None)
            self._loop = loop
            self._accepted = set(inspect.signature(self._client.messages.create).parameters)
        return self._client

    def _sampling(self, params: SamplingParams) -> dict[str, Any]:
        wanted: dict[str, Any] = {}
        if params.temperature is not None:
            wanted["temperature"] = params.temperature
        elif params.top_p is not None:  # recent Claude models reject both at once
            wanted["top_p"] = params.top_p
        if params.stop:
            wanted["stop_sequences"] = list(params.stop)
        accepted = self._accepted or set()
        dropped = set(wanted) - accepted - self._warned
        if dropped:
            self._warned |= dropped
            log.warning("%s: the installed anthropic SDK does not accept %s; not sent",
                        self.name, ", ".join(sorted(dropped)))
        return {k: v for k, v in wanted.items() if k in accepted}

    async def generate(self, messages: Sequence[Message], params: SamplingParams) -> Completion:
        """Send one Messages-API request (system messages go to ``system``)."""
        url = self.base_url or "https://api.anthropic.com"
        check_request(url, self.endpoint)
        import anthropic

        client = self._get_client()
        system = "\n\n".join(m.content for m in messages if m.role == "system")
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content}
                         for m in messages if m.role != "system"],
            "max_tokens": params.max_tokens or DEFAULT_MAX_TOKENS,
        }
        if system:
            kwargs["system"] = system
        kwargs.update(self._sampling(params))
        start = time.perf_counter()
        try:
            response = await client.messages.create(**kwargs)
        except anthropic.APIStatusError as exc:
            retry_after = parse_retry_after(exc.response.headers.get("retry-after"))
            raise classify_status(exc.status_code, str(exc.message), endpoint=self.endpoint,
                                  retry_after=retry_after) from exc
        except anthropic.APIConnectionError as exc:
            raise connection_error(url, exc, endpoint=self.endpoint) from exc
        text = "".join(getattr(block, "text", "") for block in response.content)
        return Completion(
            text=text,
            finish_reason=response.stop_reason,
            usage=Usage(prompt_tokens=response.usage.input_tokens,
                        completion_tokens=response.usage.output_tokens),
            latency=time.perf_counter() - start,
            model=response.model,
            logprobs=None,
        )

    async def aclose(self) -> None:
        """Close the SDK client (the next call makes a new one)."""
        client, self._client = self._client, None
        if client is not None:
            await client.close()
