"""An LLM judge: a model picks the final answer among the debaters' candidates.

Candidates are the distinct parsed answers, each with the argument of the
first turn that gave it, numbered in agent order. With ``swap_order`` the
judge is asked a second time with the order reversed, which measures and
removes position bias, as MT-Bench does: the choice stands only when both
orders pick the same answer; when they disagree (or one is unreadable) the
decision is a tie, resolved by ``on_tie`` (default ``majority``: the
majority of the candidates; ``first``: the first order's pick, which keeps
the bias). Without ``swap_order`` an unreadable choice also falls back to the
majority. The trace records both choices, whether they agree, and the rule
used. With a single candidate no call is made unless ``always_call``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from debate.agents.base import Agent, View
from debate.agents.judge import JudgeBrief, JudgeRationale
from debate.errors import ConfigError
from debate.judges.base import Decision, Judge, JudgeConfig, judge
from debate.judges.majority import majority_vote
from debate.trace import FinalAnswer, Question, Turn

__all__ = ["LLMJudge", "LLMJudgeConfig", "candidates_of"]


def candidates_of(turns: Sequence[Turn]) -> list[Turn]:
    """The first turn giving each distinct parsed answer, in order."""
    seen: dict[str, Turn] = {}
    for turn in turns:
        if turn.answer is not None and turn.answer not in seen:
            seen[turn.answer] = turn
    return list(seen.values())


class LLMJudgeConfig(JudgeConfig):
    """Options of the ``llm`` judge."""

    swap_order: bool = False
    """Ask a second time with the candidates reversed; the choice stands only when both
    orders agree (MT-Bench's position-bias check)."""
    always_call: bool = False
    """Call the judge even when the debaters gave a single candidate answer."""
    on_tie: Literal["majority", "first"] = "majority"
    """With ``swap_order``, when the two orders disagree: the majority of the candidates,
    or the first order's pick (which keeps the position bias)."""


@judge("llm")
class LLMJudge(Judge[LLMJudgeConfig]):
    """A judge model chooses among candidate answers, with a rationale."""

    needs_model = True

    def max_calls(self) -> int:
        """2 with ``swap_order``, else 1."""
        return 2 if self.config.swap_order else 1

    async def decide(self, question: Question, candidates: Sequence[Turn],
                     agent: Agent | None = None, round_: int = 0) -> Decision:
        """Ask the judge agent (twice with ``swap_order``) to choose."""
        if agent is None:
            raise ConfigError("the llm judge needs a judge agent (bind a model to 'judge')")
        options = candidates_of(candidates)
        if not options:
            return Decision(majority_vote(candidates, method="llm-judge"))
        if len(options) == 1 and not self.config.always_call:
            final = FinalAnswer(answer=options[0].answer, method="llm-judge",
                                details={"judge_called": False, "reason": "one candidate"})
            return Decision(final)
        orders = [options, list(reversed(options))] if self.config.swap_order else [options]
        turns, picks = [], []
        for tag, order in zip(("", "swapped"), orders, strict=False):
            view = View(question, round_, peers=order, tag=tag,
                        brief=JudgeBrief([(t.answer, t.raw) for t in order]))
            turn = await agent.act(view)
            turns.append(turn)
            picks.append(order[int(turn.answer) - 1].answer if turn.answer else None)
        details: dict[str, object] = {
            "judge_called": True, "candidates": [t.answer for t in options], "choices": picks,
            "rationale": _rationale(turns[0]),
        }
        chosen = picks[0]
        if len(picks) == 2:
            consistent = picks[0] == picks[1] and picks[0] is not None
            details["position_consistent"] = consistent
            if not consistent:
                details["tie"] = _orders_tie(picks[0], picks[1])
                chosen = picks[0] if self.config.on_tie == "first" else None
        if chosen is None:
            fallback = majority_vote(candidates, method="llm-judge")
            details["fallback"] = (f"majority: {details['tie']}" if "tie" in details
                                   else "majority: no parseable judge choice")
            details = {**fallback.details, **details}
            return Decision(fallback.model_copy(update={"details": details}), turns)
        return Decision(FinalAnswer(answer=chosen, method="llm-judge", details=details), turns)


def _rationale(turn: Turn) -> object:
    """The judge's rationale of ``turn`` (``None``: it gave none)."""
    said = JudgeRationale.read(turn)
    return said.rationale if said is not None else None


def _orders_tie(first: str | None, swapped: str | None) -> str:
    """Why the two orders gave no one choice: which were unparsed, or that they disagree."""
    if first is None and swapped is None:
        return "both orders unparsed"
    if first is None:
        return "the first order unparsed"
    if swapped is None:
        return "the swapped order unparsed"
    return "the two orders disagree"
