"""Registries by name: roles, protocols (and judges, parsers...) share one mechanism.

A :class:`Registry` is a dict from name to class with a decorator that
registers a class and stamps its name on it, and a lookup whose error lists
what is registered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from debate.errors import ConfigError

__all__ = ["Registry"]

T = TypeVar("T")
C = TypeVar("C", bound=type[Any])


class Registry(dict[str, T]):
    """Registered classes by name.

    Args:
        kind: what is registered (for error messages), e.g. ``role``.
        attribute: the class attribute that receives the registered name.

    """

    def __init__(self, kind: str, attribute: str) -> None:
        super().__init__()
        self.kind = kind
        self.attribute = attribute

    def register(self, name: str) -> Callable[[C], C]:
        """Class decorator: register the class as ``name``."""

        def decorate(cls: C) -> C:
            setattr(cls, self.attribute, name)
            self[name] = cast(T, cls)
            return cls

        return decorate

    def lookup(self, name: str) -> T:
        """The class registered as ``name``; a :class:`ConfigError` listing names if none."""
        try:
            return self[name]
        except KeyError:
            raise ConfigError(f"unknown {self.kind} {name!r}; registered: {sorted(self)}") from None
