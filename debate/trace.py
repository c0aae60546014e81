"""The debate trace: one versioned record per debate, the source of truth.

Metrics, reports and exporters are pure functions over :class:`DebateTrace`.
Traces are written one per line to ``traces.jsonl`` (flushed as each debate
finishes); :func:`read_traces` tolerates a truncated last line, which is what
a killed process leaves behind, and :class:`TraceWriter` cuts it off before
appending.

Each turn keeps the exact messages it sent, and a debate's turns send the same
messages again and again (an agent's chat grows by two messages a round, the
question goes to every agent). On disk (schema version 3) each distinct message
is therefore stored once per debate: the line's ``messages`` holds
``[role, content]`` pairs in order of first use and each turn's ``messages`` is
a list of indices into it. :func:`trace_json` writes that form and
:func:`parse_trace` (and so :func:`read_traces`) restores every turn's full
messages, and reads versions 1 and 2 (messages inline) as they are. Inline, a
debate's bytes grow with the square of its rounds; stored once, linearly: a 3-agent
``du`` debate with GSM8K-length replies takes 0.72 of the inline bytes at 3 answer
rounds and 0.49 at 5 (``benchmarks/trace_bytes.py``; peer messages quote replies,
which this does not de-duplicate: compressing does).

A turn also records the sampling parameters its call asked for
(:class:`Sampled`, written without the values left at their defaults). Fields
added since version 3 are optional, so every earlier line still reads (a turn
written before ``sampling`` was recorded has ``sampling=None``), and a reader of
version 3 that predates a field ignores it.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
)

from debate.errors import ConfigError
from debate.memo import ByIdentity
from debate.models.types import Message, SamplingParams, Usage
from debate.scoring.numbers import NumericTolerance

__all__ = [
    "SCHEMA_VERSION",
    "AgentInfo",
    "DebateTrace",
    "FinalAnswer",
    "Question",
    "Sampled",
    "Totals",
    "TraceWriter",
    "Turn",
    "parse_trace",
    "read_traces",
    "trace_json",
]

SCHEMA_VERSION = 3
log = logging.getLogger(__name__)

TaskType = Literal["numeric", "choice", "yesno", "exact"]
TurnKind = Literal[
    "answer", "critique", "review", "revision", "verdict", "vote", "summary", "argument",
    "question", "confidence"]


_FLOATS = ConfigDict(ser_json_inf_nan="strings")
"""NaN and infinity stay floats in ``model_dump`` (not ``None``) and are written as
strings (see :func:`trace_json`)."""


class Question(BaseModel):
    """One item of a dataset."""

    model_config = _FLOATS

    id: str
    """Unique id within the dataset."""
    text: str
    """The question as the user wrote it (inserted into prompts as data)."""
    task: TaskType = "exact"
    """How answers are extracted and scored."""
    gold: str | None = None
    """The reference answer, normalized for ``task`` (a letter for ``choice``)."""
    gold_text: str | None = None
    """The reference answer as the dataset wrote it (shown by protocols that argue for it,
    e.g. ``debate-qa``); ``None`` when the dataset had none or wrote it as ``gold``."""
    choices: list[str] | None = None
    """Answer options for multiple-choice questions, in order A, B, C..."""
    context: str | None = None
    """A passage that comes with the question (reading comprehension, SR-DCR)."""
    metadata: dict[str, Any] = Field(default_factory=dict)
    """Anything else the dataset row carried."""
    numeric_tolerance: NumericTolerance | None = Field(default=None,
                                                       exclude_if=lambda value: value is None)
    """How far a numeric answer may be from ``gold`` and count (``None``: exactly; see
    :mod:`debate.scoring.numbers`). Written only when set."""


class Sampled(BaseModel):
    """The sampling parameters one call asked for, as a turn records them.

    What the agent passed to its model (with a role's per-call changes: SR-DCR's
    short answer budget, a judge's logprobs); a backend that lacks a parameter
    (Anthropic's seed) ignores it. Written without the values left at their
    defaults, so ``{}`` is a call with none set.
    """

    model_config = ConfigDict(frozen=True)

    temperature: float | None = None
    """Sampling temperature (``None``: the backend's default)."""
    top_p: float | None = None
    """Nucleus sampling mass (``None``: the backend's default)."""
    max_tokens: int | None = None
    """Completion token limit (``None``: the backend's default)."""
    seed: int | None = None
    """Sampling seed."""
    stop: tuple[str, ...] = ()
    """Stop sequences."""
    logprobs: bool = False
    """Whether per-token log-probabilities were asked for."""
    top_logprobs: int | None = None
    """Alternatives per position asked for, with ``logprobs``."""
    structured: bool = False
    """Whether the reply was asked to follow a JSON schema (the role's, fixed by its code)."""

    @classmethod
    def of(cls, params: SamplingParams) -> Sampled:
        """What ``params`` asks of a backend (not the cache-only ``sampler``)."""
        return cls(temperature=params.temperature, top_p=params.top_p,
                   max_tokens=params.max_tokens, seed=params.seed, stop=params.stop,
                   logprobs=params.logprobs, top_logprobs=params.top_logprobs,
                   structured=params.json_schema is not None)

    @model_serializer(mode="wrap")
    def _set_only(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)  # every default is None, False or empty
        return {k: v for k, v in data.items()
                if not (v is None or v is False or (isinstance(v, tuple | list) and not v))}


sampled: ByIdentity[SamplingParams, Sampled] = ByIdentity(Sampled.of, size=1024)
"""``Sampled.of(params)``, once per (frozen) params object: agents reuse theirs."""


class Turn(BaseModel):
    """One agent action: the exact prompt, the raw reply and what was parsed from it."""

    model_config = _FLOATS

    id: str
    """Unique within the debate, e.g. ``r1/agent-0/answer``."""
    round: int
    """0 for initial answers, r for debate round r."""
    agent: str
    """The agent's name."""
    role: str
    """The agent's role (``debater``, ``critic``...)."""
    kind: TurnKind = "answer"
    """What this turn is."""
    step: str | None = None
    """The step of a multi-step role this turn was asked for (``closed``/``open`` for
    SR-DCR's answerer, ``candidates``/``decide`` for MAD's judge...: the view's ``step``);
    ``None`` for a role's one action. Protocols find turns by these fields, never by id."""
    messages: list[Message]
    """The exact messages sent to the model."""
    raw: str
    """The raw completion text (empty on failure)."""
    answer: str | None = None
    """The parsed, normalized answer; ``None`` when none could be parsed."""
    answer_from: Literal["explicit", "fallback"] | None = None
    """How the answer was found: ``explicit`` (in the asked form: ``\\boxed{}``, an
    "Answer:" line, a JSON field) or ``fallback`` (guessed from free text: the last
    number, a yes/no word, an option's text). With ``strict_parsing`` a fallback is
    rejected: ``answer`` is then ``None`` and this says ``fallback``."""
    answer_rule: str | None = None
    """The rule that found the answer (``boxed``, ``last-number``...; see ``debate.scoring``)."""
    confidence: float | None = None
    """The agent's confidence in ``[0, 1]``, when the protocol asks for one."""
    saw: list[str] = Field(default_factory=list)
    """Ids of the other agents' turns this call's messages actually show, derived from the
    messages sent: a peer's reply, or the explanation or critique taken from it, appears
    in them verbatim (a very short reply found elsewhere in the prompt also counts); for
    Reflect-Critique-Refine, also peers shown by their answer only."""
    usage: Usage = Field(default_factory=Usage)
    """Token counts of the call."""
    latency: float = 0.0
    """Seconds the call took (0 when replayed from the cache)."""
    model: str = ""
    """The model spec name that produced the turn."""
    sampling: Sampled | None = None
    """The sampling parameters the call asked for (``None`` in traces written before they
    were recorded)."""
    finish_reason: str | None = None
    """Why generation stopped."""
    cached: bool = False
    """True when the completion was replayed from the response cache."""
    batch: bool = False
    """True when the call went through a Batch API (priced at the batch rate)."""
    error: str | None = None
    """Why the model's output could not be used, when it could not."""
    fields: dict[str, Any] = Field(default_factory=dict)
    """Structured fields parsed from the reply (explanation, verdict, review score...)."""
    logprobs: list[float] | None = None
    """Per-token log-probabilities of the reply, when the protocol asked for them."""

    @property
    def is_fallback(self) -> bool:
        """True when the answer was read by a fallback rule (a guess from free text)."""
        return self.answer is not None and self.answer_from == "fallback"


class AgentInfo(BaseModel):
    """Who took part in a debate."""

    name: str
    role: str
    model: str
    card: str | None = None
    """The role card the agent was built from, if any."""


class FinalAnswer(BaseModel):
    """The debate's answer and how it was reached."""

    model_config = _FLOATS

    answer: str | None
    """The final answer; ``None`` when no agent gave a parseable one."""
    method: str
    """``majority``, ``single``, ``judge``..."""
    votes: dict[str, float] = Field(default_factory=dict)
    """Votes (or weights) per answer."""
    tie_break: str | None = None
    """How a tie was broken, when there was one."""
    details: dict[str, Any] = Field(default_factory=dict)
    """Anything else the aggregator recorded (e.g. a judge's rationale)."""


class Totals(BaseModel):
    """Sums over a debate's turns."""

    calls: int = 0
    cached_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency: float = 0.0

    @classmethod
    def of(cls, turns: list[Turn]) -> Totals:
        """Totals of the given turns."""
        return cls(
            calls=len(turns),
            cached_calls=sum(t.cached for t in turns),
            prompt_tokens=sum(t.usage.prompt_tokens for t in turns),
            completion_tokens=sum(t.usage.completion_tokens for t in turns),
            latency=sum(t.latency for t in turns),
        )


class DebateTrace(BaseModel):
    """Everything that happened in one debate."""

    model_config = _FLOATS

    schema_version: int = SCHEMA_VERSION
    """Version of this schema; readers check it."""
    id: str
    """Unique id of the debate (experiment hash + question id)."""
    protocol: str
    """The protocol's registered name."""
    protocol_config: dict[str, Any] = Field(default_factory=dict)
    """The protocol's resolved config."""
    question: Question
    agents: list[AgentInfo]
    turns: list[Turn]
    final: FinalAnswer
    stop_reason: str
    """``max_rounds``, ``consensus``..."""
    correct: bool | None = None
    """Whether ``final.answer`` matches the gold answer (``None``: no gold)."""
    totals: Totals = Field(default_factory=Totals)
    started_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    def rounds(self) -> list[list[Turn]]:
        """The ``answer`` and ``revision`` turns grouped by round, in agent order."""
        by_round: dict[int, list[Turn]] = {}
        for turn in self.turns:
            if turn.kind in ("answer", "revision"):
                by_round.setdefault(turn.round, []).append(turn)
        return [by_round[r] for r in sorted(by_round)]


def trace_json(trace: DebateTrace) -> bytes:
    """One trace as a line of ``traces.jsonl`` (no newline): each message stored once.

    See the module docstring; :func:`parse_trace` reads it back.
    """
    table: dict[tuple[str, str], int] = {}
    refs: list[list[int]] = []
    for turn in trace.turns:
        indices = []
        for message in turn.messages:
            key = (message.role, message.content)
            index = table.get(key)
            if index is None:
                index = table[key] = len(table)
            indices.append(index)
        refs.append(indices)
    data = trace.model_dump(mode="json", exclude=_TURN_MESSAGES)
    data["schema_version"] = SCHEMA_VERSION  # the form written, whatever the object says
    for turn_data, indices in zip(data["turns"], refs, strict=True):
        turn_data["messages"] = indices
    data["messages"] = [list(key) for key in table]
    if not _finite(trace):  # JSON has no NaN or infinity: write them as strings
        data = spell_non_finite(data)
    try:
        return orjson.dumps(data)
    except TypeError:  # what orjson refuses (a lone surrogate in a reply): escaped ASCII
        return json.dumps(data).encode()


_TURN_MESSAGES: Any = {"turns": {"__all__": {"messages"}}}


def _finite(trace: DebateTrace) -> bool:
    """Whether every float in the trace is finite (the common case, checked cheaply).

    A sum of floats is finite only if each is (a huge finite sum overflowing to
    infinity only sends a trace down the slow path, which is exact).
    """
    for turn in trace.turns:
        if not math.isfinite(turn.latency + (turn.confidence or 0.0)):
            return False
        if turn.logprobs and not math.isfinite(sum(turn.logprobs)):
            return False
        if turn.fields and not _all_finite(turn.fields):
            return False
    final = trace.final
    return (math.isfinite(trace.totals.latency + sum(final.votes.values()))
            and _all_finite(final.details) and _all_finite(trace.protocol_config)
            and _all_finite(trace.question.metadata))


def _all_finite(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_all_finite(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(_all_finite(v) for v in value)
    return True


def spell_non_finite(value: Any) -> Any:
    """``value`` with each NaN or infinity as the string ``NaN``, ``Infinity`` or ``-Infinity``.

    That is valid JSON, which the trace's float fields read back as floats; orjson
    would write ``null``, and a trace with a ``null`` logprob could not be read.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: spell_non_finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [spell_non_finite(v) for v in value]
    return value


def parse_trace(line: str | bytes) -> DebateTrace:
    """A trace from one line of ``traces.jsonl`` (any schema version up to this one).

    Raises ``ValueError`` (``pydantic.ValidationError`` included) for a line that is
    not a trace, and :class:`~debate.errors.ConfigError` for a newer schema version.
    """
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError:
        data = json.loads(line)  # what orjson refuses to read: an escaped lone surrogate
    if not isinstance(data, dict):
        raise ValueError(f"a trace is a JSON object, not {type(data).__name__}")
    version = data.get("schema_version", 1)
    if isinstance(version, int) and version > SCHEMA_VERSION:
        raise ConfigError(f"schema_version {version} is newer than this debatelab "
                          f"({SCHEMA_VERSION}); upgrade it")
    table = data.pop("messages", None)
    if table is not None:
        try:
            messages = [{"role": role, "content": content} for role, content in table]
            for turn in data.get("turns") or ():
                turn["messages"] = [messages[_index(i, len(messages))]
                                    for i in turn.get("messages") or ()]
        except (AttributeError, TypeError, ValueError, IndexError) as exc:
            raise ValueError(f"the messages table or a turn's indices are broken ({exc})"
                             ) from exc
    return DebateTrace.model_validate(data)


def _index(value: object, size: int) -> int:
    """A message index as written: an int in ``range(size)`` (not a bool, not negative)."""
    if type(value) is not int or not 0 <= value < size:
        raise IndexError(f"message index {value!r} is not in 0..{size - 1}")
    return value


def read_traces(path: str | Path) -> Iterator[DebateTrace]:
    """Yield the traces in a JSONL file; a truncated last line is skipped with a warning.

    A corrupt line anywhere else is an error naming the file and line.
    """
    path = Path(path)
    if not path.exists():
        return
    with path.open("rb") as f:  # streamed: memory stays flat however long the file
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                trace = parse_trace(line)
            except ConfigError as exc:
                raise ConfigError(f"{path}:{number}: {exc}") from None
            except ValueError as exc:
                if not line.endswith(b"\n"):  # the last line, cut short by a kill
                    log.warning("%s:%d: skipping truncated last line", path, number)
                    return
                raise ConfigError(f"{path}:{number}: not a debate trace: {exc}") from exc
            yield trace


class TraceWriter:
    """Appends traces to a JSONL file, one line per debate, flushed at once.

    Opening cuts off a truncated last line left by a killed process.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _drop_partial_tail(self.path)
        self._file = self.path.open("ab")

    def write(self, trace: DebateTrace, line: bytes | None = None) -> None:
        """Append one trace (:func:`trace_json`) and flush it to the OS.

        ``line``: the trace already encoded by :func:`trace_json` (as a Ray shard sends it).
        """
        self._file.write((trace_json(trace) if line is None else line) + b"\n")
        self._file.flush()

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def __enter__(self) -> TraceWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _drop_partial_tail(path: Path) -> None:
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb+") as f:
        data = f.read()
        if data.endswith(b"\n"):
            return
        cut = data.rfind(b"\n") + 1
        log.warning("%s: cutting off a truncated last line (%d bytes)", path, len(data) - cut)
        f.truncate(cut)

