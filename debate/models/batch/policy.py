"""How a batch run gathers calls into batches, watches them, and prices them."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from debate.settings import Settings, not_below

__all__ = ["BatchPolicy"]


class BatchPolicy(Settings):
    """How calls are gathered into batches and how batches are watched."""

    window: float = Field(default=0.2, gt=0)
    """Seconds without a new call after which the queued calls are submitted."""
    max_items: int | None = Field(default=None, ge=1)
    """Most requests in one batch; ``None``: the provider's limit (OpenAI 50 000,
    Anthropic 100 000). Larger steps are split."""
    max_bytes: int | None = Field(default=None, ge=1)
    """Most bytes of requests in one batch; ``None``: a little under the provider's
    limit (OpenAI's 200 MB input file, Anthropic's 256 MB request)."""
    poll_initial: float = Field(default=1.0, gt=0)
    """Seconds before a batch's state is first read; the wait grows 1.5x to ``poll_max``."""
    poll_max: float = Field(default=60.0, gt=0)
    """Longest wait between two reads of a batch's state."""
    discount: float = Field(default=0.5, ge=0, le=1)
    """The batch price as a share of the synchronous one (OpenAI and Anthropic: half)."""
    retry: Literal["batch", "sync"] = "batch"
    """Where a failed or expired item goes again: into the next batch, or a synchronous
    call at the full price (sooner)."""

    _poll_max = field_validator("poll_max")(not_below("poll_initial"))
