"""Experiment metrics over traces, accumulated one trace at a time.

Every metric means the same thing in every protocol (:data:`DEFINITIONS`,
printed under each report). The *answers* of a round are its ``answer`` and
``revision`` turns (not critiques, reviews, arguments or verdicts).

- final accuracy: debates whose final answer matches the gold, over the
  finished debates with a gold answer, with its 95% Wilson interval; the
  questions that did not finish are counted next to it, never silently.
- per round: majority-vote accuracy of the round's answers (ties: the first
  tied answer in agent order), mean accuracy of the single answers, the
  shares of unparsed and fallback-parsed answers, and answer changes.
- answer changes: an answer is compared with the same agent's answer in the
  previous round (where each of the two rounds holds a single answer, as in
  critique-refine, with the previous round's answer); right->wrong and
  wrong->right need a gold answer, ``changed`` does not. The same per agent.
- consensus: the share of finished debates whose last round holds answers of
  two or more agents, all parsed and equal (debates with one answering agent
  per round, e.g. critique-refine, have no consensus to measure: n/a).
- oversight (``debate-qa``, ``consultancy``, ``blind-judge``): the judge's
  accuracy, position bias, speakers' wins by side, quotes, private confidence
  (:mod:`debate.analysis.oversight_metrics`); ``None`` in a summary without such traces.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, computed_field

from debate.analysis.oversight_metrics import OVERSIGHT_PROTOCOLS, OversightStats, OversightTally
from debate.analysis.stats import wilson_interval
from debate.errors import ConfigError
from debate.files import SUMMARY_FIX, read_json_model, read_run_record
from debate.judges.majority import is_consensus, majority_vote
from debate.models.accounting import Price, PriceTable
from debate.models.pool import EndpointReport
from debate.scoring import final_correct, is_correct
from debate.trace import DebateTrace, Turn, read_traces

__all__ = ["DEFINITIONS", "AgentStats", "RoundStats", "ScoredAnswer", "ScoredRound", "Summary",
           "Tally", "load_run_summary", "run_prices", "score_rounds", "summarize"]

DEFINITIONS: dict[str, str] = {
    "final accuracy": "final answers equal to the gold answer / finished debates with a gold "
                      "answer; [95% Wilson interval]; unfinished questions are listed, not scored",
    "task": "how answers are read and scored (numeric: by exact value, unless "
            "dataset.numeric_tolerance; choice; yesno; exact: normalized text), from "
            "dataset.task or inferred from the gold answers (the row says which, and why)",
    "per-question accuracy": "oversight protocols: questions whose answer with the higher "
                             "mean judge probability over the orders is the correct one / "
                             "questions judged (a tie is wrong); the headline there is judge "
                             "accuracy, one judgment per order",
    "counting failed as wrong": "final answers equal to the gold answer / (finished + failed "
                                "debates with a gold answer): the accuracy had every debate "
                                "that failed finished wrong",
    "round-0 majority vote": "accuracy of the majority vote over the initial answers (what "
                             "voting without debate gives)",
    "majority acc.": "accuracy of the majority vote over the round's answers (answer and "
                     "revision turns; ties: the first tied answer in agent order)",
    "agent acc.": "mean accuracy of the round's single answers",
    "unparsed": "answers from which no answer could be read (never counted correct)",
    "fallback": "answers read by a fallback rule (last number, yes/no word, option text) "
                "instead of the asked form",
    "changed": "answers that differ from the same agent's previous-round answer (or the "
               "previous round's single answer, where rounds hold one)",
    "right→wrong / wrong→right": "changed answers that went from correct to incorrect / "
                                 "incorrect to correct (needs gold)",
    "consensus rate": "finished debates whose last round holds answers of two or more agents, "
                      "all parsed and equal / finished debates with two or more answering "
                      "agents in their last round",
}


class RoundStats(BaseModel):
    """Metrics of one round across debates."""

    round: int
    debates: int
    """Debates that reached this round."""
    answers: int = 0
    """Answers (answer and revision turns) given in this round."""
    majority_accuracy: float | None
    """Accuracy of the majority vote over this round's answers."""
    agent_accuracy: float | None
    """Mean accuracy of the individual answers of this round."""
    unparsed: int = 0
    """Answers with no readable answer."""
    fallback: int = 0
    """Answers read by a fallback rule."""
    right_to_wrong: int = 0
    """Answers that were correct in the previous round and are wrong now."""
    wrong_to_right: int = 0
    """Answers that were wrong in the previous round and are correct now."""
    changed: int = 0
    """Answers that differ from the same agent's previous answer."""

    @property
    def unparsed_share(self) -> float | None:
        """Unparsed answers / answers."""
        return _ratio(self.unparsed, self.answers)

    @property
    def fallback_share(self) -> float | None:
        """Fallback-parsed answers / answers."""
        return _ratio(self.fallback, self.answers)


@dataclass
class AgentStats:
    """One agent's answers over every debate: who changed its mind, and which way.

    A plain dataclass: the tally counts into it directly (``Summary`` serializes it).
    """

    agent: str
    answers: int = 0
    """Answers it gave, in every round."""
    unparsed: int = 0
    fallback: int = 0
    changed: int = 0
    """Answers that differ from its previous-round answer."""
    right_to_wrong: int = 0
    wrong_to_right: int = 0


class Summary(BaseModel):
    """What an experiment measured."""

    run: str | None = None
    protocol: str | None = None
    models: list[str] = Field(default_factory=list)
    questions: int | None = None
    """Questions in the run (``None`` when only traces were summarized)."""
    task: str | None = None
    """How answers were read and scored: ``numeric``, ``choice``, ``yesno`` or ``exact``."""
    task_source: str | None = None
    """Where ``task`` came from: ``given`` (``dataset.task``), or ``inferred: <why>``."""
    debates: int = 0
    """Debates finished (in the trace file)."""
    scored: int = 0
    """Finished debates with a gold answer."""
    correct: int = 0
    accuracy: float | None = None
    """Final accuracy over the ``scored`` debates."""
    accuracy_interval: tuple[float, float] | None = None
    """95% Wilson score interval of ``accuracy``."""
    rounds: list[RoundStats] = Field(default_factory=list)
    agents: list[AgentStats] = Field(default_factory=list)
    """Per-agent answers and answer changes."""
    consensus_rate: float | None = None
    """Share of debates whose last round agreed (see :data:`DEFINITIONS`)."""
    consensus_debates: int = 0
    """Debates with two or more answering agents in their last round (the rate's base)."""
    oversight: OversightStats | None = None
    """The judge's decisions in oversight protocols (``None``: no such debate)."""
    answers: int = 0
    """Answers (answer and revision turns) in all rounds."""
    unparsed_answers: int = 0
    """Answers whose answer could not be parsed."""
    fallback_answers: int = 0
    """Answers read by a fallback rule."""
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
    invocations: int | None = None
    """How many times the run was started (resumes included)."""
    total_wall_time: float | None = None
    """Seconds over every invocation of the run."""
    total_requests: int | None = None
    """Requests over every invocation of the run."""
    batches: int | None = None
    """Batches submitted to a Batch API in the last invocation (``None``: no batch run)."""
    endpoints: dict[str, list[EndpointReport]] = Field(default_factory=dict)
    """Per replica of each endpoint pool, by model: calls, errors, failovers, time out of
    rotation (this invocation; empty without pools)."""
    errors: dict[str, int] = Field(default_factory=dict)
    """Failed attempts by kind in the last invocation."""
    failed: dict[str, str] = Field(default_factory=dict)
    """Question id -> error, for debates that could not finish (re-run to retry)."""
    failed_scored: int | None = None
    """Failed debates (in ``failed``) of questions with a gold answer (``None``: not
    counted, in a summary written before they were)."""
    stopped: str | None = None
    """Why the run stopped early, when it did."""

    @property
    def vote_accuracy(self) -> float | None:
        """Accuracy of the round-0 majority vote: voting without debate."""
        return self.rounds[0].majority_accuracy if self.rounds else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def accuracy_bound(self) -> float | None:
        """Final accuracy counting every failed debate as wrong.

        ``correct / (scored + failed_scored)``: what ``accuracy`` would be at worst had
        the failed debates finished; equal to it when none failed. ``None`` when nothing
        is scored, or failed debates were not counted (a summary written before).
        """
        if self.failed_scored is None:
            return None if self.failed else _ratio(self.correct, self.scored)
        return _ratio(self.correct, self.scored + self.failed_scored)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def headline(self) -> str:
        """The run's headline metric: ``judge accuracy`` or ``final accuracy``.

        Judge accuracy (the papers' metric: one judgment per order) for oversight
        protocols, final accuracy otherwise. An oversight run's ``accuracy`` is the
        per-question aggregate (the answer with the higher mean probability over the
        orders; a tie is wrong): an always-A judge scores 0% there and 50% judge
        accuracy, so it is shown second.
        """
        return "judge accuracy" if self.oversight is not None else "final accuracy"

    @property
    def headline_accuracy(self) -> float | None:
        """The value of :attr:`headline`."""
        return self.oversight.accuracy.rate if self.oversight is not None else self.accuracy

    @property
    def headline_interval(self) -> tuple[float, float] | None:
        """The 95% Wilson interval of :attr:`headline_accuracy`."""
        if self.oversight is None:
            return self.accuracy_interval
        return wilson_interval(self.oversight.accuracy.hits, self.oversight.accuracy.total)

    @property
    def unfinished(self) -> int:
        """Questions of the run without a finished debate."""
        return max(0, self.questions - self.debates) if self.questions is not None else 0


def _ratio(hits: int, total: int) -> float | None:
    return hits / total if total else None


@dataclass
class _RoundTally:
    debates: int = 0
    answers: int = 0
    unparsed: int = 0
    fallback: int = 0
    majority_right: int = 0
    majority_scored: int = 0
    agent_right: int = 0
    agent_scored: int = 0
    right_to_wrong: int = 0
    wrong_to_right: int = 0
    changed: int = 0

    def stats(self, round_: int) -> RoundStats:
        return RoundStats(round=round_, debates=self.debates, answers=self.answers,
                          majority_accuracy=_ratio(self.majority_right, self.majority_scored),
                          agent_accuracy=_ratio(self.agent_right, self.agent_scored),
                          unparsed=self.unparsed, fallback=self.fallback,
                          right_to_wrong=self.right_to_wrong,
                          wrong_to_right=self.wrong_to_right, changed=self.changed)


@dataclass(frozen=True, slots=True)
class ScoredAnswer:
    """One answer of a debate, scored, with the answer it changed from (if any)."""

    turn: Turn
    correct: bool | None
    """Whether the answer matches the gold (``None``: no gold)."""
    previous: ScoredAnswer | None
    """The same agent's previous-round answer, or the previous round's single answer where
    both rounds hold one (see the module docstring); ``None`` in the first round."""

    @property
    def changed(self) -> bool:
        """The answer differs from ``previous``."""
        return self.previous is not None and self.turn.answer != self.previous.turn.answer

    @property
    def right_to_wrong(self) -> bool:
        """``previous`` was correct, this answer is not (needs gold)."""
        return self.previous is not None and (self.previous.correct, self.correct) == (True, False)

    @property
    def wrong_to_right(self) -> bool:
        """``previous`` was incorrect, this answer is correct (needs gold)."""
        return self.previous is not None and (self.previous.correct, self.correct) == (False, True)


@dataclass(frozen=True, slots=True)
class ScoredRound:
    """One round of one debate: its answers scored, and their majority vote."""

    round: int
    answers: list[ScoredAnswer]
    vote: str | None
    """The majority vote over the round's answers (ties: the first in agent order)."""
    vote_correct: bool | None
    """Whether ``vote`` matches the gold (``None``: no gold)."""


def score_rounds(trace: DebateTrace,
                 rounds: list[list[Turn]] | None = None) -> list[ScoredRound]:
    """The answer rounds of one debate, scored by the definitions above.

    The one place where votes and answer changes are worked out: the tally, the
    per-debate ``results.csv`` and reports all count from it. ``rounds`` is
    ``trace.rounds()``, when the caller has it already.
    """
    q = trace.question
    scored_rounds: list[ScoredRound] = []
    previous: list[ScoredAnswer] = []
    for turns in trace.rounds() if rounds is None else rounds:
        vote = majority_vote(turns).answer
        before = {a.turn.agent: a for a in previous}
        single = len(turns) == 1 and len(previous) == 1  # one solution per round
        answers = [ScoredAnswer(turn, is_correct(turn.answer, q.gold, q.task, q.numeric_tolerance),
                                previous[0] if single else before.get(turn.agent))
                   for turn in turns]
        scored_rounds.append(ScoredRound(turns[0].round, answers, vote,
                                         is_correct(vote, q.gold, q.task, q.numeric_tolerance)))
        previous = answers
    return scored_rounds


class Tally:
    """Metrics accumulated one trace at a time, in constant memory.

    The runner adds each trace as it is written, so a run's summary never
    reads the trace file back; :func:`summarize` is the same over an iterable.
    """

    def __init__(self, prices: PriceTable | None = None) -> None:
        self.prices = prices or PriceTable()
        self.debates = self.scored = self.correct = 0
        self.answers = self.unparsed = self.fallback = 0
        self.calls = self.cached = self.prompt_tokens = self.completion_tokens = 0
        self.consensus = self.multi_agent = 0
        self.cost = 0.0
        self.cost_known = True
        self.protocols: set[str] = set()
        self.models: dict[str, None] = {}
        self.per_round: dict[int, _RoundTally] = {}
        self.per_agent: dict[str, AgentStats] = {}
        self.oversight = OversightTally()

    def add(self, trace: DebateTrace) -> list[ScoredRound]:
        """Count one finished debate; return its :func:`score_rounds`.

        Callers that need them too (the runner's ``results.csv`` row) reuse them, so no
        debate is scored twice.
        """
        self.debates += 1
        self.protocols.add(trace.protocol)
        for agent in trace.agents:
            self.models.setdefault(agent.model)
        correct = final_correct(trace)
        if correct is not None:
            self.scored += 1
            self.correct += correct
        rounds = trace.rounds()
        if rounds and len({t.agent for t in rounds[-1]}) > 1:
            self.multi_agent += 1
            self.consensus += is_consensus(rounds[-1])
        if trace.protocol in OVERSIGHT_PROTOCOLS:
            self.oversight.add(trace)
        scored = score_rounds(trace, rounds)
        self._add_rounds(scored)
        for turn in trace.turns:
            self.calls += 1
            self.cached += turn.cached
            self.prompt_tokens += turn.usage.prompt_tokens
            self.completion_tokens += turn.usage.completion_tokens
            turn_cost = self.prices.cost(turn.model, turn.usage, turn.batch)
            if turn_cost is None:
                self.cost_known = False
            else:
                self.cost += turn_cost
        return scored

    def _agent(self, name: str) -> AgentStats:
        stats = self.per_agent.get(name)
        if stats is None:
            stats = self.per_agent[name] = AgentStats(name)
        return stats

    def _add_rounds(self, rounds: list[ScoredRound]) -> None:
        for scored in rounds:
            tally = self.per_round.setdefault(scored.round, _RoundTally())
            tally.debates += 1
            if scored.vote_correct is not None:
                tally.majority_scored += 1
                tally.majority_right += scored.vote_correct
            for answer in scored.answers:
                turn = answer.turn
                agent = self._agent(turn.agent)
                unparsed, fallback = turn.answer is None, turn.is_fallback
                for counter in (tally, agent, self):
                    counter.answers += 1
                    counter.unparsed += unparsed
                    counter.fallback += fallback
                if answer.correct is not None:
                    tally.agent_scored += 1
                    tally.agent_right += answer.correct
                if answer.previous is None:
                    continue
                changed, right_to_wrong, wrong_to_right = (
                    answer.changed, answer.right_to_wrong, answer.wrong_to_right)
                for counter in (tally, agent):
                    counter.changed += changed
                    counter.right_to_wrong += right_to_wrong
                    counter.wrong_to_right += wrong_to_right

    def headline(self) -> str:
        """The headline so far, for a progress bar: ``judge acc 62%`` or ``acc 70%``."""
        if self.oversight.debates:
            judged = self.oversight.accuracy
            return (f"judge acc {judged.hits / judged.total:.0%}" if judged.total
                    else "judge acc n/a")
        return f"acc {self.correct / self.scored:.0%}" if self.scored else "acc n/a"

    def summary(self) -> Summary:
        """The metrics of the debates added so far."""
        return Summary(
            protocol=", ".join(sorted(self.protocols)) or None, models=list(self.models),
            debates=self.debates, scored=self.scored, correct=self.correct,
            accuracy=_ratio(self.correct, self.scored),
            accuracy_interval=wilson_interval(self.correct, self.scored),
            rounds=[tally.stats(r) for r, tally in sorted(self.per_round.items())],
            agents=[replace(stats) for stats in self.per_agent.values()],
            consensus_rate=_ratio(self.consensus, self.multi_agent),
            consensus_debates=self.multi_agent,
            oversight=self.oversight.stats() if self.oversight.debates else None,
            answers=self.answers,
            unparsed_answers=self.unparsed, fallback_answers=self.fallback,
            calls=self.calls, cached_calls=self.cached,
            prompt_tokens=self.prompt_tokens, completion_tokens=self.completion_tokens,
            cost=self.cost if self.cost_known else None,
        )


def summarize(traces: Iterable[DebateTrace], prices: PriceTable | None = None) -> Summary:
    """Metrics over finished traces."""
    tally = Tally(prices)
    for trace in traces:
        tally.add(trace)
    return tally.summary()


def run_prices(run_dir: str | Path) -> PriceTable:
    """The price table a run folder's ``config.json`` recorded (empty without one)."""
    record = read_run_record(run_dir)
    if record is None:
        return PriceTable()
    stored = record.config
    discount = (stored.get("batch_options") or {}).get("discount", 0.5)
    return PriceTable({name: Price.model_validate(price)
                       for name, price in (stored.get("prices") or {}).items()},
                      batch_discount=discount)


def load_run_summary(run_dir: str | Path) -> Summary:
    """The summary of a run folder, recomputed from its traces (with the run's prices)."""
    run_dir = Path(run_dir)
    traces_path = run_dir / "traces.jsonl"
    if not traces_path.exists():
        raise ConfigError(f"{run_dir}: no traces.jsonl here; is this a run folder?")
    summary = summarize(read_traces(traces_path), run_prices(run_dir))
    previous_path = run_dir / "summary.json"
    keep: dict[str, Any] = {"run": str(run_dir)}
    if previous_path.exists():
        previous = read_json_model(previous_path, Summary, "run summary", SUMMARY_FIX)
        keep |= {k: getattr(previous, k) for k in
                 ("questions", "task", "task_source", "wall_time", "requests", "retries",
                  "errors", "failed", "failed_scored", "stopped", "invocations",
                  "total_wall_time", "total_requests")}
    return summary.model_copy(update=keep)
