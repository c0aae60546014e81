"""Sampling per agent and per role, over the run-wide ``temperature`` and ``max_tokens``.

Papers do not sample every agent alike: Khan et al. (2024) run the judge at
temperature 0 and the debaters at 0.4. ``sampling:`` in an experiment spec (or
a protocol preset) is keyed like ``models:`` and ``roles:``, by an agent's name
or a role (:mod:`debate.experiment.binding`)::

    temperature: 0.7                   # run-wide: every agent no key below names
    max_tokens: 512
    sampling:
      qa-judge: {temperature: 0}       # every agent of role qa-judge
      debater-a: {max_tokens: 300}     # one agent, by name

An agent takes the run-wide values, then those of a preset's ``sampling:``, then
the experiment's; within each, its role's, then its own name's (a name wins
over its role). Only the values a key gives replace others (``judge:
{temperature: 0}`` keeps the judge's ``max_tokens``); ``temperature: null``
means the backend's default, as run-wide. On the command line
``--temperature judge=0 --max-tokens debater=300`` add to the spec's
``sampling:``; a plain ``--temperature 0.7`` is the run-wide value.

A protocol's own per-call budget still holds for its calls (SR-DCR's
``answer_max_tokens`` for the short answers), and every turn records the
parameters its call asked for (:class:`debate.trace.Sampled`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer

from debate.settings import Settings

__all__ = ["Sampling", "SamplingLayer", "merge_sampling"]


class Sampling(Settings):
    """The sampling values one ``sampling:`` key gives its agents (those not given are kept)."""

    temperature: float | None = Field(None, ge=0)
    """Sampling temperature (``null``: the backend's default)."""
    max_tokens: int | None = Field(None, ge=1)
    """Completion token limit per call (``null``: the backend's default)."""

    def values(self) -> dict[str, Any]:
        """The values this key gives, by field name (only those it was given)."""
        return {name: getattr(self, name) for name in sorted(self.model_fields_set)}

    @model_serializer(mode="wrap")
    def _given_only(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Only the values given, so a config read back means the same.

        A Ray shard's copy of the config is a dump (and ``config.json`` records one):
        ``{temperature: 0}`` must not come back as ``{temperature: 0, max_tokens: null}``.
        """
        data: dict[str, Any] = handler(self)
        return {k: v for k, v in data.items() if k in self.model_fields_set}


SamplingLayer = tuple[str, Mapping[str, Sampling]]
"""``(where, {key: Sampling})``: one ``sampling:`` block and the place it was written
(``sampling``, ``protocols/debate-qa.yaml: sampling``), for errors that name it."""


def merge_sampling(base: Mapping[str, Sampling], over: Mapping[str, Mapping[str, Any]]
                   ) -> dict[str, dict[str, Any]]:
    """``base``'s values with ``over``'s on top, key by key and value by value.

    ``over`` maps a key to raw values (``{"judge": {"temperature": 0}}``), as the
    command line gives them; so does the result, which the experiment's config
    validates (a bad value is then an error naming ``sampling.KEY.FIELD``).
    """
    merged = {key: item.values() for key, item in base.items()}
    for key, values in over.items():
        merged.setdefault(key, {}).update(values)
    return merged
