"""The HTTP plumbing every provider's batch client shares (aiohttp, opened on first use).

:class:`HTTPBatches` sends a request and classifies its failure as a model call's
would be (:func:`~debate.errors.classify_status`, :func:`~debate.errors.connection_error`),
and pages through a provider's list of batches newest first. Each provider's client
subclasses it beside its backend: :class:`~debate.models.openai_batch.OpenAIBatches`,
:class:`~debate.models.anthropic_batch.AnthropicBatches`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from pydantic import SecretStr

from debate.errors import RetryableError, classify_status, connection_error

__all__ = ["HTTPBatches"]


def _TIMEOUT() -> Any:  # noqa: N802 - a constant, made when aiohttp is imported
    """No limit on a whole request (a results file may be large), but on its silences."""
    import aiohttp

    return aiohttp.ClientTimeout(total=None, sock_connect=60, sock_read=300)


class HTTPBatches:
    """One provider's batch endpoints at one base URL (aiohttp; opened on first use)."""

    list_path = ""
    """Where the batches are listed, newest first."""
    after = "after"
    """The listing's cursor parameter."""
    clock_skew = 300.0
    """Seconds the provider's clock may be behind ours: a batch listed as created up to
    this long before its intent was journaled may still be the intent's."""

    def __init__(self, base_url: str, api_key: SecretStr | None, endpoint: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.endpoint = endpoint  # names the model and URL in errors
        self._session: Any = None

    def _headers(self) -> dict[str, str]:
        raise NotImplementedError

    def _open(self) -> Any:
        import aiohttp

        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers=self._headers(), timeout=_TIMEOUT())
        return self._session

    async def _request(self, method: str, path: str, **kwargs: Any) -> bytes:
        """The body of a successful reply; a transport error otherwise.

        A lost connection or a timeout (a large results file) is a
        :class:`RetryableError`, as a failed model call is: a batch being read is
        polled on, never sent again.
        """
        import aiohttp

        url = self.base_url + path
        try:
            async with self._open().request(method, url, **kwargs) as response:
                raw: bytes = await response.read()
                status: int = response.status
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise connection_error(url, exc, endpoint=self.endpoint) from exc
        if status >= 400:
            raise classify_status(status, raw[:500].decode("utf-8", "replace"),
                                  endpoint=self.endpoint)
        return raw

    async def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        raw = await self._request(method, path, **kwargs)
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise RetryableError(f"unreadable reply from {self.base_url + path} ({exc})",
                                 endpoint=self.endpoint) from exc
        if not isinstance(data, dict):
            raise RetryableError(f"unexpected reply from {self.base_url + path}",
                                 endpoint=self.endpoint)
        return data

    async def _text(self, path: str) -> str:
        return str(await self._request("GET", path), "utf-8", "replace")

    def _created(self, batch: dict[str, Any]) -> float:
        """When the provider created ``batch`` (Unix seconds; ``inf`` if it does not say)."""
        raise NotImplementedError

    async def _listed(self, since: float) -> AsyncIterator[dict[str, Any]]:
        """The batches created at or after ``since``, newest first, page after page."""
        after: str | None = None
        while True:
            query = f"?limit=100&{self.after}={after}" if after else "?limit=100"
            listing = await self._json("GET", self.list_path + query)
            for batch in listing.get("data") or []:
                if self._created(batch) < since:  # the rest are older still
                    return
                yield batch
            after = listing.get("last_id")
            if not listing.get("has_more") or not after:
                return

    async def aclose(self) -> None:
        """Close the HTTP session."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
