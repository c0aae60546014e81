"""Plug-ins without packaging: Python files (or modules) imported before a run.

A plug-in registers what it defines with the usual decorators (``@protocol``,
``@role``, ``@judge``, ``@register_format``, ...), so an experiment spec can
name it::

    plugins: [my_protocol.py]        # relative to the spec's folder
    protocol: my-protocol            # the name it registered

or a protocol class can be named directly, registered or not::

    debate run --protocol path/to/my_protocol.py:MyProtocol --dataset ...

A file is imported once per process and content (by its resolved path) under a
private module name: naming it twice imports it once, and a file edited since
is imported again, so the code that runs is the code hashed. Its content's SHA-256
is part of the run's identity (:mod:`debate.experiment.identity`): editing a plug-in and
re-running in the same folder is refused, like any other change of what a run
computes.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from debate.errors import ConfigError

if TYPE_CHECKING:
    from debate.protocols.base import DebateProtocol

__all__ = ["load_plugin", "plugin_digest", "protocol_from_file", "split_file_ref"]

_LOADED: dict[Path, tuple[str, ModuleType]] = {}
"""Imported plug-in files: resolved path -> (source digest, module)."""


def _is_file(ref: str) -> bool:
    return ref.endswith(".py") or "/" in ref or "\\" in ref


def split_file_ref(ref: str) -> tuple[str, str] | None:
    """``(path, attribute)`` for ``path/to/file.py:Name``, else ``None``."""
    path, sep, attribute = ref.rpartition(":")
    if sep and path.endswith(".py") and attribute.isidentifier():
        return path, attribute
    return None


def load_plugin(ref: str) -> ModuleType:
    """Import the plug-in ``ref``: a ``.py`` file path, or a dotted module name.

    Errors (a missing file, an exception while importing) are a :class:`ConfigError`
    that names the plug-in.
    """
    if not _is_file(ref):
        try:
            return importlib.import_module(ref)
        except ImportError as exc:
            raise ConfigError(f"plug-in {ref!r}: cannot import module: {exc}") from exc
    path = Path(ref).resolve()
    if not path.is_file():
        raise ConfigError(f"plug-in {ref}: no such file")
    source = _digest(path)
    if path in _LOADED and _LOADED[path][0] == source:
        return _LOADED[path][1]
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:10]
    name = f"debatelab_plugin_{path.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None  # a .py file always has a loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up by name
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise ConfigError(f"plug-in {ref}: {type(exc).__name__} while importing: {exc}") from exc
    _LOADED[path] = (source, module)
    return module


def _digest(file: Path) -> str:
    return hashlib.sha256(file.read_bytes()).hexdigest()[:12]


def plugin_digest(ref: str) -> str:
    """SHA-256 (12 hex digits) of a plug-in's source: its file, or its module's file."""
    file = ref if _is_file(ref) else getattr(load_plugin(ref), "__file__", None)
    return "no-source" if file is None else _digest(Path(file))


def protocol_from_file(ref: str) -> type[DebateProtocol]:
    """The protocol class ``path/to/file.py:ClassName`` names, registered if it is not.

    A class its file registered (``@protocol("name")``) keeps that name; another
    is registered under its class name, which traces then record.
    """
    from debate.protocols.base import PROTOCOLS, DebateProtocol

    split = split_file_ref(ref)
    if split is None:
        raise ConfigError(f"{ref!r} is not of the form path/to/file.py:ClassName")
    path, attribute = split
    module = load_plugin(path)
    cls = getattr(module, attribute, None)
    if not (isinstance(cls, type) and issubclass(cls, DebateProtocol)):
        found = sorted(n for n, v in vars(module).items() if isinstance(v, type)
                       and issubclass(v, DebateProtocol) and v.__module__ == module.__name__)
        raise ConfigError(f"{path}: no DebateProtocol subclass {attribute!r}; "
                          f"protocols defined there: {found or 'none'}")
    if PROTOCOLS.get(getattr(cls, "name", "")) is not cls:
        taken = PROTOCOLS.get(attribute)
        if taken is not None and taken.__module__ != cls.__module__:  # same file: re-imported
            raise ConfigError(f"{ref}: protocol name {attribute!r} is taken by "
                              f"{PROTOCOLS[attribute].__module__}; register the class under "
                              "another name with @protocol(...)")
        PROTOCOLS.register(attribute)(cls)
    return cls
