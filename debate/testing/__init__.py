"""Test helpers shipped with debatelab: deterministic scripted models (and a mock server)."""

from debate.testing.scripted import Call, ScriptedModel, register_script, scripted_from_name

__all__ = ["Call", "ScriptedModel", "register_script", "scripted_from_name"]
