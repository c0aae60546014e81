"""Filters over examples: length, dedupe, a cap per question, balanced sampling.

All sampling uses one seeded generator, so the same options give the same rows.

Dedupe compares examples across the whole export, except those of a per-agent
strategy (:func:`per_agent_strategy`): such a strategy gives each agent its own
dataset, to finetune one model per agent (Subramaniam et al., ICLR 2025:
``answers_dicts[i]``, one file per agent, vsubramaniam851/multiagent-ft@b7556fd
``multiagent-ft/ft_generator.py:92, 124-127``), so two agents' identical examples
are two examples, one in each agent's data; within one agent they are still deduped.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import Field

from debate.export.drops import drop
from debate.export.examples import Example, prompt_key
from debate.settings import Settings

__all__ = ["PER_AGENT_STRATEGIES", "Filters", "apply_filters", "dedupe_scope", "per_agent_strategy",
           "row_dedupe_scope"]

PER_AGENT_STRATEGIES: set[str] = set()
"""Strategies whose examples each train their own agent's model (``metadata.agents[0]``):
dedupe never merges two agents' examples of these. Add names with :func:`per_agent_strategy`."""


def per_agent_strategy(*names: str) -> None:
    """Declare strategies ``names`` per-agent: each agent's examples are its own dataset."""
    PER_AGENT_STRATEGIES.update(names)


def dedupe_scope(strategy: str, agents: Sequence[str]) -> str | None:
    """The agent an example is deduped within (a per-agent strategy's), else ``None`` (all)."""
    return agents[0] if strategy in PER_AGENT_STRATEGIES and agents else None


def row_dedupe_scope(row: Mapping[str, Any]) -> str | None:
    """:func:`dedupe_scope` of a formatted row, read from its ``metadata`` (``None`` without)."""
    meta = row.get("metadata")
    if not isinstance(meta, Mapping):
        return None
    return dedupe_scope(str(meta.get("strategy", "")), list(meta.get("agents") or []))


class Filters(Settings):
    """Which examples to keep."""

    correct: bool = False
    """Drop examples whose chosen (or single) response is known to be wrong (needs gold)."""
    min_length: int | None = Field(None, ge=0)
    """Least characters of every response (chosen, rejected or completion)."""
    max_length: int | None = Field(None, ge=0)
    """Most characters of every response."""
    dedupe: bool = True
    """Keep one example per identical (prompt, chosen, rejected / completion); for a
    per-agent strategy (:data:`PER_AGENT_STRATEGIES`), one per identical example of one agent."""
    max_per_question: int | None = Field(None, ge=1)
    """At most this many examples per question (sampled with the seed)."""
    balance: bool = False
    """Single completions: as many desirable as undesirable (sampled with the seed)."""
    seed: int = Field(0, ge=0, le=2**63 - 1)
    """Seed of every sampling step."""


def _responses(example: Example) -> list[str]:
    return [r for r in (example.chosen, example.rejected, example.completion) if r is not None]


def _key(example: Example) -> str:
    """What two examples share when they are duplicates (the agent too, for a per-agent one)."""
    scope = dedupe_scope(example.metadata.strategy, example.metadata.agents)
    return prompt_key(example.prompt) + json.dumps(
        [example.chosen, example.rejected, example.completion, example.label, scope])


def _length_reason(example: Example, filters: Filters) -> str | None:
    """``too-short`` or ``too-long`` when a response is out of bounds; else ``None``."""
    for response in _responses(example):
        if filters.min_length is not None and len(response) < filters.min_length:
            return "too-short"
        if filters.max_length is not None and len(response) > filters.max_length:
            return "too-long"
    return None


def _passes(example: Example, filters: Filters) -> bool:
    """Whether the example passes ``correct`` and the length bounds (a drop is counted)."""
    reason = "wrong-chosen" if filters.correct and example.chosen_correct is False else None
    reason = reason or _length_reason(example, filters)
    if reason is not None:
        drop(reason)
    return reason is None


def _unique(examples: list[Example]) -> list[Example]:
    """The first of each identical example (the others counted ``duplicate``)."""
    seen: set[str] = set()
    unique = []
    for example in examples:
        key = _key(example)
        if key not in seen:
            seen.add(key)
            unique.append(example)
    drop("duplicate", len(examples) - len(unique))
    return unique


def _capped(examples: list[Example], cap: int, rng: random.Random) -> list[Example]:
    """At most ``cap`` examples per question, sampled (the others counted ``over-cap``)."""
    by_question: dict[str, list[int]] = defaultdict(list)
    for i, example in enumerate(examples):
        by_question[example.metadata.question_id].append(i)
    chosen: set[int] = set()
    for indices in by_question.values():
        chosen.update(rng.sample(indices, min(cap, len(indices))))
    drop("over-cap", len(examples) - len(chosen))
    return [e for i, e in enumerate(examples) if i in chosen]


def _balanced(examples: list[Example], rng: random.Random) -> list[Example]:
    """As many desirable as undesirable completions (the others counted ``unbalanced``)."""
    good = [i for i, e in enumerate(examples) if e.label is True]
    bad = [i for i, e in enumerate(examples) if e.label is False]
    n = min(len(good), len(bad))
    chosen = set(rng.sample(good, n)) | set(rng.sample(bad, n))
    drop("unbalanced", len(examples) - len(chosen))
    return [e for i, e in enumerate(examples) if i in chosen]


def apply_filters(examples: list[Example], filters: Filters) -> list[Example]:
    """The examples that pass ``filters``, in a stable order (each drop counted by reason)."""
    rng = random.Random(filters.seed)
    kept = [e for e in examples if _passes(e, filters)]
    if filters.dedupe:
        kept = _unique(kept)
    if filters.max_per_question is not None:
        kept = _capped(kept, filters.max_per_question, rng)
    if filters.balance:
        kept = _balanced(kept, rng)
    return kept
