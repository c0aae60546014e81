"""Reading and counting ballots: the four voting rules of Kaesberg et al. (2025).

"Voting or Consensus? Decision-Making in Multi-Agent Debate" (ACL Findings 2025);
each rule as MALLM (``Multi-Agent-LLMs/mallm`` @ d9e66bc) reads and counts it, over
solutions numbered from 0:

- ``simple``: one number; MALLM keeps the reply's digits (``simple_voting.py:120``).
- ``approval``: numbers separated by commas; numbers out of range are dropped, a part
  that is no number spoils the ballot (``approval_voting.py:121-125``).
- ``cumulative``: a JSON object of solution -> points, 10 points in all, none
  negative, every key a solution (``cumulative_voting.py:120-142``); MALLM reads it
  with ``ast.literal_eval``, here a pattern accepts such objects of whole numbers (bare
  or in matching quotes, a trailing comma allowed) and nothing is evaluated.
- ``ranked``: up to 5 solution numbers separated by spaces, most preferred first;
  a solution at rank k (from 0) scores ``min(5, voters) - k`` (``ranked_voting.py:80-127``).
  As in MALLM a number given twice is not refused, and a reply with no number is an
  empty ranking (a ballot that scores nothing).

A ballot that cannot be read gives the reason instead (the voter is asked again).
The winner is the solution with the highest count; a tie at the top, or no valid
ballot, decides nothing (MALLM: "There was a tie. Going for another round of voting").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

__all__ = ["MAX_RANKS", "POINTS", "Ballot", "VotingMethod", "read_ballot", "tally", "winner"]

VotingMethod = Literal["simple", "approval", "cumulative", "ranked"]

POINTS = 10
"""Points each voter distributes in cumulative voting."""
MAX_RANKS = 5
"""Most solutions a ranked ballot may rank."""

Ballot = list[int] | dict[int, int]
"""A read ballot: solution numbers (simple: one; approval: a set; ranked: in order), or
cumulative points by solution number."""

_NUMBER = r"""(?:"(-?\d+)"|'(-?\d+)'|(-?\d+))"""
"""A whole number, bare or in matching double or single quotes (as Python literals read)."""
_PAIR = re.compile(_NUMBER + ":" + _NUMBER)
_OBJECT = re.compile(r"\{(?:" + _PAIR.pattern + r"(?:," + _PAIR.pattern + r")*,?)?\}")


def read_ballot(method: VotingMethod, text: str, solutions: int) -> Ballot | str:
    """The ballot in ``text`` over ``solutions`` numbered solutions, or why it is unreadable."""
    if method == "simple":
        digits = "".join(c for c in text if c in "0123456789")
        if not digits:
            return "no number"
        vote = int(digits)
        return [vote] if vote < solutions else f"solution {vote} does not exist"
    if method == "approval":
        parts = [p.strip() for p in text.split(",")]
        if not all(re.fullmatch(r"-?\d+", p) for p in parts):
            return "not numbers separated by commas"
        approved = [int(p) for p in parts if 0 <= int(p) < solutions]
        return approved or "no existing solution approved"
    if method == "cumulative":
        compact = re.sub(r"\s+", "", text)
        if not _OBJECT.fullmatch(compact):
            return "not a JSON object of solution numbers and points"
        points: dict[int, int] = {}
        for pair in _PAIR.findall(compact):
            key, value = "".join(pair[:3]), "".join(pair[3:])
            points[int(key)] = int(value)  # a repeated key keeps its last value, as a dict
        if any(k < 0 or k >= solutions for k in points):
            return "points given to a solution that does not exist"
        if any(v < 0 for v in points.values()):
            return "negative points"
        if sum(points.values()) != POINTS:
            return f"points sum to {sum(points.values())}, not {POINTS}"
        return points
    parts = text.split()  # no number at all is an empty ranking, as MALLM reads it
    if not all(re.fullmatch(r"-?\d+", p) for p in parts):
        return "not numbers separated by spaces"
    ranking = [int(p) for p in parts]
    if any(r < 0 or r >= solutions for r in ranking):
        return "a ranked solution does not exist"
    if len(ranking) > MAX_RANKS:
        return f"more than {MAX_RANKS} ranks"
    return ranking


def tally(method: VotingMethod, ballots: Sequence[Ballot], solutions: int,
          voters: int) -> list[float]:
    """Each solution's count: votes, approvals, points, or rank scores ``min(5, voters) - k``."""
    scores = [0.0] * solutions
    for ballot in ballots:
        if isinstance(ballot, dict):
            for solution, points in ballot.items():
                scores[solution] += points
        elif method == "ranked":
            for rank, solution in enumerate(ballot):
                scores[solution] += min(MAX_RANKS, voters) - rank
        else:
            for solution in ballot:
                scores[solution] += 1
    return scores


def winner(scores: Sequence[float], ballots: int, method: VotingMethod = "simple") -> int | None:
    """The solution with the unique highest count; ``None`` on a tie or with no ballot.

    As MALLM counts: simple and approval votes count only the solutions voted for, so
    no ballot is no winner; cumulative and ranked scores start every solution at 0, so
    a lone solution wins even with no ballot.
    """
    if not scores or (ballots == 0 and method in ("simple", "approval")):
        return None
    top = max(scores)
    tops = [i for i, s in enumerate(scores) if s == top]
    return tops[0] if len(tops) == 1 else None
