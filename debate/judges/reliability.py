"""SR-DCR's reliability judge: whether a context passage is reasonable to rely on."""

from __future__ import annotations

from collections.abc import Sequence

from debate.agents.base import Agent, View
from debate.agents.sr_dcr import ReliabilityVerdict
from debate.errors import ConfigError
from debate.judges.base import Decision, Judge, judge
from debate.trace import FinalAnswer, Question, Turn

__all__ = ["ReliabilityJudge"]


@judge("reliability")
class ReliabilityJudge(Judge):
    """A judge model reads a debate about a passage: ``reasonable`` or ``unreasonable``."""

    needs_model = True

    async def decide(self, question: Question, candidates: Sequence[Turn],
                     agent: Agent | None = None, round_: int = 0) -> Decision:
        """Show the judge the whole debate (``candidates``) and read its verdict."""
        if agent is None:
            raise ConfigError("the reliability judge needs a judge agent")
        turn = await agent.act(View(question, round_, peers=candidates))
        said = ReliabilityVerdict.read(turn) or ReliabilityVerdict()
        final = FinalAnswer(answer=turn.answer, method="reliability",
                            details={"reason": said.reason, "parse_error": said.parse_error})
        return Decision(final, [turn])
