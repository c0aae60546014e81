"""Registries by name: roles, protocols and judges share one mechanism.

A :class:`Registry` is a dict from name to class with a decorator that
registers a class and stamps its name on it, a lookup whose error lists
what is registered, and plug-in loading from an entry-point group, so a
third-party package can add roles, protocols or judges without forking::

    # the plug-in's pyproject.toml
    [project.entry-points."debatelab.protocols"]
    my-protocol = "my_package.protocols:MyProtocol"

A plug-in that fails to load is reported (``registry.plugin_errors`` and a
log warning), never fatal to the rest.

Built-in entries may be *lazy*: a name mapped to the module that registers
it when imported, so a lookup of that name alone imports the module (the
``scripted:`` backend lives in :mod:`debate.testing`, which the model layer
never imports otherwise).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from typing import Any, TypeVar, cast

from debate.errors import ConfigError

__all__ = ["Registry", "import_modules"]

log = logging.getLogger(__name__)
T = TypeVar("T")
C = TypeVar("C", bound=Callable[..., Any])


class Registry(dict[str, T]):
    """Registered classes by name.

    Args:
        kind: what is registered (for error messages), e.g. ``role``.
        attribute: the class attribute that receives the registered name.
        group: the entry-point group plug-ins register under.
        adapt: turns what a plug-in's entry point loads into a registry entry
            (``(name, loaded) -> entry``); by default the loaded callable itself.
        lazy: built-in names -> the module whose import registers them, imported
            on the first lookup of such a name.

    """

    def __init__(self, kind: str, attribute: str, group: str | None = None,
                 adapt: Callable[[str, Any], T] | None = None,
                 lazy: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.kind = kind
        self.attribute = attribute
        self.group = group
        self.adapt = adapt
        self.lazy = dict(lazy or {})
        self.plugin_errors: dict[str, str] = {}
        self._plugins_loaded = group is None

    def register(self, name: str) -> Callable[[C], C]:
        """Class decorator: register the class as ``name``."""

        def decorate(cls: C) -> C:
            setattr(cls, self.attribute, name)
            self[name] = cast(T, cls)
            return cls

        return decorate

    def load_plugins(self) -> None:
        """Import the entry points of this registry's group once; record failures."""
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for point in entry_points(group=self.group or ""):
            if point.name in self.lazy:
                log.warning("%s plug-in %r (%s) is ignored: a built-in has that name", self.kind,
                            point.name, point.value)
                continue
            try:
                loaded = point.load()
                if point.name in self:  # importing it registered it already
                    continue
                entry = self.adapt(point.name, loaded) if self.adapt is not None else None
            except Exception as exc:  # a broken plug-in must not break the others
                self.plugin_errors[point.name] = f"{type(exc).__name__}: {exc}"
                log.warning("%s plug-in %r (%s) failed to load: %s", self.kind, point.name,
                            point.value, exc)
                continue
            if entry is not None:
                self[point.name] = entry
            elif callable(loaded):
                self.register(point.name)(loaded)

    def _import_lazy(self, name: str) -> None:
        """Import the module that registers the lazy built-in ``name``; record a failure."""
        module = self.lazy[name]
        try:
            importlib.import_module(module)
        except Exception as exc:
            self.plugin_errors[name] = f"{type(exc).__name__}: {exc}"
            log.warning("%s %r (%s) failed to load: %s", self.kind, name, module, exc)

    def names(self) -> list[str]:
        """Every registered name, lazy built-ins and plug-ins included, sorted."""
        self.load_plugins()
        return sorted(set(self) | set(self.lazy))

    def lookup(self, name: str) -> T:
        """The entry registered as ``name``; a :class:`ConfigError` if none."""
        if name not in self and name in self.lazy:
            self._import_lazy(name)
        if name not in self:
            self.load_plugins()
        try:
            return self[name]
        except KeyError:
            broken = f" (plug-in failed to load: {self.plugin_errors[name]})" \
                if name in self.plugin_errors else ""
            raise ConfigError(f"unknown {self.kind} {name!r}{broken}; registered: "
                              f"{sorted(set(self) | set(self.lazy))}") from None


def import_modules(package: str, path: list[str], skip: frozenset[str] = frozenset()) -> None:
    """Import every module of ``package`` (its ``__path__``) but ``skip``.

    Each registers its built-ins (protocols, roles, judges) as it is imported. A
    package's ``__init__`` calls it last, so a new built-in is one module in the
    package, with no list to extend.
    """
    import pkgutil

    for module in pkgutil.iter_modules(path):
        if module.name not in skip:
            importlib.import_module(f"{package}.{module.name}")
