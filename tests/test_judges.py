"""Judge options are typed configs: unknown or invalid options name the judge and the option."""

from collections.abc import Sequence

import pytest

from debate.agents import Agent
from debate.errors import ConfigError
from debate.judges import (
    ConfidenceWeightedJudge,
    Decision,
    Judge,
    JudgeConfig,
    LLMJudge,
    create_judge,
)
from debate.protocols import DuProtocol
from debate.trace import FinalAnswer, Question, Turn


def test_an_unknown_judge_option_names_the_judge_and_the_option():
    with pytest.raises(ConfigError, match=r"judge 'llm': invalid option\(s\): swap: unknown key; "
                                          r"did you mean 'swap_order'\?"):
        create_judge("llm", swap=True)
    with pytest.raises(ConfigError, match=r"judge 'majority': invalid option\(s\): k: unknown "
                                          r"key; no keys are valid here"):
        DuProtocol(judge="majority", judge_options={"k": 3})


def test_an_invalid_judge_option_value_names_the_judge_and_the_option():
    with pytest.raises(ConfigError, match=r"judge 'confidence-weighted': invalid option\(s\): "
                                          r"recalibrate: Input should be a valid boolean"):
        create_judge("confidence-weighted", recalibrate="sometimes")
    with pytest.raises(ConfigError, match=r"judge 'llm': invalid option\(s\): on_tie: "):
        DuProtocol(judge="llm", judge_options={"on_tie": "coin"})


def test_judge_options_are_typed_attributes():
    llm = create_judge("llm", swap_order=True)
    assert isinstance(llm, LLMJudge) and llm.config.swap_order is True and llm.max_calls() == 2
    assert llm.config.on_tie == "majority"
    weighted = create_judge("confidence-weighted", recalibrate=False)
    assert isinstance(weighted, ConfidenceWeightedJudge) and weighted.config.recalibrate is False
    assert DuProtocol(agents=3, rounds=1, judge="llm",
                      judge_options={"swap_order": True}).max_calls() == 6 + 2


class FirstKConfig(JudgeConfig):
    k: int = 1
    """How many candidates to look at."""


class FirstK(Judge[FirstKConfig]):
    """A custom judge whose options are its type argument's fields."""

    name = "first-k"

    async def decide(self, question: Question, candidates: Sequence[Turn],
                     agent: Agent | None = None, round_: int = 0) -> Decision:
        return Decision(FinalAnswer(answer=candidates[self.config.k - 1].answer, method="first-k"))


def test_a_custom_judge_takes_the_options_of_its_config_type():
    assert FirstK.config_class is FirstKConfig and FirstK(k=2).config.k == 2
    with pytest.raises(ConfigError, match=r"judge 'first-k': invalid option\(s\): n: unknown key"):
        FirstK(n=2)
