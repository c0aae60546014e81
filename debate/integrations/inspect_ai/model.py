"""An inspect_ai model as a debatelab :class:`~debate.models.types.ChatModel`.

Each call goes through ``inspect_ai.model.Model.generate``, so inspect logs it in the
running sample's transcript and applies its own retries, connection limits, cache and
token accounting; debatelab adds no middleware around it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from inspect_ai.model import (
    ChatMessage,
    ChatMessageAssistant,
    ChatMessageSystem,
    ChatMessageUser,
    GenerateConfig,
    Model,
    ModelOutput,
)
from inspect_ai.util import span

from debate.models.types import (
    Capabilities,
    Completion,
    Message,
    SamplingParams,
    TokenLogprob,
    Usage,
)

__all__ = ["SPAN_TYPE", "InspectChatModel", "to_chat_messages", "to_completion",
           "to_generate_config"]

SPAN_TYPE = "debate-agent"
"""The type of the transcript span around each call of a debate agent (named after it)."""

_LENGTH = {"max_tokens", "model_length"}
"""inspect's stop reasons for a reply cut at a token limit (debatelab's ``length``)."""


class InspectChatModel:
    """A debatelab ``ChatModel`` that calls an inspect ``Model`` (``get_model(...)``).

    Sampling parameters left at ``None`` are not sent, so the eval's own settings
    (``--temperature``, ``--max-tokens``...) apply to them; a JSON schema is not sent
    (the reply goes through debatelab's tolerant parser, as for backends without
    structured output).
    """

    capabilities: ClassVar[Capabilities] = Capabilities(limits_each_endpoint=True)
    """inspect limits its own connections (``--max-connections``): no cap around it."""

    def __init__(self, model: Model, agent: str | None = None) -> None:
        self.model = model
        """The inspect model every call goes to."""
        self.agent = agent
        """The debate agent that calls it: each call is then in a transcript span so named."""
        self.name = f"inspect:{model}"
        """``inspect:PROVIDER/MODEL``."""

    async def generate(self, messages: Sequence[Message], params: SamplingParams) -> Completion:
        """One completion from the inspect model (logged in the sample's transcript)."""
        if self.agent is None:
            return await self._generate(messages, params)
        async with span(self.agent, type=SPAN_TYPE):
            return await self._generate(messages, params)

    async def _generate(self, messages: Sequence[Message], params: SamplingParams
                        ) -> Completion:
        output = await self.model.generate(to_chat_messages(messages),
                                           config=to_generate_config(params))
        return to_completion(output, self.name)


def to_chat_messages(messages: Sequence[Message]) -> list[ChatMessage]:
    """The debatelab messages as inspect chat messages, role for role."""
    kinds = {"system": ChatMessageSystem, "user": ChatMessageUser,
             "assistant": ChatMessageAssistant}
    return [kinds[m.role](content=m.content) for m in messages]


def to_generate_config(params: SamplingParams) -> GenerateConfig:
    """The parameters debatelab set (not ``None``) as an inspect ``GenerateConfig``."""
    return GenerateConfig(
        temperature=params.temperature, top_p=params.top_p, max_tokens=params.max_tokens,
        seed=params.seed, stop_seqs=list(params.stop) or None,
        logprobs=True if params.logprobs else None,
        top_logprobs=params.top_logprobs if params.logprobs else None)


def to_completion(output: ModelOutput, name: str) -> Completion:
    """An inspect ``ModelOutput`` as a debatelab ``Completion`` (usage, finish reason)."""
    usage = output.usage
    reason = output.stop_reason if output.choices else None
    return Completion(
        text=output.completion,
        finish_reason="length" if reason in _LENGTH else reason,
        usage=Usage(prompt_tokens=usage.input_tokens if usage else 0,
                    completion_tokens=usage.output_tokens if usage else 0,
                    cached_tokens=(usage.input_tokens_cache_read or 0) if usage else 0),
        latency=output.time or 0.0,
        model=output.model or name,
        logprobs=_logprobs(output))


def _logprobs(output: ModelOutput) -> list[TokenLogprob] | None:
    """The first choice's token log-probabilities, when the model gave them."""
    if not output.choices or output.choices[0].logprobs is None:
        return None
    return [TokenLogprob(token=p.token, logprob=p.logprob,
                         top=({t.token: t.logprob for t in p.top_logprobs}
                              if p.top_logprobs else None))
            for p in output.choices[0].logprobs.content]
