"""The one check that inspect_ai is installed (no import of inspect_ai itself)."""

from __future__ import annotations

import importlib.util

from debate.errors import MissingDependencyError

INSTALL = "pip install 'debatelab[inspect]'"
"""The command that installs what this integration needs."""


def require_inspect_ai(what: str = "debatelab's inspect_ai integration") -> None:
    """Raise :class:`MissingDependencyError` naming the extra when inspect_ai is missing."""
    if importlib.util.find_spec("inspect_ai") is None:
        raise MissingDependencyError(f"{what} needs inspect_ai, which is not installed: "
                                     f"{INSTALL}")
