"""Debate traces -> training data: strategies pick examples, formats shape rows, writers save.

    from debate.export import export
    rows = export(traces, strategy="gold", format="dpo")
    dataset = export(traces, strategy=["consensus", "revision"], format="kto", as_dataset=True)

Strategies and formats are registries you can extend (``@strategy("mine")``,
``@register_format("mine")``), in code or from another package through the
entry-point groups ``debatelab.strategies`` and ``debatelab.formats`` (a
format entry point names a ``Format`` or a row-builder function).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from debate.export.examples import Example, Provenance
from debate.export.filters import Filters, apply_filters
from debate.export.formats import (
    FORMAT_ALIASES,
    FORMATS,
    canonical_format,
    format_rows,
    register_format,
)
from debate.export.strategies import STRATEGIES, StrategyOptions, strategy
from debate.export.writers import split_by_question, write_export
from debate.settings import validated
from debate.trace import DebateTrace

__all__ = [
    "FORMAT_ALIASES",
    "FORMATS",
    "STRATEGIES",
    "Example",
    "Filters",
    "Provenance",
    "StrategyOptions",
    "apply_filters",
    "examples",
    "export",
    "canonical_format",
    "format_rows",
    "register_format",
    "split_by_question",
    "strategy",
    "write_export",
]


S = TypeVar("S", StrategyOptions, Filters)


def _settings(model: type[S], given: S | dict[str, Any] | None) -> S:
    """``given`` as ``model``; a bad key or value is a :class:`ConfigError` naming it."""
    if isinstance(given, model):
        return given
    return validated(model, given or {}, "export")


def examples(traces: Iterable[DebateTrace], strategy: str | list[str] = "gold",
             options: StrategyOptions | dict[str, Any] | None = None,
             filters: Filters | dict[str, Any] | None = None) -> list[Example]:
    """The filtered examples of one or more strategies."""
    traces = list(traces)
    opts = _settings(StrategyOptions, options)
    filt = _settings(Filters, filters)
    names = [strategy] if isinstance(strategy, str) else list(strategy)
    found: list[Example] = []
    for name in names:
        found += STRATEGIES.lookup(name)(traces, opts)
    return apply_filters(found, filt)


def export(traces: Iterable[DebateTrace], strategy: str | list[str] = "gold",
           format: str = "dpo", *,
           options: StrategyOptions | dict[str, Any] | None = None,
           filters: Filters | dict[str, Any] | None = None,
           as_dataset: bool = False) -> Any:
    """Rows of ``format`` from ``traces`` (a list of dicts, or a ``datasets.Dataset``)."""
    filt = _settings(Filters, filters)
    rows = format_rows(examples(traces, strategy, options, filt), format, filt.dedupe)
    if not as_dataset:
        return rows
    from debate.export.writers import _need

    return _need("datasets", "A datasets.Dataset").Dataset.from_list(rows)
