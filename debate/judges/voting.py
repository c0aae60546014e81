"""Decision rules of Kaesberg et al. (2025): voting, consensus and a summarising judge.

"Voting or Consensus? Decision-Making in Multi-Agent Debate" (ACL Findings 2025), as
MALLM implements them (``Multi-Agent-LLMs/mallm`` @ d9e66bc, ``decision_protocols/``).
Any protocol whose final answer comes from a judge takes them, by ``decision:``
(:data:`DECISIONS`) or as ``judge: voting`` / ``consensus`` / ``summary``:

- ``voting``: every agent that wrote a candidate votes on the candidates' solutions,
  numbered from 0 and anonymous (``simple``, ``approval``, ``cumulative``, ``ranked``:
  :mod:`debate.scoring.ballots`); a ballot that cannot be read is asked again, up to
  ``attempts`` times in all (MALLM: 10, ``protocol.py:246-267``), then dropped. The
  solution with the highest count wins; a tie, or no readable ballot, decides nothing:
  the final answer is ``None`` and ``details["decided"]`` false (MALLM votes again after
  another turn; at its last turn the answer is empty, ``scheduler.py:241``).
- ``consensus``: the share of agents giving the most common answer must reach the
  rule's threshold (``>=``; majority 0.5, supermajority 0.66, unanimity 1.0; hybrid
  0.75, unanimity while the debate has at most 3 agents or is before its 5th turn:
  ``consensus.py:94-170``). It ends a du or reconcile debate as soon as it is reached
  (MALLM stops the discussion at once, ``paradigm.py:120``); not reached by the last
  round, the ``fallback`` answers: ``last`` (MALLM: the most recent solution; here the
  last agent's answer in seat order), ``plurality`` or ``none``.
- ``summary``: MALLM's ``judge`` (``judge.py``): the first agent combines the solutions
  into one answer (one call, no persona, no history).

Where MALLM differs from a debate with parsed answers: its solution of each agent is
re-extracted by a model call before a vote (``protocol.py:75-103``); here the solution is
the candidate's parsed answer (its whole reply when none was parsed: MALLM's "If there
is no solution provided, just copy the previous response"), at no call; a failed or
empty reply is left off the ballot. ``FinalAnswer.votes`` sums the solutions' counts by
answer, for reading; the decision is by solution, as MALLM's, so two agents giving one
answer can split its votes into a tie. MALLM votes from its 3rd turn at the end of every
turn until a vote is no tie (``simple_voting.py:27,43``, ``paradigm.py:49-52``); du votes
once, after its last round (MALLM with ``max_turns`` = rounds + 1), while
``collective-improvement`` and ``all-agents-drafting`` keep MALLM's schedule.

MALLM's consensus rule counts, after every message, the agents that agree with the latest
solution; at d9e66bc an agreeing agent copies that solution and the count stops at the
first solution it meets (``consensus.py:63-70``, ``agent.py:78``), so with 3 or more
agents it is never reached. Here agreement is giving the same parsed answer, counted over
all agents after each round, and the most common answer must be unique; du and reconcile
end when it is reached. Of the fallbacks, ``last`` is MALLM's (the latest solution);
``plurality`` and ``none`` are this project's additions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import Field

from debate.agents.base import Agent, View, gather_all
from debate.agents.voter import BallotBrief, Voter
from debate.judges.base import Decision, Judge, JudgeConfig, MemberJudge, judge
from debate.judges.majority import majority_vote
from debate.scoring.ballots import VotingMethod, tally, winner
from debate.trace import FinalAnswer, Question, Turn

__all__ = [
    "CONSENSUS_THRESHOLDS",
    "DECISIONS",
    "DecisionRule",
    "ConsensusConfig",
    "ConsensusJudge",
    "SummaryJudge",
    "VotingConfig",
    "VotingJudge",
]

CONSENSUS_THRESHOLDS = {"majority": 0.5, "supermajority": 0.66, "unanimity": 1.0,
                        "hybrid": 0.75}
"""Share of agents that must agree, by rule (MALLM ``consensus.py:111-170``)."""

DecisionRule = Literal[
    "majority-consensus", "supermajority-consensus", "unanimity-consensus", "hybrid-consensus",
    "simple-voting", "approval-voting", "cumulative-voting", "ranked-voting", "judge"]
"""A ``decision:`` name."""

DECISIONS: dict[str, tuple[str, dict[str, object]]] = {
    **{f"{rule}-consensus": ("consensus", {"rule": rule}) for rule in CONSENSUS_THRESHOLDS},
    **{f"{m}-voting": ("voting", {"method": m})
       for m in ("simple", "approval", "cumulative", "ranked")},
    "judge": ("summary", {}),
}
"""The ``decision:`` names (Kaesberg et al.'s seven rules, MALLM's hybrid default, its
judge) and the judge and options each stands for."""


def _on_ballot(candidates: Sequence[Turn]) -> list[Turn]:
    """The candidates that propose something: a failed or empty reply is no solution."""
    return [t for t in candidates if t.answer is not None or t.raw.strip()]


def _solutions(candidates: Sequence[Turn]) -> list[str]:
    """One solution per candidate: its parsed answer, or its reply when none was parsed."""
    return [t.answer if t.answer is not None else t.raw for t in candidates]


def _voter(member: Agent) -> Voter:
    """``member`` as a voter: its name, model, system prompt, sampling and answer parser."""
    voter = Voter(member.name, member.model, system_prompt=member.system_prompt,
                  params=member.params, parser=member.parser,
                  strict_parsing=member.strict_parsing)
    voter.card = member.card
    return voter


class VotingConfig(JudgeConfig):
    """Options of the ``voting`` judge."""

    method: VotingMethod = "simple"
    """``simple`` (one number), ``approval`` (any numbers), ``cumulative`` (10 points),
    ``ranked`` (up to 5 ranks)."""
    attempts: int = Field(10, ge=1, le=100)
    """Times a voter is asked for a readable ballot before its vote is dropped (MALLM: 10)."""


@judge("voting")
class VotingJudge(MemberJudge[VotingConfig]):
    """Every candidate's author votes on the anonymous solutions; a tie decides nothing."""

    def calls_with(self, voters: int) -> int:
        """Each voter, asked up to ``attempts`` times."""
        return voters * self.config.attempts

    async def _ballot(self, voter: Voter, view: View) -> list[Turn]:
        """The voter's turns until one ballot is read (or ``attempts`` are spent)."""
        turns: list[Turn] = []
        for attempt in range(self.config.attempts):
            tag = f"attempt-{attempt + 1}" if attempt else ""
            turn = await voter.act(View(view.question, view.round, peers=view.peers, tag=tag,
                                        brief=view.brief))
            turns.append(turn)
            if turn.answer is not None:
                break
        return turns

    async def decide_with(self, question: Question, candidates: Sequence[Turn],
                          members: Sequence[Agent], round_: int = 0,
                          roles: Mapping[str, str] | None = None) -> Decision:
        """Ask every member for a ballot (concurrently), count, and name the winner."""
        method = self.config.method
        candidates = _on_ballot(candidates)
        solutions = _solutions(candidates)
        view = View(question, round_, peers=candidates,
                    brief=BallotBrief(solutions=solutions, method=method, roles=roles or {}))
        asked = await gather_all([self._ballot(_voter(m), view) for m in members])
        turns = [t for ts in asked for t in ts]
        ballots = [ts[-1].fields["ballot"] for ts in asked if ts[-1].answer is not None]
        counted = [{int(k): v for k, v in b.items()} if isinstance(b, dict) else b
                   for b in ballots]
        scores = tally(method, counted, len(solutions), len(members))
        won = winner(scores, len(counted), method)
        answer = candidates[won].answer if won is not None else None
        votes: dict[str, float] = {}
        for candidate, score in zip(candidates, scores, strict=True):
            if candidate.answer is not None:
                votes[candidate.answer] = votes.get(candidate.answer, 0.0) + score
        details: dict[str, object] = {
            "decided": won is not None, "solutions": solutions, "scores": scores,
            "ballots": len(counted), "spoiled": len(members) - len(counted)}
        if won is None:
            details["reason"] = "tie" if counted else "no readable ballot"
        elif answer is None:
            details["reason"] = "the winning solution has no parsed answer"
        return Decision(FinalAnswer(answer=answer, method=f"{method}-voting", votes=votes,
                                    details=details), turns)


class ConsensusConfig(JudgeConfig):
    """Options of the ``consensus`` judge."""

    rule: Literal["majority", "supermajority", "unanimity", "hybrid"] = "majority"
    """The share that must agree: 0.5, 0.66, 1.0, or hybrid's 0.75 (unanimity with at
    most 3 agents or before round 4, the 5th turn)."""
    fallback: Literal["last", "plurality", "none"] = "last"
    """Not reached by the last round: the last agent's answer (MALLM's most recent
    solution); or, this project's additions, the most common answer or no answer."""


@judge("consensus")
class ConsensusJudge(Judge[ConsensusConfig]):
    """Enough agents give one answer: it is final, and the debate ends there."""

    def threshold(self, agents: int, round_: int) -> float:
        """The share that must agree with ``agents`` agents in round ``round_`` (from 0)."""
        if self.config.rule == "hybrid" and (agents <= 3 or round_ < 4):
            return 1.0
        return CONSENSUS_THRESHOLDS[self.config.rule]

    def agreement(self, candidates: Sequence[Turn], round_: int) -> tuple[str | None, float]:
        """The unique most common parsed answer and its share of all agents, if it suffices."""
        counts = Counter(t.answer for t in candidates if t.answer is not None)
        if not counts:
            return None, 0.0
        ranked = counts.most_common()
        top, n = ranked[0]
        share = n / len(candidates)
        unique = len(ranked) == 1 or ranked[1][1] < n
        reached = unique and share >= self.threshold(len(candidates), round_)
        return (top if reached else None), share

    def settled(self, candidates: Sequence[Turn], round_: int) -> bool:
        """True once the rule's share of agents gives one answer."""
        return self.agreement(candidates, round_)[0] is not None

    async def decide(self, question: Question, candidates: Sequence[Turn],
                     agent: Agent | None = None, round_: int = 0) -> Decision:
        """The agreed answer, or the fallback's."""
        method = f"{self.config.rule}-consensus"
        agreed, share = self.agreement(candidates, round_)
        details: dict[str, object] = {
            "decided": agreed is not None, "share": share,
            "threshold": self.threshold(len(candidates), round_)}
        if agreed is not None:
            return Decision(FinalAnswer(answer=agreed, method=method, details=details))
        fallback = self.config.fallback
        details["fallback"] = fallback
        if fallback == "plurality":
            vote = majority_vote(candidates, method)
            return Decision(vote.model_copy(update={"details": {**vote.details, **details}}))
        answered = [t for t in candidates if t.answer is not None]
        answer = answered[-1].answer if fallback == "last" and answered else None
        if answer is None:
            details["reason"] = "no consensus" if fallback == "none" else "no parseable answer"
        return Decision(FinalAnswer(answer=answer, method=method, details=details))


@judge("summary")
class SummaryJudge(MemberJudge):
    """MALLM's judge: the first agent combines every solution into one answer."""

    def calls_with(self, voters: int) -> int:
        """One summary."""
        return 1

    async def decide_with(self, question: Question, candidates: Sequence[Turn],
                          members: Sequence[Agent], round_: int = 0,
                          roles: Mapping[str, str] | None = None) -> Decision:
        """Ask the first member for the combined answer (no role line: MALLM's has none)."""
        candidates = _on_ballot(candidates)
        solutions = _solutions(candidates)
        turn = await _voter(members[0]).act(View(question, round_, peers=candidates,
                                                 brief=BallotBrief(solutions=solutions)))
        details: dict[str, object] = {"decided": turn.answer is not None, "summary_by": turn.agent}
        if turn.answer is None:
            details["reason"] = "no parseable answer in the summary"
        return Decision(FinalAnswer(answer=turn.answer, method="judge-summary",
                                    details=details), [turn])
