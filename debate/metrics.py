"""Experiment metrics: pure functions over traces.

Per round: majority-vote accuracy of that round's answers, mean accuracy of
single agents, and answer changes from the previous round (right -> wrong,
wrong -> right). Overall: final accuracy, consensus rate, unparsed answers,
calls, tokens and cost.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from pydantic import BaseModel, Field

from debate.judges.majority import is_consensus, majority_vote
from debate.models.accounting import PriceTable
from debate.scoring import is_correct
from debate.trace import DebateTrace

__all__ = ["RoundStats", "Summary", "summarize"]


class RoundStats(BaseModel):
    """Metrics of one round across debates."""

    round: int
    debates: int
    """Debates that reached this round."""
    majority_accuracy: float | None
    """Accuracy of the majority vote over this round's answers."""
    agent_accuracy: float | None
    """Mean accuracy of the individual answers of this round."""
    right_to_wrong: int = 0
    """Answers that were correct in the previous round and are wrong now."""
    wrong_to_right: int = 0
    """Answers that were wrong in the previous round and are correct now."""
    changed: int = 0
    """Answers that differ from the same agent's previous answer."""


class Summary(BaseModel):
    """What an experiment measured."""

    run: str | None = None
    protocol: str | None = None
    models: list[str] = Field(default_factory=list)
    debates: int = 0
    """Debates finished (in the trace file)."""
    scored: int = 0
    """Debates with a gold answer."""
    correct: int = 0
    accuracy: float | None = None
    """Final accuracy over scored debates."""
    rounds: list[RoundStats] = Field(default_factory=list)
    consensus_rate: float | None = None
    """Share of multi-agent debates whose last round agreed on one parseable answer."""
    unparsed_answers: int = 0
    """Turns whose answer could not be parsed."""
    calls: int = 0
    cached_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None
    """Dollars for all turns, when every model's price is known."""
    wall_time: float | None = None
    """Seconds the last invocation ran."""
    requests: int | None = None
    """Requests the last invocation sent to backends (retries included)."""
    retries: int | None = None
    """Retries in the last invocation."""
    errors: dict[str, int] = Field(default_factory=dict)
    """Failed attempts by kind in the last invocation."""
    failed: dict[str, str] = Field(default_factory=dict)
    """Question id -> error, for debates that could not finish (re-run to retry)."""
    stopped: str | None = None
    """Why the run stopped early, when it did."""


def _mean(values: list[bool]) -> float | None:
    return sum(values) / len(values) if values else None


@dataclass
class _RoundTally:
    debates: int = 0
    majority: list[bool] = field(default_factory=list)
    agent: list[bool] = field(default_factory=list)
    right_to_wrong: int = 0
    wrong_to_right: int = 0
    changed: int = 0

    def stats(self, round_: int) -> RoundStats:
        return RoundStats(round=round_, debates=self.debates,
                          majority_accuracy=_mean(self.majority),
                          agent_accuracy=_mean(self.agent), right_to_wrong=self.right_to_wrong,
                          wrong_to_right=self.wrong_to_right, changed=self.changed)


def summarize(traces: Iterable[DebateTrace], prices: PriceTable | None = None) -> Summary:
    """Metrics over finished traces."""
    prices = prices or PriceTable()
    summary = Summary()
    per_round: dict[int, _RoundTally] = {}
    consensus: list[bool] = []
    cost = 0.0
    cost_known = True
    protocols: set[str] = set()
    models: dict[str, None] = {}
    for trace in traces:
        summary.debates += 1
        protocols.add(trace.protocol)
        for agent in trace.agents:
            models.setdefault(agent.model)
        q = trace.question
        if trace.correct is not None:
            summary.scored += 1
            summary.correct += trace.correct
        rounds = trace.rounds()
        if rounds and len(trace.agents) > 1:
            consensus.append(is_consensus(rounds[-1]))
        previous: dict[str, bool | None] = {}
        previous_answer: dict[str, str | None] = {}
        for turns in rounds:
            r = turns[0].round
            tally = per_round.setdefault(r, _RoundTally())
            tally.debates += 1
            vote = is_correct(majority_vote(turns).answer, q.gold, q.task)
            if vote is not None:
                tally.majority.append(vote)
            current: dict[str, bool | None] = {}
            for turn in turns:
                ok = is_correct(turn.answer, q.gold, q.task)
                current[turn.agent] = ok
                if ok is not None:
                    tally.agent.append(ok)
                if turn.agent in previous_answer:
                    tally.changed += turn.answer != previous_answer[turn.agent]
                    before = previous.get(turn.agent)
                    tally.right_to_wrong += before is True and ok is False
                    tally.wrong_to_right += before is False and ok is True
                previous_answer[turn.agent] = turn.answer
            previous = current
        for turn in trace.turns:
            summary.calls += 1
            summary.cached_calls += turn.cached
            summary.prompt_tokens += turn.usage.prompt_tokens
            summary.completion_tokens += turn.usage.completion_tokens
            summary.unparsed_answers += turn.kind in ("answer", "revision") and turn.answer is None
            turn_cost = prices.cost(turn.model, turn.usage)
            if turn_cost is None:
                cost_known = False
            else:
                cost += turn_cost
    summary.protocol = ", ".join(sorted(protocols)) or None
    summary.models = list(models)
    summary.accuracy = summary.correct / summary.scored if summary.scored else None
    summary.consensus_rate = _mean(consensus)
    summary.cost = cost if cost_known else None
    summary.rounds = [tally.stats(r) for r, tally in sorted(per_round.items())]
    return summary
