"""Token-level uncertainty of a completion, from its logprobs (DebUnc, Yoffe et al., 2024).

- ``entropy``: mean token entropy, the DebUnc reference's default metric.
  The reference computes each token's entropy over the whole vocabulary; API
  backends return at most the top-k alternatives (``top_logprobs``), so each
  token's entropy here is over those k tokens plus the probability mass
  outside them counted as one more outcome: a lower bound of the reference's
  value that approaches it as k grows.
- ``mean-nll``: mean negative log-likelihood of the chosen tokens: the
  fallback when a backend returns only the chosen tokens' logprobs.
- ``token-sar``: TokenSAR, the paper's other metric: each token's NLL weighed
  by its relevance to the meaning of the reply,
  ``sum_t -log p(y_t) R_t / sum_k R_k``. Relevance needs a separate model: the
  reference scores ``R_t = 1 - sim(prompt + reply, prompt + reply without
  token t)`` with the cross-encoder ``cross-encoder/stsb-roberta-large``
  (``relevance: cross-encoder``, extra ``debatelab[sar]``; one pair per
  generated token). Other scorers register in :data:`RELEVANCE` (entry-point
  group ``debatelab.relevance``). Scorers run in a worker thread.
"""

from __future__ import annotations

import importlib.util
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from debate.errors import MissingDependencyError
from debate.models.types import TokenLogprob
from debate.registry import Registry

__all__ = ["RELEVANCE", "RelevanceScorer", "UncertaintyMetric", "mean_nll", "mean_token_entropy",
           "token_entropy", "token_sar", "uncertainty"]

UncertaintyMetric = Literal["entropy", "mean-nll", "token-sar"]

RelevanceScorer = Callable[[str, Sequence[str]], Sequence[float]]
"""(prompt, the reply's tokens) -> each token's relevance in [0, 1]."""

RELEVANCE: Registry[Callable[..., RelevanceScorer]] = Registry(
    "relevance scorer", "relevance_name", group="debatelab.relevance")
"""Factories of TokenSAR relevance scorers by name (options are their keyword arguments)."""


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
    alternatives; ``(None, None)`` when it returned no logprobs at all. ``token-sar``
    needs a relevance scorer: here it gives ``mean-nll``, which a role replaces with
    :func:`token_sar` once its scorer has run.
    """
    if not tokens:
        return None, None
    if metric == "entropy":
        value = mean_token_entropy(tokens)
        if value is not None:
            return value, "entropy"
    return mean_nll(tokens), "mean-nll"


def token_sar(tokens: Sequence[TokenLogprob], relevance: Sequence[float]) -> float | None:
    """TokenSAR: the tokens' NLL weighed by relevance; ``None`` when no token is relevant."""
    total = sum(relevance)
    if not tokens or total <= 0.0:
        return None
    return sum(-t.logprob * r for t, r in zip(tokens, relevance, strict=True)) / total


@RELEVANCE.register("cross-encoder")
def cross_encoder(model: str = "cross-encoder/stsb-roberta-large") -> RelevanceScorer:
    """The reference's relevance: 1 - similarity of the reply with and without each token.

    The extra is checked at once; the model is loaded by the first score (which
    runs in a worker thread), once.
    """
    if importlib.util.find_spec("sentence_transformers") is None:
        raise MissingDependencyError(
            "uncertainty: token-sar with the cross-encoder scorer needs `pip install "
            "debatelab[sar]` (sentence-transformers; Hugging Face downloads the model on "
            "first use)")
    loaded: list[Any] = []
    lock = threading.Lock()

    def score(prompt: str, tokens: Sequence[str]) -> list[float]:
        with lock:
            if not loaded:
                from sentence_transformers import CrossEncoder

                loaded.append(CrossEncoder(model))
        encoder = loaded[0]
        words = list(tokens)
        full = prompt + " " + "".join(words)
        pairs = [(full, prompt + " " + "".join(words[:i] + words[i + 1:]))
                 for i in range(len(words))]
        similarities: Any = encoder.predict(pairs) if pairs else []
        return [1.0 - float(s) for s in similarities]

    return score
