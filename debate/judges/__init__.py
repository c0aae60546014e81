"""Judges and aggregators: turn the last turns of a debate into a final answer."""

from debate.judges.majority import TIE_RULE, is_consensus, majority_vote

__all__ = ["TIE_RULE", "is_consensus", "majority_vote"]
