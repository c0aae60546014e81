"""Agents: the :class:`Agent` base class, built-in roles and the role registry."""

from debate.agents.base import ROLES, Agent, Parser, View, get_role, question_text, role
from debate.agents.debater import Debater
from debate.agents.judge import JudgeAgent

__all__ = [
    "ROLES",
    "Agent",
    "Debater",
    "JudgeAgent",
    "Parser",
    "View",
    "get_role",
    "question_text",
    "role",
]
