"""The model layer: one async interface, backends, and middleware around them."""

from debate.models.accounting import DEFAULT_PRICES, Price, PriceTable
from debate.models.cache import ResponseCache, cache_key, call_position
from debate.models.middleware import (
    Cached,
    CallStats,
    Limited,
    Limits,
    Retrying,
    RetryPolicy,
    wrap,
)
from debate.models.spec import SPEC_FORMS, ModelSpec, create_backend, parse_model_spec
from debate.models.types import ChatModel, Completion, Message, SamplingParams, TokenLogprob, Usage

__all__ = [
    "DEFAULT_PRICES",
    "SPEC_FORMS",
    "CallStats",
    "Cached",
    "ChatModel",
    "Completion",
    "Limited",
    "Limits",
    "Message",
    "ModelSpec",
    "Price",
    "PriceTable",
    "ResponseCache",
    "RetryPolicy",
    "Retrying",
    "SamplingParams",
    "TokenLogprob",
    "Usage",
    "cache_key",
    "call_position",
    "create_backend",
    "parse_model_spec",
    "wrap",
]
