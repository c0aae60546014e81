"""Lazy public names for package ``__init__`` modules (PEP 562).

A package lists where each public name lives; the name's module is imported
the first time the name is used, so importing the package costs nothing.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, sources: Mapping[str, tuple[str, ...]],
                 namespace: dict[str, Any]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``, whose names come from ``sources``.

    ``sources`` maps a module to the public names it defines; a name, once
    loaded, is stored in the package's ``namespace`` (its ``globals()``).
    """
    where = {name: module for module, names in sources.items() for name in names}

    def getattr_(name: str) -> Any:
        module = where.get(name)
        if module is None:  # a submodule (``debate.models`` after ``import debate``)
            if name.startswith("_") or importlib.util.find_spec(f"{package}.{name}") is None:
                raise AttributeError(f"module {package!r} has no attribute {name!r}")
            return importlib.import_module(f"{package}.{name}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def dir_() -> list[str]:
        return sorted({*namespace, *where})

    return getattr_, dir_
