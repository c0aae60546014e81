"""A tiny per-object memo for hot paths: a value computed once per live input object."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["ByIdentity"]

K = TypeVar("K")
V = TypeVar("V")


class ByIdentity(Generic[K, V]):
    """``compute(obj)``, remembered per object identity (for inputs never mutated after use).

    The entry keeps its object alive, so an id is never reused while remembered;
    the memo is cleared whenever it reaches ``size`` entries.
    """

    def __init__(self, compute: Callable[[K], V], size: int = 4096) -> None:
        self.compute = compute
        self.size = size
        self._known: dict[int, tuple[K, V]] = {}

    def __call__(self, obj: K) -> V:
        """The value for ``obj``, computed on first use."""
        known = self._known.get(id(obj))
        if known is not None and known[0] is obj:
            return known[1]
        if len(self._known) >= self.size:
            self._known.clear()
        value = self.compute(obj)
        self._known[id(obj)] = (obj, value)
        return value
