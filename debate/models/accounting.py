"""Token prices and cost: a per-model table the user can extend or override."""

from __future__ import annotations

from pydantic import Field

from debate.errors import ConfigError
from debate.models.backends_registry import BACKENDS
from debate.models.types import Usage
from debate.settings import Settings

__all__ = ["DEFAULT_PRICES", "Price", "PriceTable"]


class Price(Settings):
    """Dollars per million tokens."""

    input: float = Field(ge=0)
    """Dollars per million prompt tokens."""
    output: float = Field(ge=0)
    """Dollars per million completion tokens."""


# Public list prices (USD per 1M tokens) of common models; override in config.
DEFAULT_PRICES: dict[str, Price] = {
    "gpt-4o": Price(input=2.50, output=10.00),
    "gpt-4o-mini": Price(input=0.15, output=0.60),
    "gpt-4.1": Price(input=2.00, output=8.00),
    "gpt-4.1-mini": Price(input=0.40, output=1.60),
    "gpt-4.1-nano": Price(input=0.10, output=0.40),
    "gpt-3.5-turbo": Price(input=0.50, output=1.50),
    "claude-sonnet-4-5": Price(input=3.00, output=15.00),
    "claude-haiku-4-5": Price(input=1.00, output=5.00),
    "claude-opus-4-1": Price(input=15.00, output=75.00),
}

class PriceTable:
    """Looks up a model's price; local backends cost nothing, unknown models ``None``.

    Each model name is resolved once; change prices through ``overrides``.
    """

    def __init__(self, overrides: dict[str, Price] | None = None, *,
                 batch_discount: float = 0.5) -> None:
        self.prices = {**DEFAULT_PRICES, **(overrides or {})}
        self.batch_discount = batch_discount
        """A Batch API call's price as a share of the synchronous one (OpenAI, Anthropic: 0.5)."""
        self._resolved: dict[str, Price | None] = {}

    def price(self, model: str) -> Price | None:
        """The price of ``model`` (a bare name or a ``backend:name`` spec), if known."""
        if model not in self._resolved:
            self._resolved[model] = self._lookup(model)
        return self._resolved[model]

    def _lookup(self, model: str) -> Price | None:
        if _runs_locally(model):
            return Price(input=0.0, output=0.0)
        name = model.split(":", 1)[-1].split("@", 1)[0]
        if name in self.prices:
            return self.prices[name]
        # dated snapshots, e.g. gpt-4o-mini-2024-07-18 -> gpt-4o-mini
        candidates = [k for k in self.prices if name.startswith(k + "-")]
        return self.prices[max(candidates, key=len)] if candidates else None

    def cost(self, model: str, usage: Usage, batch: bool = False) -> float | None:
        """Dollars for one call's usage, or ``None`` when the price is unknown.

        ``batch``: the call went through a Batch API (``batch_discount`` of the price).
        """
        price = self.price(model)
        if price is None:
            return None
        dollars = (usage.prompt_tokens * price.input + usage.completion_tokens * price.output) / 1e6
        return dollars * self.batch_discount if batch else dollars


def _runs_locally(model: str) -> bool:
    """Whether ``model`` (``backend:model``) names a backend that runs on the user's hardware.

    That is ``Backend.local``: llamacpp, vllm, scripted, and plug-ins that say so. A bare
    model name, or a prefix no backend has, is not local.
    """
    prefix, colon, _ = model.partition(":")
    if not colon:
        return False
    try:
        return BACKENDS.lookup(prefix).local
    except ConfigError:
        return False
