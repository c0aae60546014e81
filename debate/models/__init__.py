"""The model layer: one async interface, backends, and middleware around them.

Names load on first use (PEP 562), so ``debate.models.spec`` (say) does not
bring in the middleware and its dependencies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from debate._lazy import lazy_exports

if TYPE_CHECKING:
    from debate.models.accounting import DEFAULT_PRICES, Price, PriceTable
    from debate.models.backends_registry import BACKENDS, Backend, backend
    from debate.models.cache import ResponseCache, cache_key, call_position
    from debate.models.deadlines import queued
    from debate.models.middleware import (
        Cached,
        CallStats,
        Limited,
        Limits,
        Retrying,
        RetryPolicy,
        wrap,
    )
    from debate.models.pool import Endpoint, EndpointPool, EndpointReport, PoolPolicy, route_key
    from debate.models.spec import SPEC_FORMS, ModelSpec, create_backend, parse_model_spec
    from debate.models.types import (
        Capabilities,
        ChatModel,
        Closeable,
        Completion,
        Message,
        SamplingParams,
        TokenLogprob,
        Usage,
        capabilities_of,
        close_model,
    )

_SOURCES: dict[str, tuple[str, ...]] = {
    "debate.models.accounting": ("DEFAULT_PRICES", "Price", "PriceTable"),
    "debate.models.backends_registry": ("BACKENDS", "Backend", "backend"),
    "debate.models.cache": ("ResponseCache", "cache_key", "call_position"),
    "debate.models.deadlines": ("queued",),
    "debate.models.middleware": ("Cached", "CallStats", "Limited", "Limits", "Retrying",
                                 "RetryPolicy", "wrap"),
    "debate.models.pool": ("Endpoint", "EndpointPool", "EndpointReport", "PoolPolicy",
                           "route_key"),
    "debate.models.spec": ("SPEC_FORMS", "ModelSpec", "create_backend", "parse_model_spec"),
    "debate.models.types": ("Capabilities", "ChatModel", "Closeable", "Completion", "Message",
                            "SamplingParams", "TokenLogprob", "Usage", "capabilities_of",
                            "close_model"),
}
__getattr__, __dir__ = lazy_exports(__name__, _SOURCES, globals())

__all__ = [
    "BACKENDS",
    "DEFAULT_PRICES",
    "SPEC_FORMS",
    "Backend",
    "CallStats",
    "Cached",
    "Capabilities",
    "ChatModel",
    "Closeable",
    "Completion",
    "Endpoint",
    "EndpointPool",
    "EndpointReport",
    "Limited",
    "Limits",
    "Message",
    "ModelSpec",
    "Price",
    "PoolPolicy",
    "PriceTable",
    "ResponseCache",
    "RetryPolicy",
    "Retrying",
    "SamplingParams",
    "TokenLogprob",
    "Usage",
    "backend",
    "cache_key",
    "call_position",
    "capabilities_of",
    "close_model",
    "create_backend",
    "parse_model_spec",
    "queued",
    "route_key",
    "wrap",
]
