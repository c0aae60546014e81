"""Experiment metrics over traces, accumulated one trace at a time.

Per round: majority-vote accuracy of that round's answers, mean accuracy of
single agents, and answer changes from the previous round (right -> wrong,
wrong -> right). Overall: final accuracy, consensus rate, unparsed answers,
calls, tokens and cost.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import BaseModel, Field

from debate.judges.majority import is_consensus, majority_vote
from debate.models.accounting import PriceTable
from debate.scoring import is_correct
from debate.trace import DebateTrace, Turn

__all__ = ["RoundStats", "Summary", "Tally", "summarize"]


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


def _ratio(hits: int, total: int) -> float | None:
    return hits / total if total else None


@dataclass
class _RoundTally:
    debates: int = 0
    majority_right: int = 0
    majority_scored: int = 0
    agent_right: int = 0
    agent_scored: int = 0
    right_to_wrong: int = 0
    wrong_to_right: int = 0
    changed: int = 0

    def stats(self, round_: int) -> RoundStats:
        return RoundStats(round=round_, debates=self.debates,
                          majority_accuracy=_ratio(self.majority_right, self.majority_scored),
                          agent_accuracy=_ratio(self.agent_right, self.agent_scored),
                          right_to_wrong=self.right_to_wrong,
                          wrong_to_right=self.wrong_to_right, changed=self.changed)


class Tally:
    """Metrics accumulated one trace at a time, in constant memory.

    The runner adds each trace as it is written, so a run's summary never
    reads the trace file back; :func:`summarize` is the same over an iterable.
    """

    def __init__(self, prices: PriceTable | None = None) -> None:
        self.prices = prices or PriceTable()
        self.debates = self.scored = self.correct = self.unparsed = 0
        self.calls = self.cached = self.prompt_tokens = self.completion_tokens = 0
        self.consensus = self.multi_agent = 0
        self.cost = 0.0
        self.cost_known = True
        self.protocols: set[str] = set()
        self.models: dict[str, None] = {}
        self.per_round: dict[int, _RoundTally] = {}

    def add(self, trace: DebateTrace) -> None:
        """Count one finished debate."""
        self.debates += 1
        self.protocols.add(trace.protocol)
        for agent in trace.agents:
            self.models.setdefault(agent.model)
        if trace.correct is not None:
            self.scored += 1
            self.correct += trace.correct
        rounds = trace.rounds()
        if rounds and len(trace.agents) > 1:
            self.multi_agent += 1
            self.consensus += is_consensus(rounds[-1])
        self._add_rounds(trace, rounds)
        for turn in trace.turns:
            self.calls += 1
            self.cached += turn.cached
            self.prompt_tokens += turn.usage.prompt_tokens
            self.completion_tokens += turn.usage.completion_tokens
            self.unparsed += turn.kind in ("answer", "revision") and turn.answer is None
            turn_cost = self.prices.cost(turn.model, turn.usage)
            if turn_cost is None:
                self.cost_known = False
            else:
                self.cost += turn_cost

    def _add_rounds(self, trace: DebateTrace, rounds: list[list[Turn]]) -> None:
        q = trace.question
        previous: dict[str, bool | None] = {}
        previous_answer: dict[str, str | None] = {}
        for turns in rounds:
            tally = self.per_round.setdefault(turns[0].round, _RoundTally())
            tally.debates += 1
            vote = is_correct(majority_vote(turns).answer, q.gold, q.task)
            if vote is not None:
                tally.majority_scored += 1
                tally.majority_right += vote
            current: dict[str, bool | None] = {}
            for turn in turns:
                ok = is_correct(turn.answer, q.gold, q.task)
                current[turn.agent] = ok
                if ok is not None:
                    tally.agent_scored += 1
                    tally.agent_right += ok
                if turn.agent in previous_answer:
                    tally.changed += turn.answer != previous_answer[turn.agent]
                    before = previous.get(turn.agent)
                    tally.right_to_wrong += before is True and ok is False
                    tally.wrong_to_right += before is False and ok is True
                previous_answer[turn.agent] = turn.answer
            previous = current

    def summary(self) -> Summary:
        """The metrics of the debates added so far."""
        return Summary(
            protocol=", ".join(sorted(self.protocols)) or None, models=list(self.models),
            debates=self.debates, scored=self.scored, correct=self.correct,
            accuracy=_ratio(self.correct, self.scored),
            rounds=[tally.stats(r) for r, tally in sorted(self.per_round.items())],
            consensus_rate=_ratio(self.consensus, self.multi_agent),
            unparsed_answers=self.unparsed, calls=self.calls, cached_calls=self.cached,
            prompt_tokens=self.prompt_tokens, completion_tokens=self.completion_tokens,
            cost=self.cost if self.cost_known else None,
        )


def summarize(traces: Iterable[DebateTrace], prices: PriceTable | None = None) -> Summary:
    """Metrics over finished traces."""
    tally = Tally(prices)
    for trace in traces:
        tally.add(trace)
    return tally.summary()
