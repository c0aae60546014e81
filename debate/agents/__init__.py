"""Agents: the :class:`Agent` base class, built-in roles and the role registry."""

from debate.agents.base import ROLES, Agent, Parser, View, get_role, question_text, role
from debate.agents.debater import Debater

__all__ = ["ROLES", "Agent", "Debater", "Parser", "View", "get_role", "question_text", "role"]
