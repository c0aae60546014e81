"""In-process vLLM engine (optional extra: ``pip install debatelab[vllm]``, needs a GPU).

Every debate call becomes one request to vLLM's async engine, so the engine's
continuous batching sees all agents of all concurrent debates at once, and
its automatic prefix cache reuses the stable system prompt and history.

To use a running ``vllm serve`` instead, name the model
``openai:MODEL@http://host:8000/v1``: that is the OpenAI-compatible backend.

``engine`` and ``sampling_params_factory`` can be injected; tests pass a fake
engine object so this module is exercised without vLLM installed.
"""

from __future__ import annotations

import inspect
import itertools
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from debate.errors import MissingDependencyError, ModelOutputError
from debate.models.types import (
    Capabilities,
    Closeable,
    Completion,
    Message,
    SamplingParams,
    TokenLogprob,
    Usage,
)

__all__ = ["VLLMModel"]

_request_ids = itertools.count()


def _import_vllm() -> Any:
    try:
        import vllm
    except ImportError as exc:
        raise MissingDependencyError(
            "the vllm backend needs `pip install debatelab[vllm]` (and a GPU); "
            "for a running `vllm serve`, use the spec openai:MODEL@http://HOST:PORT/v1"
        ) from exc
    return vllm


def structured_outputs(schema: dict[str, Any]) -> dict[str, Any]:
    """Sampling kwargs that make vLLM enforce ``schema``.

    vLLM >= 0.10.2 takes ``structured_outputs=StructuredOutputsParams(json=...)``;
    older releases take ``guided_decoding=GuidedDecodingParams(json=...)``.
    """
    from vllm import sampling_params as sp

    if hasattr(sp, "StructuredOutputsParams"):
        return {"structured_outputs": sp.StructuredOutputsParams(json=schema)}
    return {"guided_decoding": sp.GuidedDecodingParams(json=schema)}


class VLLMModel(Closeable):
    """A model served by an in-process vLLM ``AsyncLLMEngine``.

    An engine the model built itself (on its first call) is shut down by
    :meth:`aclose` (or ``async with model:``); an engine passed in stays its
    caller's to shut down.

    Args:
        model: a Hugging Face model id or local path.
        engine: an already built engine (default: built lazily from ``engine_args``).
        sampling_params_factory: builds vLLM sampling params (default ``vllm.SamplingParams``).
        structured: schema -> sampling kwargs enforcing it (default :func:`structured_outputs`).
        engine_args: extra ``AsyncEngineArgs`` (``gpu_memory_utilization``, ``max_model_len``...).

    """

    capabilities: ClassVar[Capabilities] = Capabilities(in_process=True)
    """Calls run in this process: no default per-attempt timeout (see ``RetryPolicy``)."""

    def __init__(self, model: str, *, engine: Any = None,
                 sampling_params_factory: Callable[..., Any] | None = None,
                 structured: Callable[[dict[str, Any]], dict[str, Any]] = structured_outputs,
                 **engine_args: Any) -> None:
        self.model = model
        self.name = f"vllm:{model}"
        self.engine = engine
        self._owns_engine = engine is None
        self.engine_args = engine_args
        self._factory = sampling_params_factory
        self._structured = structured
        self._tokenizer: Any = None

    async def _ready(self) -> tuple[Any, Any, Callable[..., Any]]:
        if self.engine is None or self._factory is None:
            vllm = _import_vllm()
            if self.engine is None:
                args = vllm.AsyncEngineArgs(model=self.model, **self.engine_args)
                self.engine = vllm.AsyncLLMEngine.from_engine_args(args)
            if self._factory is None:
                self._factory = vllm.SamplingParams
        if self._tokenizer is None:
            tokenizer = self.engine.get_tokenizer()
            self._tokenizer = await tokenizer if inspect.isawaitable(tokenizer) else tokenizer
        return self.engine, self._tokenizer, self._factory

    async def aclose(self) -> None:
        """Shut down the engine this model built (the next call builds a new one)."""
        engine = self.engine
        if not self._owns_engine or engine is None:
            return
        self.engine, self._tokenizer = None, None
        shutdown = getattr(engine, "shutdown", None)
        if shutdown is not None:
            result = shutdown()
            if inspect.isawaitable(result):
                await result

    async def generate(self, messages: Sequence[Message], params: SamplingParams) -> Completion:
        """Render the chat template and run one request through the engine."""
        engine, tokenizer, factory = await self._ready()
        prompt = tokenizer.apply_chat_template(
            [{"role": m.role, "content": m.content} for m in messages],
            tokenize=False, add_generation_prompt=True,
        )
        kwargs: dict[str, Any] = {"max_tokens": params.max_tokens, "seed": params.seed,
                                  "stop": list(params.stop) or None}
        if params.temperature is not None:
            kwargs["temperature"] = params.temperature
        if params.top_p is not None:
            kwargs["top_p"] = params.top_p
        if params.logprobs:
            kwargs["logprobs"] = params.top_logprobs or 1
        if params.json_schema is not None:
            kwargs.update(self._structured(params.json_schema))
        start = time.perf_counter()
        final = None
        request_id = f"debate-{next(_request_ids)}"
        async for output in engine.generate(prompt, factory(**kwargs), request_id):
            final = output
        if final is None or not final.outputs:
            raise ModelOutputError(f"{self.name}: the engine returned no output")
        out = final.outputs[0]
        return Completion(
            text=out.text,
            finish_reason=out.finish_reason,
            usage=Usage(prompt_tokens=len(final.prompt_token_ids or ()),
                        completion_tokens=len(out.token_ids)),
            latency=time.perf_counter() - start,
            model=self.model,
            logprobs=(_logprobs(out, tokenizer, params.top_logprobs) if params.logprobs
                      else None),
        )


def _logprobs(out: Any, tokenizer: Any, top: int | None = None) -> list[TokenLogprob] | None:
    """The sampled tokens' logprobs and, with ``top``, their alternatives.

    VLLM gives, per position, a dict token_id -> Logprob holding the sampled
    token and the ``top`` most likely ones.
    """
    if not out.logprobs:
        return None

    def text(token_id: int, entry: Any) -> str:
        token = entry.decoded_token
        return str(token) if token is not None else str(tokenizer.decode([token_id]))

    result = []
    for token_id, position in zip(out.token_ids, out.logprobs, strict=False):
        alternatives = None
        if top:
            ranked = sorted(position.items(), key=lambda item: -float(item[1].logprob))[:top]
            alternatives = {text(i, e): float(e.logprob) for i, e in ranked}
        entry = position[token_id]
        result.append(TokenLogprob(token=text(token_id, entry), logprob=float(entry.logprob),
                                   top=alternatives))
    return result
