"""SQLite response cache: a re-run replays every call it already paid for.

The key is a SHA-256 over (model name, messages, sampling params incl. the
sampler, and the call's *position*). Model names never carry secrets or
base URLs, so moving a server to another port keeps the cache valid.

A call's identity is its content *and* its position: the debate it belongs
to, the turn it makes there and its ordinal among calls making that turn
(``call_position``, set by the agent making the call). So two calls with the
same content (an agent reviewing two identical solutions, a critic asked
twice about the same draft) are two samples, never one reply served twice,
while a re-run of the same debate gets exactly its own earlier replies back.

Storing is explicit and awaited: ``await cache.put(key, completion)``
returns once the entry is committed, and the ``Cached`` middleware awaits it
before it returns the completion, so no dependent request and no trace goes
out before the reply is on disk (WAL with ``synchronous=NORMAL`` survives a
killed process), and a commit that fails fails the call instead of losing the
reply unnoticed. Commits are grouped: a put after a quiet spell is committed at
the end of the event loop's iteration, and while replies keep coming, at most
one commit is made per ``commit_every`` seconds (2 ms by default), all puts
waiting by then in one transaction (a commit costs ~30 us of CPU, a row ~10 us).

Commits run on one writer thread with its own connection, so the event loop
never waits on the file: SQLite releases the GIL while it writes, a WAL
checkpoint's ``fsync`` or another process's write lock stalls only the puts
waiting for that commit, not every debate in flight. Lookups use a second
connection on the caller's thread and see puts still being committed.
:meth:`ResponseCache.close` (or leaving ``with cache:``) commits what is left and
closes the file.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import json
import logging
import sqlite3
import time
from collections.abc import Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Self

import orjson

from debate.errors import ConfigError, DebateError
from debate.memo import ByIdentity
from debate.models.types import Completion, Message, SamplingParams

__all__ = ["ResponseCache", "cache_key", "call_position"]

log = logging.getLogger(__name__)

call_position: ContextVar[str] = ContextVar("debatelab_call_position", default="")
"""Where the call being made sits: ``debate id/turn id#ordinal`` (empty outside a debate).
Set by :meth:`debate.agents.Agent.act` around its model call; part of the cache key."""


def cache_key(model: str, messages: Sequence[Message], params: SamplingParams,
              position: str = "") -> str:
    """Stable hex key of one call.

    SHA-256 of ``[model, [[role, content]...], params, position]`` as compact UTF-8
    JSON with sorted keys (the standard library's ``ensure_ascii=False,
    separators=(",", ":"), sort_keys=True``).
    """
    return hashlib.sha256(b"".join((
        b"[", _json(model), b",", _json([[m.role, m.content] for m in messages]), b",",
        _params_json(params), b",", _json(position), b"]"))).hexdigest()


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _json(value: object) -> bytes:
    """``value`` (strings and lists of them) as the standard library's compact JSON.

    orjson writes the same bytes for every string (tested over all code points) in a
    tenth of the time; what it refuses (a lone surrogate) goes to the standard library,
    which fails on it as it always did.
    """
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        return _ENCODER.encode(value).encode()


def _params_to_json(params: SamplingParams) -> bytes:
    data = params.model_dump(mode="json")
    data["slot"] = data.pop("sampler")  # its former name: existing run folders' keys stay valid
    return _ENCODER.encode(data).encode()


_params_json: ByIdentity[SamplingParams, bytes] = ByIdentity(_params_to_json, size=1024)
"""``params`` as JSON, once per (frozen) params object: agents reuse theirs."""


class ResponseCache:
    """A key -> :class:`Completion` store in one SQLite file.

    Args:
        path: the file (made, with its folder, if missing).
        timeout: seconds a commit waits while another process writes the same file.
        shared: other processes add entries while this one runs (every lookup then
            reads the file). By default the keys present are read once at open and
            those added here are remembered, so a call the cache cannot answer (every
            call of a fresh run) costs no query.
        commit_every: the shortest time between two commits while puts keep coming;
            a put waits at most this long for its commit. ``0`` commits every
            iteration of the event loop that made a put.
        fallbacks: other cache files, read (never written) when this one has no entry:
            the caches other processes of the same run filled (Ray shards, or a run
            resumed with another executor or shard count). Their keys are read at open.

    """

    def __init__(self, path: str | Path, *, timeout: float = 5.0, shared: bool = False,
                 commit_every: float = 0.002, fallbacks: Sequence[str | Path] = ()) -> None:
        if commit_every < 0:
            raise ValueError(f"commit_every must be >= 0, got {commit_every}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db, self._writer = self._open(timeout)
        self._thread: concurrent.futures.ThreadPoolExecutor | None = None  # made at first commit
        self._unwritten: dict[str, str] = {}  # put, not yet handed to the writer
        self._committing: dict[str, str] = {}  # handed to the writer, not yet committed
        self._waiters: list[asyncio.Future[None]] = []
        self._present: set[int] | None = None  # hashes of the keys stored (None: shared)
        self.commit_every = commit_every
        self._last_commit = float("-inf")  # time.monotonic() of the last commit started
        if not shared:
            self._present = self._keys()
        self._fallbacks: list[tuple[sqlite3.Connection, set[int]]] = []
        for other in fallbacks:
            self._open_fallback(Path(other))

    def _open(self, timeout: float) -> tuple[sqlite3.Connection, sqlite3.Connection]:
        """(the lookup connection, the writer's); a damaged file is a located error."""
        opened: list[sqlite3.Connection] = []
        try:
            self._refuse_foreign()
            opened.append(self._connect(timeout))  # lookups, on the caller's thread
            opened[0].execute("CREATE TABLE IF NOT EXISTS calls "
                              "(key TEXT PRIMARY KEY, completion TEXT)")
            opened[0].execute("SELECT key, completion FROM calls LIMIT 1").fetchall()
            opened.append(self._connect(timeout))  # commits, on the writer thread only
        except sqlite3.DatabaseError as exc:
            for db in opened:
                db.close()
            raise self._damaged(exc) from exc
        return opened[0], opened[1]

    def _refuse_foreign(self) -> None:
        """Look (read-only) before writing: a file that is not a cache is never changed."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            tables = {name for (name,) in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            db.close()
        if tables and "calls" not in tables:  # someone else's database
            raise sqlite3.DatabaseError(f"a SQLite database of other tables "
                                        f"({', '.join(sorted(tables)[:3])}), not a cache")

    def _keys(self) -> set[int]:
        try:
            return {hash(key) for (key,) in self._db.execute("SELECT key FROM calls")}
        except sqlite3.DatabaseError as exc:
            self._db.close()
            self._writer.close()
            raise self._damaged(exc) from exc

    def _damaged(self, exc: sqlite3.DatabaseError) -> ConfigError:
        return ConfigError(
            f"{self.path}: damaged response cache ({exc}); move it away (with any "
            f"{self.path.name}-wal and -shm beside it) and re-run: finished debates are kept in "
            "traces.jsonl, and only the calls of unfinished ones are paid for again")

    def _open_fallback(self, path: Path) -> None:
        try:
            db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                 check_same_thread=False)
            keys = {hash(key) for (key,) in db.execute("SELECT key FROM calls")}
        except sqlite3.Error as exc:  # not a cache (yet): nothing to read there
            log.warning("response cache %s: cannot read %s (%s); its calls are not replayed",
                        self.path, path, exc)
            return
        if keys:
            self._fallbacks.append((db, keys))
        else:
            db.close()

    def _connect(self, timeout: float) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None,
                             check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    def get(self, key: str) -> Completion | None:
        """The stored completion (marked ``cached``), or ``None``."""
        stored = self._unwritten.get(key) or self._committing.get(key)
        if stored is None:
            row = None
            if self._present is None or hash(key) in self._present:  # else: never stored here
                row = self._db.execute("SELECT completion FROM calls WHERE key = ?",
                                       (key,)).fetchone()
            if row is None and self._fallbacks:
                row = self._from_fallbacks(key)
            if row is None:
                return None
            stored = row[0]
        try:
            completion = Completion.model_validate_json(stored)
        except ValueError as exc:  # one damaged entry: that call is made again, and replaces it
            log.warning("response cache %s: the entry of a call is damaged (%s); the call is "
                        "made again", self.path, str(exc).splitlines()[0])
            return None
        completion.cached = True
        return completion

    def _from_fallbacks(self, key: str) -> tuple[str] | None:
        hashed = hash(key)
        for db, keys in self._fallbacks:
            if hashed in keys:
                try:
                    row: tuple[str] | None = db.execute(
                        "SELECT completion FROM calls WHERE key = ?", (key,)).fetchone()
                except sqlite3.Error as exc:  # another process's file: a miss, never a crash
                    log.warning("response cache %s: cannot read a fallback any more (%s); "
                                "its calls are made again", self.path, exc)
                    self._fallbacks = [f for f in self._fallbacks if f[0] is not db]
                    db.close()
                    return self._from_fallbacks(key)
                if row is not None:
                    return row
        return None

    async def put(self, key: str, completion: Completion) -> None:
        """Store a completion under ``key``; return once it is committed.

        The commit starts at the end of this iteration of the event loop, or, when
        the last one started less than ``commit_every`` ago, that long after it; every
        put waiting by then shares its transaction. A failed commit raises here
        (the entry stays pending, and the next commit tries it again).
        """
        self._unwritten[key] = completion.model_dump_json()
        if self._present is not None:
            self._present.add(hash(key))
        loop = asyncio.get_running_loop()
        if not self._waiters:
            wait = self._last_commit + self.commit_every - time.monotonic()
            if wait > 0:
                loop.call_later(wait, self._commit_waiting)
            else:
                loop.call_soon(self._commit_waiting)
        waiter = loop.create_future()
        self._waiters.append(waiter)
        await waiter

    def _commit_waiting(self) -> None:
        waiters, self._waiters = self._waiters, []
        self._last_commit = time.monotonic()
        rows, self._unwritten = self._unwritten, {}
        if not rows:  # flushed meanwhile (by close or len)
            _settle(waiters, None)
            return
        self._committing.update(rows)
        done = asyncio.get_running_loop().run_in_executor(
            self._writer_thread(), self._write, list(rows.items()))
        done.add_done_callback(lambda job: self._committed(job, rows, waiters))

    def _committed(self, job: asyncio.Future[None], rows: dict[str, str],
                   waiters: list[asyncio.Future[None]]) -> None:
        for key in rows:
            if self._committing.get(key) is rows[key]:
                del self._committing[key]
        if job.cancelled():  # the loop is shutting down: keep the rows for close()
            self._unwritten = rows | self._unwritten
            for waiter in waiters:
                waiter.cancel()
            return
        exc = job.exception()
        if isinstance(exc, sqlite3.Error):
            self._unwritten = rows | self._unwritten  # pending again; a later put re-tries
            exc = DebateError(f"response cache {self.path}: cannot commit ({exc})")
        _settle(waiters, exc)

    def _writer_thread(self) -> concurrent.futures.ThreadPoolExecutor:
        if self._thread is None:
            self._thread = concurrent.futures.ThreadPoolExecutor(
                1, thread_name_prefix="debatelab-cache")
        return self._thread

    def _write(self, rows: list[tuple[str, str]]) -> None:
        """One transaction on the writer's connection (runs on the writer thread)."""
        if not rows:
            return
        self._writer.execute("BEGIN")
        try:
            self._writer.executemany(
                "INSERT OR REPLACE INTO calls (key, completion) VALUES (?, ?)", rows)
            self._writer.execute("COMMIT")
        except BaseException:
            if self._writer.in_transaction:
                self._writer.execute("ROLLBACK")
            raise

    def flush(self) -> None:
        """Commit every put not yet committed, in one transaction; return when done.

        Waits for the commits already under way too (the writer runs them in order).
        """
        if not self._unwritten and self._thread is None:
            return
        rows, self._unwritten = self._unwritten, {}
        try:
            self._writer_thread().submit(self._write, list(rows.items())).result()
        except BaseException:
            self._unwritten = rows | self._unwritten
            raise

    def __len__(self) -> int:
        self.flush()
        return int(self._db.execute("SELECT COUNT(*) FROM calls").fetchone()[0])

    def close(self) -> None:
        """Commit what is left and close the database."""
        try:
            self.flush()
        finally:
            if self._thread is not None:
                self._thread.shutdown()
                self._thread = None
            self._writer.close()
            self._db.close()
            for db, _ in self._fallbacks:
                db.close()
            self._fallbacks = []

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _settle(waiters: list[asyncio.Future[None]], error: BaseException | None) -> None:
    """Resolve the puts waiting on one commit (a cancelled caller's waiter is done already)."""
    for waiter in waiters:
        if waiter.done():
            continue
        if error is None:
            waiter.set_result(None)
        else:
            waiter.set_exception(error)
            waiter.exception()  # retrieved: a cancelled caller leaves no log noise
