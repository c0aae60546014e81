"""Who may reach a served debate: loopback only without a key, a bearer key otherwise."""

from __future__ import annotations

import hmac
import ipaddress

from debate.errors import ConfigError
from debate.serve.shapes import ApiError

__all__ = ["check_bearer", "check_browser_reach", "check_host", "is_loopback"]


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
                                                             api_key.strip().encode()):
        raise ApiError(401, "missing or wrong API key: send Authorization: Bearer KEY "
                       "(the key debate serve was started with)",
                       code="invalid_api_key")


def check_browser_reach(host_header: str | None, content_type: str, api_key: str | None,
                        posting: bool) -> None:
    """Keep a web page in a browser on this machine from spending a keyless server's models.

    A page may POST ``text/plain`` to ``http://127.0.0.1:PORT`` without a CORS preflight,
    and a rebound DNS name may reach it under a foreign ``Host``: without a key, only a
    loopback ``Host`` is served, and a POST must say ``application/json`` (which needs a
    preflight this server never grants). With a key, the key decides.
    """
    if api_key is not None:
        return
    if not is_loopback(_host_name(host_header or "")):
        raise ApiError(403, f"Host {host_header!r} is not this machine: a server without "
                       "--api-key answers only requests to localhost/127.0.0.1",
                       code="forbidden_host")
    if posting and content_type != "application/json":
        raise ApiError(415, f"Content-Type {content_type or '(none)'!r}: send "
                       "application/json", code="unsupported_media_type")


def _host_name(header: str) -> str:
    """A ``Host`` header without its port (``[::1]:8000`` -> ``[::1]``)."""
    if header.startswith("["):
        return header.split("]")[0] + "]"
    return header.rsplit(":", 1)[0]
