"""Test helpers shipped with debatelab: deterministic scripted models (and a mock server)."""

from debate.testing.mock_server import FaultRates, MockServer, first_number_policy
from debate.testing.scripted import Call, ScriptedModel, register_script, scripted_from_name

__all__ = [
    "Call",
    "FaultRates",
    "MockServer",
    "ScriptedModel",
    "first_number_policy",
    "register_script",
    "scripted_from_name",
]
