"""Token-level uncertainty of a completion, from its logprobs (DebUnc, Yoffe et al., 2024).

- ``entropy``: mean token entropy, the DebUnc reference's default metric.
  The reference computes each token's entropy over the whole vocabulary; API
  backends return at most the top-k alternatives (``top_logprobs``), so each
  token's entropy here is over those k tokens plus the probability mass
  outside them counted as one more outcome: a lower bound of the reference's
  value that approaches it as k grows.
- ``mean-nll``: mean negative log-likelihood of the chosen tokens: the
  fallback when a backend returns only the chosen tokens' logprobs.

TokenSAR, the paper's other metric, weighs each token by its relevance to
the meaning of the answer as scored by a separate cross-encoder model
(``cross-encoder/stsb-roberta-large``); it cannot be computed from logprobs
alone and is not offered.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Literal

from debate.models.types import TokenLogprob

__all__ = ["UncertaintyMetric", "mean_nll", "mean_token_entropy", "token_entropy", "uncertainty"]

UncertaintyMetric = Literal["entropy", "mean-nll"]


def token_entropy(top: Mapping[str, float]) -> float:
    """Entropy in nats of one position from its top-k logprobs (the rest as one outcome)."""
    probs = [math.exp(lp) for lp in top.values()]
    rest = 1.0 - sum(probs)
    entropy = -sum(p * math.log(p) for p in probs if p > 0.0)
    if rest > 1e-12:
        entropy -= rest * math.log(rest)
    return entropy


def mean_token_entropy(tokens: Sequence[TokenLogprob]) -> float | None:
    """Mean of :func:`token_entropy` over the tokens; ``None`` unless every token has its top-k."""
    if not tokens or any(not t.top for t in tokens):
        return None
    return sum(token_entropy(t.top or {}) for t in tokens) / len(tokens)


def mean_nll(tokens: Sequence[TokenLogprob]) -> float | None:
    """Mean negative log-likelihood of the chosen tokens; ``None`` without tokens."""
    return -sum(t.logprob for t in tokens) / len(tokens) if tokens else None


def uncertainty(tokens: Sequence[TokenLogprob] | None, metric: UncertaintyMetric
                ) -> tuple[float | None, UncertaintyMetric | None]:
    """The completion's uncertainty and the metric actually used.

    ``entropy`` falls back to ``mean-nll`` when the backend returned no top-k
    alternatives; ``(None, None)`` when it returned no logprobs at all.
    """
    if not tokens:
        return None, None
    if metric == "entropy":
        value = mean_token_entropy(tokens)
        if value is not None:
            return value, "entropy"
    return mean_nll(tokens), "mean-nll"
