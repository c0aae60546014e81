"""An LLM judge: a model picks the final answer among the debaters' candidates.

Candidates are the distinct parsed answers, each with the argument of the
first turn that gave it, numbered in agent order. With ``swap_order`` the
judge is asked a second time with the order reversed, which measures
position bias: the trace records both choices and whether they agree. The
final answer is the first call's choice (the second's when the first is
unparseable); if neither parses, the majority decides and the trace says so.
With a single candidate no call is made unless ``always_call``.
"""

from __future__ import annotations

from collections.abc import Sequence

from debate.agents.base import Agent, View
from debate.errors import ConfigError
from debate.judges.base import Decision, Judge, judge
from debate.judges.majority import majority_vote
from debate.trace import FinalAnswer, Question, Turn

__all__ = ["LLMJudge", "candidates_of"]


def candidates_of(turns: Sequence[Turn]) -> list[Turn]:
    """The first turn giving each distinct parsed answer, in order."""
    seen: dict[str, Turn] = {}
    for turn in turns:
        if turn.answer is not None and turn.answer not in seen:
            seen[turn.answer] = turn
    return list(seen.values())


@judge("llm")
class LLMJudge(Judge):
    """A judge model chooses among candidate answers, with a rationale."""

    needs_model = True
    options = {"swap_order": False, "always_call": False}

    async def decide(self, question: Question, candidates: Sequence[Turn],
                     agent: Agent | None = None, round_: int = 0) -> Decision:
        """Ask the judge agent (twice with ``swap_order``) to choose."""
        if agent is None:
            raise ConfigError("the llm judge needs a judge agent (bind a model to 'judge')")
        options = candidates_of(candidates)
        if not options:
            return Decision(majority_vote(candidates, method="llm-judge"))
        if len(options) == 1 and not self.config["always_call"]:
            final = FinalAnswer(answer=options[0].answer, method="llm-judge",
                                details={"judge_called": False, "reason": "one candidate"})
            return Decision(final)
        orders = [options, list(reversed(options))] if self.config["swap_order"] else [options]
        turns, picks = [], []
        for tag, order in zip(("", "swapped"), orders, strict=False):
            view = View(question, round_, peers=order, tag=tag,
                        extra={"candidates": [(t.answer, t.raw) for t in order]})
            turn = await agent.act(view)
            turns.append(turn)
            picks.append(order[int(turn.answer) - 1].answer if turn.answer else None)
        chosen = next((p for p in picks if p is not None), None)
        details: dict[str, object] = {
            "judge_called": True, "candidates": [t.answer for t in options], "choices": picks,
            "rationale": turns[0].fields.get("rationale"),
        }
        if len(picks) == 2:
            details["position_consistent"] = picks[0] == picks[1] and picks[0] is not None
        if chosen is None:
            fallback = majority_vote(candidates, method="llm-judge")
            details["fallback"] = "majority: no parseable judge choice"
            return Decision(fallback.model_copy(update={"details": details}), turns)
        return Decision(FinalAnswer(answer=chosen, method="llm-judge", details=details), turns)
