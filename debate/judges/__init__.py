"""Judges and aggregators: turn the last turns of a debate into a final answer."""

from debate.judges.base import JUDGES, Decision, Judge, JudgeConfig, create_judge, get_judge, judge
from debate.judges.llm import LLMJudge, LLMJudgeConfig
from debate.judges.majority import (
    TIE_RULE,
    LastJudge,
    MajorityJudge,
    is_consensus,
    majority_vote,
)
from debate.judges.reliability import ReliabilityJudge
from debate.judges.weighted import (
    ConfidenceWeightedConfig,
    ConfidenceWeightedJudge,
    recalibrate,
    weighted_vote,
)
from debate.registry import import_modules

__all__ = [
    "JUDGES",
    "TIE_RULE",
    "ConfidenceWeightedConfig",
    "ConfidenceWeightedJudge",
    "Decision",
    "Judge",
    "JudgeConfig",
    "LLMJudge",
    "LLMJudgeConfig",
    "LastJudge",
    "MajorityJudge",
    "ReliabilityJudge",
    "create_judge",
    "get_judge",
    "is_consensus",
    "judge",
    "majority_vote",
    "recalibrate",
    "weighted_vote",
]

# every module registers its built-ins as it is imported: a new one extends no list
import_modules(__name__, __path__)
