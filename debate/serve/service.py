"""One model id's debates: its session (protocol, models, agents, cache) and its run folder.

A :class:`DebateService` is built once per model id when the server starts: the
models carry the spec's limits and retries across every request, and the run
folder's response cache replays any call an identical request (same model id,
messages and seed) made before, in this process or an earlier one.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from debate.agents.base import Agent
from debate.errors import redact
from debate.experiment.session import RunSession
from debate.serve.shapes import ApiError, ChatRequest
from debate.serve.specs import ServedSpec
from debate.trace import DebateTrace, Question, TraceWriter, read_traces

__all__ = ["DebateService", "debate_record", "question_id", "reply_text"]


def question_id(model_id: str, request: ChatRequest) -> str:
    """The debate's id: a hash of the model id, the messages and the seed.

    Identical requests get the same id, hence the same cache positions: the second
    is replayed from the cache.
    """
    text = json.dumps([model_id, request.messages, request.seed], ensure_ascii=False)
    return "serve-" + hashlib.sha256(text.encode()).hexdigest()[:24]


def reply_text(trace: DebateTrace) -> str:
    r"""``\boxed{ANSWER}``, then the reasoning of an agent whose last answer was the final one.

    With no final answer, a sentence saying so and why (the stop reason and the
    aggregator's reason), and no agent's reply: a reply may hold a ``\boxed{}`` the
    debate did not adopt, which a harness's scorer would read as the answer.
    """
    final = trace.final.answer
    if final is None:
        reason = trace.final.details.get("reason")
        why = f"stop reason: {trace.stop_reason}" + (f"; {reason}" if reason else "")
        return f"The debate reached no final answer ({why})."
    last: dict[str, Any] = {}
    for turn in trace.turns:  # answers only: a ballot's or verdict's "answer" is no reasoning
        if turn.kind in ("answer", "revision") and turn.answer is not None and turn.raw:
            last[turn.agent] = turn
    chosen = [t for t in last.values() if t.answer == final]
    reasoning = chosen[-1].raw if chosen else ""
    return f"\\boxed{{{final}}}\n\n{reasoning}".rstrip()


def debate_record(trace: DebateTrace, max_calls: int | None) -> dict[str, Any]:
    """The ``debate`` object of a reply: trace id, per-round answers, calls, stop reason."""
    totals = trace.totals
    return {
        "trace_id": trace.id, "protocol": trace.protocol, "stop_reason": trace.stop_reason,
        "final_answer": trace.final.answer, "method": trace.final.method,
        "votes": trace.final.votes,
        "rounds": [{t.agent: t.answer for t in turns} for turns in trace.rounds()],
        "calls": totals.calls, "cached_calls": totals.cached_calls, "max_calls": max_calls,
        "prompt_tokens": totals.prompt_tokens, "completion_tokens": totals.completion_tokens,
    }


def _with_system(agents: Sequence[Agent], system: str | None) -> list[Agent]:
    """The agents for one request: copies whose system prompt ends with ``system``."""
    if system is None:
        return list(agents)
    copies = []
    for agent in agents:
        twin = copy.copy(agent)
        own = agent.system_prompt
        twin.system_prompt = f"{own}\n\n{system}" if own else system
        copies.append(twin)
    return copies


class DebateService:
    """The debates of one model id, under a bound on how many may wait or run at once.

    Args:
        spec: the configuration served.
        run_dir: its run folder (``traces.jsonl``, ``cache.sqlite``).
        queue: requests admitted at once (running or waiting for one of the spec's
            ``concurrency`` slots); ``None``: 4 x ``concurrency``.

    """

    def __init__(self, spec: ServedSpec, run_dir: Path, queue: int | None = None) -> None:
        self.spec = spec
        self.run_dir = run_dir
        self.queue = queue if queue is not None else 4 * spec.config.concurrency
        self.session = RunSession(spec.config)
        self.admitted = 0
        self._slots = asyncio.Semaphore(spec.config.concurrency)
        self._writer: TraceWriter | None = None
        self._written: set[str] = set()
        try:
            self.max_calls: int | None = self.session.protocol.max_calls()
        except NotImplementedError:
            self.max_calls = None

    def open(self) -> None:
        """Build the models and agents, open the run folder's cache and trace file."""
        self.session.build()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if self.spec.config.cache:
            self.session.open_cache(self.run_dir)
        traces = self.run_dir / "traces.jsonl"
        self._written = {trace.id for trace in read_traces(traces)}
        self._writer = TraceWriter(traces)

    async def aclose(self) -> None:
        """Close the models, the cache and the trace file."""
        try:
            await self.session.aclose()
        finally:
            if self._writer is not None:
                self._writer.close()

    @contextmanager
    def admit(self) -> Iterator[None]:
        """Hold one place of the queue; a full queue is a 429 with ``Retry-After``."""
        if self.admitted >= self.queue:
            raise ApiError(429, f"{self.spec.model_id}: {self.admitted} debates are running or "
                           f"queued (the bound is {self.queue}, --queue); retry shortly",
                           kind="rate_limit_error", code="rate_limit_exceeded",
                           headers={"Retry-After": "1"})
        self.admitted += 1
        try:
            yield
        finally:
            self.admitted -= 1

    def question(self, request: ChatRequest) -> Question:
        """The debate's question: the last user message, as the spec's task."""
        return Question(id=question_id(self.spec.model_id, request), text=request.question,
                        task=self.spec.task)

    async def debate(self, request: ChatRequest) -> DebateTrace:
        """Run (or replay) the request's debate and keep its trace.

        Cancelling the task cancels the debate's pending calls.
        """
        question = self.question(request)
        agents = _with_system(self.session.agents, request.system)
        try:
            async with self._slots:
                trace = await self.session.protocol.run(question, agents, trace_id=question.id)
        except Exception as exc:  # a model that failed past its retries, a broken reply
            raise ApiError(502, f"{self.spec.model_id}: the debate failed: {redact(str(exc))}",
                           kind="server_error", code="debate_failed") from exc
        if trace.id not in self._written and self._writer is not None:
            self._writer.write(trace)
            self._written.add(trace.id)
        return trace
