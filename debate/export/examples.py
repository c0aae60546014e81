"""Training examples before formatting.

An example is a prompt, a chosen/rejected pair or a single completion, scores,
and provenance that traces every row back to its debate.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, Field

from debate.models.types import Message
from debate.trace import DebateTrace, Turn

__all__ = ["Example", "Provenance", "config_hash", "prompt_key", "provenance"]


class Provenance(BaseModel):
    """Where an example came from. The same keys on every row (parquet needs one schema)."""

    trace_id: str
    question_id: str
    protocol: str
    models: list[str]
    """The models of the debate's agents, in agent order."""
    agents: list[str]
    """The agents whose turns the example uses (chosen first)."""
    turn_ids: list[str]
    """The turns the example uses (chosen first)."""
    answers_from: list[str | None] = []
    """How each of those turns' answers was parsed: ``explicit``, ``fallback`` or ``None``
    (no answer)."""
    answer_source: str | None = None
    """Where the example's ``answer`` (reward target) comes from: ``gold`` whenever the
    question has one; else ``consensus``, ``judge``, or how the debate reached its final
    answer (``majority``, ``llm-judge``...)."""
    round: int
    strategy: str
    config_hash: str
    """Hash of the protocol, its config and the agents' models."""
    schema_version: int
    extra: str = "{}"
    """Strategy-specific details as JSON text (e.g. a judge's rationale)."""


class Example(BaseModel):
    """One example: a preference pair (``chosen``/``rejected``) or a single ``completion``."""

    prompt: list[Message]
    """The exact messages the response was generated from (multi-turn kept whole)."""
    chosen: str | None = None
    rejected: str | None = None
    completion: str | None = None
    label: bool | None = None
    """For single completions: desirable or not (KTO)."""
    answer: str | None = None
    """The reference answer (gold, or the debate's consensus) for verifier rewards."""
    score_chosen: float | None = None
    score_rejected: float | None = None
    margin: float | None = None
    chosen_correct: bool | None = None
    """Whether the chosen (or single) response is right, when the question has gold."""
    metadata: Provenance
    extra: dict[str, Any] = Field(default_factory=dict, exclude=True)

    @property
    def is_pair(self) -> bool:
        """True for chosen/rejected pairs."""
        return self.chosen is not None and self.rejected is not None


def prompt_key(prompt: list[Message]) -> str:
    """A prompt as comparable text: equal exactly when role and content of every message are."""
    return json.dumps([[m.role, m.content] for m in prompt])


def config_hash(trace: DebateTrace) -> str:
    """A short hash of what produced the trace: protocol, config, models."""
    blob = json.dumps([trace.protocol, trace.protocol_config, [a.model for a in trace.agents]],
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def provenance(trace: DebateTrace, turns: list[Turn], strategy: str,
               answer_source: str | None = None, **extra: Any) -> Provenance:
    """The provenance of an example built from ``turns`` of ``trace``."""
    return Provenance(
        trace_id=trace.id, question_id=trace.question.id, protocol=trace.protocol,
        models=[a.model for a in trace.agents], agents=[t.agent for t in turns],
        turn_ids=[t.id for t in turns], answers_from=[t.answer_from for t in turns],
        answer_source=answer_source, round=turns[0].round if turns else 0,
        strategy=strategy, config_hash=config_hash(trace),
        schema_version=trace.schema_version,
        extra=json.dumps(extra, sort_keys=True, default=str),
    )
