"""The request-time guard against hosted APIs (the test suite turns it on).

With ``DEBATELAB_BLOCK_HOSTED=1`` in the environment every network backend
refuses, at the moment it would send, a request to any host that is not this
machine, however the backend was constructed (a spec string, a class called
directly, a plug-in). Local servers (127.0.0.1, localhost, ::1) still work.
"""

from __future__ import annotations

import os
from functools import lru_cache
from urllib.parse import urlsplit

from debate.errors import FatalTransportError

__all__ = ["BLOCK_ENV", "check_request", "is_local"]

BLOCK_ENV = "DEBATELAB_BLOCK_HOSTED"
"""When this environment variable is ``1``, requests to non-local hosts fail."""


@lru_cache(maxsize=256)  # a run sends to a handful of URLs, once per call
def is_local(url: str | None) -> bool:
    """Whether ``url`` names this machine."""
    host = urlsplit(url).hostname if url else None
    return host in ("127.0.0.1", "localhost", "::1") or bool(host and host.startswith("127."))


def check_request(url: str, endpoint: str) -> None:
    """Raise :class:`FatalTransportError` if ``url`` is hosted and the guard is on."""
    if not is_local(url) and os.environ.get(BLOCK_ENV) == "1":
        raise FatalTransportError(f"request to {url} refused: {BLOCK_ENV}=1 allows only local "
                                  "servers", endpoint=endpoint)
