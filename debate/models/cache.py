"""SQLite response cache: a re-run replays every call it already paid for.

The key is a SHA-256 over (model name, messages, sampling params incl. the
sample slot). Model names never carry secrets or base URLs, so moving a
server to another port keeps the cache valid. Each put is committed at once
(WAL, ``synchronous=NORMAL``: tens of microseconds, survives a killed process).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from debate.models.types import Completion, Message, SamplingParams

__all__ = ["ResponseCache", "cache_key"]


def cache_key(model: str, messages: Sequence[Message], params: SamplingParams) -> str:
    """Stable hex key of one call."""
    payload = [
        model,
        [[m.role, m.content] for m in messages],
        params.model_dump(mode="json"),
    ]
    blob = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


class ResponseCache:
    """A key -> :class:`Completion` store in one SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, completion TEXT)")

    def get(self, key: str) -> Completion | None:
        """The stored completion (marked ``cached``), or ``None``."""
        row = self._db.execute("SELECT completion FROM calls WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        completion = Completion.model_validate_json(row[0])
        completion.cached = True
        return completion

    def put(self, key: str, completion: Completion) -> None:
        """Store a completion under ``key`` (committed immediately)."""
        self._db.execute(
            "INSERT OR REPLACE INTO calls (key, completion) VALUES (?, ?)",
            (key, completion.model_dump_json()),
        )

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM calls").fetchone()[0])

    def close(self) -> None:
        """Close the database."""
        self._db.close()
