"""Who may reach a served debate: loopback only without a key, a bearer key otherwise."""

from __future__ import annotations

import hmac
import ipaddress

from debate.errors import ConfigError
from debate.serve.shapes import ApiError

__all__ = ["check_bearer", "check_host", "is_loopback"]


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine only (``localhost``, ``127.x``, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_host(host: str, api_key: str | None) -> None:
    """Refuse a non-loopback ``host`` without an API key (anyone could spend the models)."""
    if api_key is None and not is_loopback(host):
        raise ConfigError(f"--host {host}: serving beyond this machine needs --api-key KEY "
                          "(every request must then carry Authorization: Bearer KEY); "
                          "without a key, serve on 127.0.0.1")
    if api_key is not None and not api_key.strip():
        raise ConfigError("--api-key: an empty key protects nothing; give a secret")


def check_bearer(header: str | None, api_key: str | None) -> None:
    """A 401 unless ``header`` is ``Bearer <api_key>`` (nothing to check without a key)."""
    if api_key is None:
        return
    scheme, _, given = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(),
                                                             api_key.encode()):
        raise ApiError(401, "missing or wrong API key: send Authorization: Bearer KEY "
                       "(the key debate serve was started with)",
                       code="invalid_api_key")
