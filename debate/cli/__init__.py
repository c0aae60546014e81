"""The ``debate`` command: thin over the Python API (see :mod:`debate.cli.main`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from debate._lazy import lazy_exports

if TYPE_CHECKING:
    from debate.cli.main import app, main

__all__ = ["app", "main"]

# lazy, so that `python -m debate.cli.main` runs the module once, as __main__ only
__getattr__, __dir__ = lazy_exports(__name__, {"debate.cli.main": ("app", "main")}, globals())
