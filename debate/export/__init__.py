"""Debate traces -> training data: strategies pick examples, formats shape rows, writers save.

    from debate.export import export
    rows = export(traces, strategy="gold", format="dpo")
    rows.drops  # what was left out, by reason: Drops({"fallback-parsed": 7, ...})
    dataset = export(traces, strategy=["consensus", "revision"], format="kto", as_dataset=True)

Strategies and formats are registries you can extend (``@strategy("mine")``,
``@register_format("mine")``), in code or from another package through the
entry-point groups ``debatelab.strategies`` and ``debatelab.formats`` (a
format entry point names a ``Format`` or a row-builder function).

Per-agent data (multiagent finetuning, Subramaniam et al.): ``mft-generator`` and
``mft-critic`` (:class:`MftOptions` sets the critic mix) give each agent its own
examples; :func:`rows_by_agent` splits the rows into one dataset per agent.

Nothing is left out silently: strategies, filters and formats count each drop
by a named reason (:mod:`debate.export.drops`); ``export`` returns the counts
with the rows, ``debate export`` prints them and the dataset card lists them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from debate.export.drops import DROP_REASONS, Drops, counting
from debate.export.examples import Example, Provenance
from debate.export.filters import Filters, apply_filters
from debate.export.formats import (
    FORMAT_ALIASES,
    FORMATS,
    canonical_format,
    format_rows,
    register_format,
)
from debate.export.multiagent_ft import MftOptions, rows_by_agent  # registers mft-* strategies
from debate.export.strategies import STRATEGIES, StrategyOptions, strategy
from debate.export.writers import split_by_question, write_export
from debate.settings import validated
from debate.trace import DebateTrace

__all__ = [
    "DROP_REASONS",
    "FORMAT_ALIASES",
    "FORMATS",
    "STRATEGIES",
    "Drops",
    "Example",
    "Filters",
    "MftOptions",
    "Provenance",
    "Rows",
    "StrategyOptions",
    "apply_filters",
    "examples",
    "export",
    "canonical_format",
    "format_rows",
    "register_format",
    "rows_by_agent",
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


class Rows(list[dict[str, Any]]):
    """The rows of an export (a plain list of dicts), with what was left out."""

    def __init__(self, rows: Iterable[dict[str, Any]] = (), drops: Drops | None = None) -> None:
        super().__init__(rows)
        self.drops: Drops = Drops() if drops is None else drops
        """What the strategies, filters and format left out, by reason (``DROP_REASONS``)."""


def export(traces: Iterable[DebateTrace], strategy: str | list[str] = "gold",
           format: str = "dpo", *,
           options: StrategyOptions | dict[str, Any] | None = None,
           filters: Filters | dict[str, Any] | None = None,
           as_dataset: bool = False, drops: Drops | None = None) -> Any:
    """Rows of ``format`` from ``traces``: :class:`Rows`, or a ``datasets.Dataset``.

    :class:`Rows` is a list of dicts whose ``drops`` counts what was left out, by reason.

    ``drops``: a :class:`Drops` to count into (how to get the counts with ``as_dataset``).
    """
    filt = _settings(Filters, filters)
    with counting(drops) as counted:
        rows = Rows(format_rows(examples(traces, strategy, options, filt), format, filt.dedupe),
                    counted)
    if not as_dataset:
        return rows
    from debate.export.writers import _need

    return _need("datasets", "A datasets.Dataset").Dataset.from_list(rows)
