"""SQLite response cache: a re-run replays every call it already paid for.

The key is a SHA-256 over (model name, messages, sampling params incl. the
sample slot, and the call's *position*). Model names never carry secrets or
base URLs, so moving a server to another port keeps the cache valid.

A call's identity is its content *and* its position: the debate it belongs
to, the turn it makes there and its ordinal among calls making that turn
(``call_position``, set by the agent making the call). So two calls with the
same content (an agent reviewing two identical solutions, a critic asked
twice about the same draft) are two samples, never one reply served twice,
while a re-run of the same debate gets exactly its own earlier replies back.

Puts made while an event loop runs are committed together at the end of the
loop iteration that made them: one transaction for every call that finished
in it, instead of a commit (~25 us) per call. The ``Cached`` middleware yields
once after a put, so the commit happens before its caller sees the
completion: no dependent request and no trace goes out before the reply is
on disk (WAL with ``synchronous=NORMAL`` survives a killed process). Outside
a loop a put is committed at once; :meth:`ResponseCache.close` commits what
is left.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
from collections.abc import Sequence
from contextvars import ContextVar
from pathlib import Path

from debate.memo import ByIdentity
from debate.models.types import Completion, Message, SamplingParams

__all__ = ["ResponseCache", "cache_key", "call_position"]

call_position: ContextVar[str] = ContextVar("debatelab_call_position", default="")
"""Where the call being made sits: ``debate id/turn id#ordinal`` (empty outside a debate).
Set by :meth:`debate.agents.Agent.act` around its model call; part of the cache key."""


def cache_key(model: str, messages: Sequence[Message], params: SamplingParams,
              position: str = "") -> str:
    """Stable hex key of one call.

    SHA-256 of ``[model, [[role, content]...], params, position]`` as JSON.
    """
    blob = (f"[{_dumps(model)},{_dumps([[m.role, m.content] for m in messages])},"
            f"{_params_json(params)},{_dumps(position)}]")
    return hashlib.sha256(blob.encode()).hexdigest()


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)
_dumps = _ENCODER.encode


def _params_to_json(params: SamplingParams) -> str:
    return _dumps(params.model_dump(mode="json"))


_params_json: ByIdentity[SamplingParams, str] = ByIdentity(_params_to_json, size=1024)
"""``params`` as JSON, once per (frozen) params object: agents reuse theirs."""


class ResponseCache:
    """A key -> :class:`Completion` store in one SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, completion TEXT)")
        self._unwritten: dict[str, str] = {}
        self._flush_scheduled = False

    def get(self, key: str) -> Completion | None:
        """The stored completion (marked ``cached``), or ``None``."""
        stored = self._unwritten.get(key)
        if stored is None:
            row = self._db.execute("SELECT completion FROM calls WHERE key = ?",
                                   (key,)).fetchone()
            if row is None:
                return None
            stored = row[0]
        completion = Completion.model_validate_json(stored)
        completion.cached = True
        return completion

    def put(self, key: str, completion: Completion) -> None:
        """Store a completion under ``key``: committed before the loop runs anything else."""
        self._unwritten[key] = completion.model_dump_json()
        if self._flush_scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop: commit now
            self.flush()
            return
        loop.call_soon(self.flush)
        self._flush_scheduled = True

    def flush(self) -> None:
        """Commit every put not yet committed, in one transaction."""
        self._flush_scheduled = False
        if not self._unwritten:
            return
        rows = list(self._unwritten.items())
        self._db.execute("BEGIN")
        try:
            self._db.executemany("INSERT OR REPLACE INTO calls (key, completion) VALUES (?, ?)",
                                 rows)
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        self._unwritten.clear()

    def __len__(self) -> int:
        self.flush()
        return int(self._db.execute("SELECT COUNT(*) FROM calls").fetchone()[0])

    def close(self) -> None:
        """Commit what is left and close the database."""
        self.flush()
        self._db.close()
