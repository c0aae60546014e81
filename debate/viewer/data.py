"""The viewer's data: runs, a light index of every debate, and debate details in chunks.

The page parses the index (``runs`` and one small row per debate) at load, and a
chunk of debate details only when one of its debates is opened. Message contents
and raw replies repeat from turn to turn (each turn's chat holds the previous
ones), so a chunk keeps every distinct string once, in ``strings``, and turns refer
to them by index; turn fields that hold their default (:data:`TURN_DEFAULTS`) are
left out, and the run's protocol config is kept once, in the index.

Every number shown comes from :mod:`debate.analysis.metrics`: the run's :class:`Summary`
(what ``summary.json`` holds) and :func:`debate.analysis.metrics.score_rounds` for each
answer's correctness and change; nothing is recomputed another way.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from debate.analysis.metrics import (
    DEFINITIONS,
    ScoredAnswer,
    Summary,
    load_run_summary,
    score_rounds,
)
from debate.errors import ConfigError
from debate.files import damaged, read_run_record
from debate.scoring import final_correct
from debate.trace import DebateTrace, Turn, read_traces
from debate.viewer.reading import judge_orders, private_reason

__all__ = ["CHANGED", "CHUNK_SIZE", "DOWN", "TURN_DEFAULTS", "UNPARSED", "UP", "ViewerData",
           "viewer_data"]

CHUNK_SIZE = 250
"""Debates per detail chunk: the page parses one chunk when one of its debates opens."""

# one bit per event, per agent of a debate (the list's filters read them)
CHANGED, UP, DOWN, UNPARSED = 1, 2, 4, 8
"""``flags`` bits: an answer changed, went wrong→right, went right→wrong, was unparsed."""


class StringTable:
    """Distinct strings, each kept once; :meth:`ref` gives a string's index."""

    def __init__(self) -> None:
        self.strings: list[str] = []
        self._index: dict[str, int] = {}

    def ref(self, text: str) -> int:
        """The index of ``text``, added at the end when new."""
        index = self._index.get(text)
        if index is None:
            index = self._index[text] = len(self.strings)
            self.strings.append(text)
        return index


@dataclass
class ViewerData:
    """What the page embeds: the index (parsed at load) and the detail chunks."""

    index: dict[str, Any]
    chunks: list[dict[str, Any]] = field(default_factory=list)


def _run_record(run_dir: Path, summary: Summary) -> dict[str, Any]:
    config: dict[str, Any] | None = None
    stored = read_run_record(run_dir)
    if stored is not None:
        config = {"identity": stored.identity, "config": stored.config,
                  "forced": stored.forced or None}
    return {"name": run_dir.name, "path": str(run_dir), "summary": summary.model_dump(mode="json")
            | {"vote_accuracy": summary.vote_accuracy, "unfinished": summary.unfinished},
            "config": config, "protocol_config": None}


# turn fields left out of a chunk when they hold their default (the page fills them in)
TURN_DEFAULTS: dict[str, Any] = {"step": None, "answer": None, "from": None, "rule": None,
                                 "conf": None, "saw": [], "fin": None, "cached": False,
                                 "error": None, "fields": {}, "logprobs": None, "private": None}


def _turn_record(turn: Turn, strings: StringTable, scored: ScoredAnswer | None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": turn.id, "round": turn.round, "agent": turn.agent, "role": turn.role,
        "kind": turn.kind, "step": turn.step,
        "m": [[m.role, strings.ref(m.content)] for m in turn.messages],
        "raw": strings.ref(turn.raw), "answer": turn.answer, "from": turn.answer_from,
        "rule": turn.answer_rule, "conf": turn.confidence, "saw": turn.saw,
        "pt": turn.usage.prompt_tokens, "ct": turn.usage.completion_tokens,
        "lat": round(turn.latency, 4), "model": turn.model, "fin": turn.finish_reason,
        "cached": turn.cached, "error": turn.error, "fields": turn.fields,
        "logprobs": None if turn.logprobs is None else len(turn.logprobs),
        "private": private_reason(turn),
    }
    if scored is not None:  # an answer: scored and compared as the metrics do
        record["ok"] = scored.correct
        record["changed"] = scored.changed
        record["dir"] = "up" if scored.wrong_to_right else "down" if scored.right_to_wrong else None
        record["prev"] = None if scored.previous is None else scored.previous.turn.id
    return {key: value for key, value in record.items()
            if key not in TURN_DEFAULTS or value != TURN_DEFAULTS[key]}


def _debate(trace: DebateTrace, run: dict[str, Any], number: int, strings: StringTable,
            ) -> tuple[dict[str, Any], dict[str, Any]]:
    """One debate's index row and its detail record."""
    q = trace.question
    rounds = trace.rounds()
    scored_by_round = score_rounds(trace, rounds)
    scored = [r.answers for r in scored_by_round]
    by_turn = {id(answer.turn): answer for answers in scored for answer in answers}
    flags: dict[str, int] = {agent.name: 0 for agent in trace.agents}
    for answers in scored:
        for answer in answers:
            bits = (CHANGED * answer.changed | UP * answer.wrong_to_right
                    | DOWN * answer.right_to_wrong | UNPARSED * (answer.turn.answer is None))
            flags[answer.turn.agent] = flags.get(answer.turn.agent, 0) | bits
    vote = scored_by_round[0].vote if scored_by_round else None
    if run["protocol_config"] is None:  # the run's, kept once in the index
        run["protocol_config"] = trace.protocol_config
    own_config = None if trace.protocol_config == run["protocol_config"] else trace.protocol_config
    row = {
        "run": number, "id": trace.id, "qid": q.id, "text": q.text, "gold": q.gold,
        "final": trace.final.answer, "ok": final_correct(trace), "stop": trace.stop_reason,
        "protocol": trace.protocol, "rounds": max((t.round for t in trace.turns), default=0),
        "calls": len(trace.turns),
        "tokens": sum(t.usage.prompt_tokens + t.usage.completion_tokens for t in trace.turns),
        "vote0": vote, "agents": list(flags), "flags": list(flags.values()),
        "flips": sum(answer.changed for answers in scored for answer in answers),
    }
    detail = {
        "task": q.task, "choices": q.choices,
        "context": None if q.context is None else strings.ref(q.context),
        "metadata": q.metadata, "final": trace.final.model_dump(mode="json"),
        "orders": judge_orders(trace.final.details),
        "agents": [a.model_dump(mode="json") for a in trace.agents],
        "protocol_config": own_config,
        "turns": [_turn_record(t, strings, by_turn.get(id(t))) for t in trace.turns],
        "started": trace.started_at.isoformat(), "finished": trace.finished_at.isoformat(),
    }
    return row, detail


def viewer_data(run_dirs: Sequence[Path], chunk_size: int = CHUNK_SIZE) -> ViewerData:
    """Read the runs' summaries and traces into the page's index and detail chunks."""
    if not run_dirs:
        raise ConfigError("debate view: give at least one run folder")
    runs: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    chunks: list[dict[str, Any]] = []
    strings, details = StringTable(), []
    for number, run_dir in enumerate(run_dirs):
        summary = load_run_summary(run_dir)  # names the folder when it holds no traces
        run = _run_record(Path(run_dir), summary)
        runs.append(run)
        for trace in _traces(Path(run_dir)):
            row, detail = _debate(trace, run, number, strings)
            rows.append(row)
            details.append(detail)
            if len(details) == chunk_size:
                chunks.append({"strings": strings.strings, "debates": details})
                strings, details = StringTable(), []
    if details:
        chunks.append({"strings": strings.strings, "debates": details})
    bits = {"changed": CHANGED, "up": UP, "down": DOWN, "unparsed": UNPARSED}
    index = {"version": 1, "definitions": DEFINITIONS, "runs": runs, "debates": rows,
             "chunk_size": chunk_size, "turn_defaults": TURN_DEFAULTS, "bits": bits}
    return ViewerData(index, chunks)


def _traces(run_dir: Path) -> Iterator[DebateTrace]:
    """The debates the run's summary counts, in the dataset's order.

    That is the first trace of each question, and, when ``results.csv`` lists them (a
    resume on fewer questions), only the questions listed, in its order: the dataset's
    (traces.jsonl holds them in the order they finished). Without it, traces.jsonl's.
    """
    listed: list[str] | None = None
    csv_path = run_dir / "results.csv"
    if csv_path.exists():
        try:
            with csv_path.open(encoding="utf-8", newline="") as file:
                listed = [row["id"] for row in csv.DictReader(file)]
        except (UnicodeDecodeError, csv.Error, KeyError) as exc:
            detail = f"no column {exc}" if isinstance(exc, KeyError) else str(exc)
            raise damaged(csv_path, "results table", detail, "move it away: the page then "
                          "shows every debate in traces.jsonl, and a re-run of the run's "
                          "command writes it anew") from exc
    traces = _first_of_each(read_traces(run_dir / "traces.jsonl"))
    if listed is None:
        yield from traces
        return
    first = {trace.question.id: trace for trace in traces}  # held only to reorder them
    yield from (first[qid] for qid in listed if qid in first)


def _first_of_each(traces: Iterator[DebateTrace]) -> Iterator[DebateTrace]:
    """The first trace of each question (a retried debate's later lines are not counted)."""
    seen: set[str] = set()
    for trace in traces:
        if trace.question.id not in seen:
            seen.add(trace.question.id)
            yield trace
