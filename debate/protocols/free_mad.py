"""``free-mad``: consensus-free multi-agent debate of Cui et al. (2025/26).

"Free-MAD: Consensus-Free Multi-Agent Debate" (Findings of ACL 2026,
arXiv:2509.11035). Du et al.'s rounds (:mod:`debate.protocols.du`) with two
changes:

- Anti-conformity: from round 1 the debaters' prompt (``free_mad_debate``)
  tells them that some agents may spread wrong answers, to restate their own
  reasoning, to find concrete errors in the others', to check their own for
  the same errors, to decide (yes/no) whether to revise, and that a majority
  is no justification: unless they can show the others are right, they keep
  their own conclusion.
- Score-based decision: the final answer is not the last round's vote. Every
  answer gets a score from the whole trajectory of every agent, with weights
  ``W = (w1, w2, w3, w4)`` (``initial_weight``, ``leave_weight``,
  ``join_weight``, ``keep_weight``; the paper's 20, 25, 30, 20) and the
  round factor ``f = 1 / (k + 1)`` (later rounds weigh less):

  - round 0, each agent's answer ``a``: ``S[a] += w1 * f`` (``f = 1``);
  - round k >= 1, an agent that changes from ``a`` to ``b``:
    ``S[a] -= w2 * f`` and ``S[b] += w3 * f``;
  - round k >= 1, an agent that keeps ``a``: ``S[a] += w4 * f``.

  The answer of the highest score wins; on a tie, the tied answer scored
  first (round by round, in agent order). An unparseable answer is never
  chosen, but leaving a parseable answer for one still costs that answer
  ``w2 * f``, and reaching one from an unparseable answer earns it ``w3 * f``.

Round 0: N agents answer alone. Round r = 1..R: every agent continues its own
chat with one message holding the other agents' round r-1 answers (or its
neighbours' with a sparse ``topology``) under the anti-conformity prompt, and
answers again. R is fixed (no consensus stop): the paper's default is one
debate round. Calls: N x (R + 1). The final answer's ``votes`` are the scores;
its ``details`` hold the weights, each agent's trajectory and, round by round,
each agent's move (``initial``, ``keep``, ``change``) and the scores after it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import Field, model_validator

from debate.agents.base import role
from debate.agents.debater import Debater
from debate.protocols.base import DebateContext, DebateState, protocol
from debate.protocols.du import DuConfig, DuProtocol
from debate.trace import FinalAnswer, Turn

if TYPE_CHECKING:
    from langgraph.runtime import Runtime

__all__ = ["TIE_RULE", "FreeMadConfig", "FreeMadDebater", "FreeMadProtocol", "ScoreWeights",
           "free_mad_decision", "trajectory_scores"]

TIE_RULE = "first scored among tied answers (round by round, in agent order)"
"""How a tie between the highest scores is broken."""

_DU_ONLY = {"summarize_peers": False, "uncertainty": "none", "prompting": "du",
            "stop_on_consensus": False}
"""du's variants that are not Free-MAD, with the value each must keep."""


@dataclass(frozen=True, slots=True)
class ScoreWeights:
    """Free-MAD's ``W = (w1, w2, w3, w4)``."""

    initial: float
    """w1: added to an answer for each agent that gives it in round 0."""
    leave: float
    """w2: taken from an answer for each agent that leaves it."""
    join: float
    """w3: added to an answer for each agent that changes to it."""
    keep: float
    """w4: added to an answer for each agent that keeps it."""


def _move(scores: dict[str, float], answer: str | None, amount: float) -> None:
    if answer is not None:
        scores[answer] = scores.get(answer, 0.0) + amount


def trajectory_scores(trajectories: Mapping[str, Sequence[str | None]],
                      weights: ScoreWeights) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Each answer's score over every agent's trajectory, and the record of each round.

    ``trajectories`` maps each agent (in agent order) to its answer in rounds 0..R.
    The scores keep the order in which answers were first scored; each round's
    record holds its factor, every agent's move and the scores after the round.
    """
    scores: dict[str, float] = {}
    record: list[dict[str, Any]] = []
    rounds = max((len(t) for t in trajectories.values()), default=0)
    for k in range(rounds):
        f = 1.0 / (k + 1)
        moves: dict[str, str] = {}
        for agent, answers in trajectories.items():
            now = answers[k] if k < len(answers) else None
            if k == 0:
                moves[agent] = "initial"
                _move(scores, now, weights.initial * f)
                continue
            before = answers[k - 1] if k - 1 < len(answers) else None
            if now == before:
                moves[agent] = "keep"
                _move(scores, now, weights.keep * f)
            else:
                moves[agent] = "change"
                _move(scores, before, -weights.leave * f)
                _move(scores, now, weights.join * f)
        record.append({"round": k, "factor": round(f, 6), "moves": moves,
                       "scores": {a: round(s, 6) for a, s in scores.items()}})
    return scores, record


def free_mad_decision(trajectories: Mapping[str, Sequence[str | None]],
                      weights: ScoreWeights) -> FinalAnswer:
    """The answer of the highest trajectory score (ties: :data:`TIE_RULE`)."""
    scores, record = trajectory_scores(trajectories, weights)
    details: dict[str, Any] = {
        "weights": {"initial": weights.initial, "leave": weights.leave,
                    "join": weights.join, "keep": weights.keep},
        "round_factor": "1 / (k + 1)",
        "trajectories": {a: list(t) for a, t in trajectories.items()},
        "rounds": record,
    }
    if not scores:
        details["reason"] = "no parseable answer"
        return FinalAnswer(answer=None, method="free-mad", details=details)
    top = max(scores.values())
    tied = [a for a, s in scores.items() if s == top]
    if len(tied) > 1:
        details["tied"] = tied
    return FinalAnswer(answer=tied[0], method="free-mad",
                       votes={a: round(s, 6) for a, s in scores.items()},
                       tie_break=TIE_RULE if len(tied) > 1 else None, details=details)


@role("free-mad-debater")
class FreeMadDebater(Debater):
    """Du's debater whose debate rounds use Free-MAD's anti-conformity prompt."""

    default_templates = {**Debater.default_templates, "debate": "free_mad_debate"}


class FreeMadConfig(DuConfig):
    """Options of ``free-mad``: du's agents and topology, one round, the score's weights."""

    judge: str = "majority"
    """Not used: free-mad chooses by trajectory score (setting a judge is an error)."""
    judge_options: dict[str, Any] = Field(default_factory=dict)
    """Not used (setting it is an error)."""
    rounds: int = Field(1, ge=0)
    """Debate rounds after the initial answers (the paper: a single round)."""
    initial_weight: float = Field(20.0, ge=0, le=1000)
    """w1: score an answer gets from each agent giving it in round 0 (the paper: 20)."""
    leave_weight: float = Field(25.0, ge=0, le=1000)
    """w2: score an answer loses when an agent leaves it (the paper: 25)."""
    join_weight: float = Field(30.0, ge=0, le=1000)
    """w3: score an answer gets when an agent changes to it (the paper: 30)."""
    keep_weight: float = Field(20.0, ge=0, le=1000)
    """w4: score an answer gets when an agent keeps it (the paper: 20)."""

    @model_validator(mode="before")
    @classmethod
    def _rounds_for_prompting(cls, data: Any) -> Any:
        """Replaces du's: an unset ``rounds`` is Free-MAD's single round."""
        if isinstance(data, dict) and data.get("rounds") is None:
            data = {**data, "rounds": 1}
        return data

    @model_validator(mode="after")
    def _only_free_mad(self) -> FreeMadConfig:
        if {"judge", "judge_options"} & self.model_fields_set:
            raise ValueError("free-mad chooses its answer by trajectory score (initial_weight, "
                             "leave_weight, join_weight, keep_weight); it takes no judge "
                             "(remove judge and judge_options)")
        for name, allowed in _DU_ONLY.items():
            if getattr(self, name) != allowed:
                raise ValueError(f"{name} is a du variant that Free-MAD does not have "
                                 f"(given {getattr(self, name)!r}; allowed: {allowed!r}): "
                                 "remove it, or use protocol du")
        return self

    def weights(self) -> ScoreWeights:
        """The score's ``W = (w1, w2, w3, w4)``."""
        return ScoreWeights(self.initial_weight, self.leave_weight, self.join_weight,
                            self.keep_weight)


@protocol("free-mad")
class FreeMadProtocol(DuProtocol):
    """Anti-conformity debate for fixed rounds; the answer of the best trajectory score wins."""

    config_class = FreeMadConfig
    config: FreeMadConfig
    member_role = "free-mad-debater"
    paper = ("Cui et al. 2026, Free-MAD: Consensus-Free Multi-Agent Debate "
             "(Findings of ACL 2026)")

    def trajectories(self, turns: Sequence[Turn], last: int) -> dict[str, list[str | None]]:
        """Each agent's parsed answer in rounds 0..``last`` (``None``: none parsed)."""
        by_agent: dict[str, dict[int, str | None]] = {n: {} for n in self.member_names()}
        for turn in turns:
            if turn.kind == "answer" and turn.agent in by_agent:
                by_agent[turn.agent][turn.round] = turn.answer
        return {a: [rounds.get(k) for k in range(last + 1)] for a, rounds in by_agent.items()}

    async def vote(self, state: DebateState, runtime: Runtime[DebateContext]) -> dict[str, Any]:
        """Score every answer over all rounds' trajectories; the best score wins."""
        paths = self.trajectories(state["turns"], state["round"])
        return {"final": free_mad_decision(paths, self.config.weights()), "turns": []}
