"""Agents: the :class:`Agent` base class, built-in roles and the role registry."""

from debate.agents.base import (
    ROLES,
    Agent,
    Parsed,
    Parser,
    View,
    get_role,
    question_text,
    read_answer,
    role,
)
from debate.agents.critique import Critic, CritiqueRefineAgent, Refiner, SelfRefiner, Solver
from debate.agents.debater import Debater, DebaterBrief
from debate.agents.judge import JudgeAgent, JudgeBrief
from debate.agents.mad import Affirmative, MadJudge, Moderator, Negative
from debate.agents.oversight import Consultant, OversightBrief, OversightJudge, QaDebater
from debate.agents.peer import PeerReviewer
from debate.agents.reconcile import ReconcileBrief, Reconciler
from debate.agents.sr_dcr import (
    ContextAnswerer,
    ContextCritic,
    Defender,
    ReliabilityJudgeAgent,
    SrDcrBrief,
)
from debate.registry import import_modules

__all__ = [
    "ROLES",
    "Affirmative",
    "Agent",
    "Consultant",
    "ContextAnswerer",
    "ContextCritic",
    "Critic",
    "CritiqueRefineAgent",
    "Debater",
    "DebaterBrief",
    "Defender",
    "JudgeAgent",
    "JudgeBrief",
    "MadJudge",
    "Moderator",
    "Negative",
    "OversightBrief",
    "OversightJudge",
    "QaDebater",
    "ReconcileBrief",
    "Reconciler",
    "Refiner",
    "ReliabilityJudgeAgent",
    "SelfRefiner",
    "Solver",
    "SrDcrBrief",
    "Parsed",
    "Parser",
    "PeerReviewer",
    "View",
    "get_role",
    "question_text",
    "read_answer",
    "role",
]

# every module registers its built-ins as it is imported: a new one extends no list
import_modules(__name__, __path__)
