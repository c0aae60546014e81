"""Filters over examples: length, dedupe, a cap per question, balanced sampling.

All sampling uses one seeded generator, so the same options give the same rows.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict

from pydantic import Field

from debate.export.examples import Example, prompt_key
from debate.settings import Settings

__all__ = ["Filters", "apply_filters"]


class Filters(Settings):
    """Which examples to keep."""

    correct: bool = False
    """Drop examples whose chosen (or single) response is known to be wrong (needs gold)."""
    min_length: int | None = Field(None, ge=0)
    """Least characters of every response (chosen, rejected or completion)."""
    max_length: int | None = Field(None, ge=0)
    """Most characters of every response."""
    dedupe: bool = True
    """Keep one example per identical (prompt, chosen, rejected / completion)."""
    max_per_question: int | None = Field(None, ge=1)
    """At most this many examples per question (sampled with the seed)."""
    balance: bool = False
    """Single completions: as many desirable as undesirable (sampled with the seed)."""
    seed: int = Field(0, ge=0, le=2**63 - 1)
    """Seed of every sampling step."""


def _responses(example: Example) -> list[str]:
    return [r for r in (example.chosen, example.rejected, example.completion) if r is not None]


def _key(example: Example) -> str:
    return prompt_key(example.prompt) + json.dumps(
        [example.chosen, example.rejected, example.completion, example.label])


def apply_filters(examples: list[Example], filters: Filters) -> list[Example]:
    """The examples that pass ``filters``, in a stable order."""
    rng = random.Random(filters.seed)
    kept = [e for e in examples
            if not (filters.correct and e.chosen_correct is False)
            and all((filters.min_length is None or len(r) >= filters.min_length)
                   and (filters.max_length is None or len(r) <= filters.max_length)
                   for r in _responses(e))]
    if filters.dedupe:
        seen: set[str] = set()
        unique = []
        for example in kept:
            key = _key(example)
            if key not in seen:
                seen.add(key)
                unique.append(example)
        kept = unique
    if filters.max_per_question is not None:
        by_question: dict[str, list[int]] = defaultdict(list)
        for i, example in enumerate(kept):
            by_question[example.metadata.question_id].append(i)
        chosen: set[int] = set()
        for indices in by_question.values():
            k = min(filters.max_per_question, len(indices))
            chosen.update(rng.sample(indices, k))
        kept = [e for i, e in enumerate(kept) if i in chosen]
    if filters.balance:
        good = [i for i, e in enumerate(kept) if e.label is True]
        bad = [i for i, e in enumerate(kept) if e.label is False]
        n = min(len(good), len(bad))
        chosen = set(rng.sample(good, n)) | set(rng.sample(bad, n))
        kept = [e for i, e in enumerate(kept) if i in chosen]
    return kept
