"""Test helpers shipped with debatelab: deterministic scripted models (and a mock server).

Names load on first use (PEP 562): ``python -m debate.testing.mock_server``
then runs a module that importing this package has not imported already, and
a ``scripted:`` spec brings in the scripted model alone, not the mock server's
HTTP stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from debate._lazy import lazy_exports

if TYPE_CHECKING:
    from debate.testing.mock_server import FaultRates, MockServer, first_number_policy
    from debate.testing.scripted import (
        Call,
        ScriptedModel,
        first_number_reply,
        register_script,
        scripted_from_name,
    )

_SOURCES: dict[str, tuple[str, ...]] = {
    "debate.testing.mock_server": ("FaultRates", "MockServer", "first_number_policy"),
    "debate.testing.scripted": ("Call", "ScriptedModel", "first_number_reply", "register_script",
                                "scripted_from_name"),
}
__getattr__, __dir__ = lazy_exports(__name__, _SOURCES, globals())

__all__ = [
    "Call",
    "FaultRates",
    "MockServer",
    "ScriptedModel",
    "first_number_policy",
    "first_number_reply",
    "register_script",
    "scripted_from_name",
]
