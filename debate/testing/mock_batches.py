"""Batch endpoints of the mock server: OpenAI Files + Batches, Anthropic Message Batches.

Enough of both APIs for a batch client to run its whole path locally:

- OpenAI: ``POST /v1/files`` (multipart, ``purpose=batch``), ``POST /v1/batches``,
  ``GET /v1/batches/{id}``, ``POST /v1/batches/{id}/cancel``,
  ``GET /v1/files/{id}/content``. Each input line is
  ``{"custom_id", "method": "POST", "url": "/v1/chat/completions", "body"}``; the
  output file has ``{"id", "custom_id", "response": {"status_code": 200, "body"},
  "error": null}`` lines, the error file the failed items (``status_code`` 500) and
  the expired ones (``"response": null, "error": {"code": "batch_expired"}``).
- Anthropic: ``POST /v1/messages/batches``, ``GET /v1/messages/batches`` (newest
  first, paged as Anthropic pages it: ``limit`` 1-1000, default 20, ``after_id`` /
  ``before_id``; ``{"data", "has_more", "first_id", "last_id"}``; a batch shows its
  ``created_at`` and ``request_counts``, never its ``custom_id`` values),
  ``GET /v1/messages/batches/{id}``, ``POST /v1/messages/batches/{id}/cancel``,
  ``GET /v1/messages/batches/{id}/results`` (once it has ended: ``{"custom_id",
  "result": {"type": "succeeded" | "errored" | "expired" | "canceled", ...}}`` lines).

A batch ends :attr:`BatchSettings.delay` seconds after it was created (its state is
worked out when it is next read, so nothing runs in the background); then each
item is answered by the server's policy, or fails (``failure_rate``) or is left
unprocessed because the batch expired (``expire_rate``), drawn from a generator
seeded with ``seed``, in item order: the same outcomes on every run.

Creating a batch can be made to fail (:attr:`BatchSettings.create_faults`, both
APIs, in order): ``dropped`` makes the batch and closes the connection before the
reply, ``error`` makes it and answers 500, ``hang`` makes it and holds the reply
until the client goes away (to kill a client during the request), ``unavailable``
answers 503 without making one, ``invalid`` 400 without making one.
:attr:`BatchStore.received` counts each ``custom_id`` received in a batch, so a
test sees an item paid for twice.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

__all__ = ["BatchSettings", "BatchStore"]

Answer = Callable[[str, dict[str, Any]], dict[str, Any]]
"""``(api, request body) -> response body``; ``api`` is ``openai`` or ``anthropic``."""


@dataclass
class BatchSettings:
    """How the mock server's batches behave."""

    delay: float = 0.0
    """Seconds from a batch's creation until it has ended."""
    failure_rate: float = 0.0
    """Share of items that fail (a 500 in OpenAI's error file, ``errored`` for Anthropic)."""
    expire_rate: float = 0.0
    """Share of items the batch did not reach before it expired (then the batch is
    ``expired``; OpenAI: ``batch_expired`` in the error file; Anthropic: ``expired``)."""
    seed: int = 0
    create_faults: list[str] = field(default_factory=list)
    """What the next create requests get, in order (then a normal reply):
    ``dropped``, ``error``, ``hang`` (the batch made in all three), ``unavailable`` or
    ``invalid`` (none made); see the module docstring."""
    list_lag: int = 0
    """The next ``list_lag`` listings of batches (either API) leave out the newest batch, as
    a list that shows a just-made batch late would."""

    def __post_init__(self) -> None:
        for name in ("failure_rate", "expire_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"BatchSettings.{name} must be between 0 and 1")
        unknown = set(self.create_faults) - set(CREATE_FAULTS)
        if unknown:
            raise ValueError(f"BatchSettings.create_faults: unknown {sorted(unknown)} "
                             f"(known: {', '.join(CREATE_FAULTS)})")


CREATE_FAULTS = ("dropped", "error", "hang", "unavailable", "invalid")
"""What a create request can be made to get (:attr:`BatchSettings.create_faults`)."""


@dataclass
class _Batch:
    id: str
    api: str  # openai | anthropic
    items: list[tuple[str, dict[str, Any]]]  # (custom_id, request body)
    created: float
    input_file_id: str | None = None
    status: str = "in_progress"
    results: list[dict[str, Any]] = field(default_factory=list)  # (anthropic) result lines
    output_file_id: str | None = None
    error_file_id: str | None = None
    counts: dict[str, int] = field(default_factory=dict)


class BatchStore:
    """The files and batches one mock server holds, and the routes that reach them."""

    def __init__(self, settings: BatchSettings, answer: Answer) -> None:
        self.settings = settings
        self.answer = answer
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, _Batch] = {}
        self.items_answered = 0
        """Batch items the policy answered (each is a model call paid at the batch price)."""
        self.received: Counter[str] = Counter()
        """Each ``custom_id`` received in a batch, how many times (both APIs)."""
        self._random = random.Random(settings.seed)
        self._next = 0
        self._create_faults = deque(settings.create_faults)
        self._list_lag = settings.list_lag

    def stats(self) -> dict[str, int]:
        """Batches made, items received in them and items answered.

        ``GET /stats`` returns them as ``batches``.
        """
        return {"submitted": len(self.batches), "items_received": self.received.total(),
                "items_answered": self.items_answered}

    def add_routes(self, app: web.Application) -> None:
        """Add the OpenAI and Anthropic batch routes to ``app``."""
        app.router.add_post("/v1/files", self._upload)
        app.router.add_get("/v1/files/{id}/content", self._content)
        app.router.add_post("/v1/batches", self._create_openai)
        app.router.add_get("/v1/batches", self._list_openai)
        app.router.add_get("/v1/batches/{id}", self._get_openai)
        app.router.add_post("/v1/batches/{id}/cancel", self._cancel_openai)
        app.router.add_post("/v1/messages/batches", self._create_anthropic)
        app.router.add_get("/v1/messages/batches", self._list_anthropic)
        app.router.add_get("/v1/messages/batches/{id}", self._get_anthropic)
        app.router.add_post("/v1/messages/batches/{id}/cancel", self._cancel_anthropic)
        app.router.add_get("/v1/messages/batches/{id}/results", self._results_anthropic)

    def _id(self, prefix: str) -> str:
        self._next += 1
        return f"{prefix}{self._next:06d}"

    # OpenAI

    async def _upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        upload = form.get("file")
        if form.get("purpose") != "batch" or not isinstance(upload, web.FileField):
            return _error(400, "a batch input file needs purpose=batch and a file part")
        content = upload.file.read()
        file_id = self._id("file-")
        self.files[file_id] = content
        return web.json_response({"id": file_id, "object": "file", "bytes": len(content),
                                  "created_at": int(time.time()), "filename": upload.filename,
                                  "purpose": "batch"})

    async def _content(self, request: web.Request) -> web.Response:
        content = self.files.get(request.match_info["id"])
        if content is None:
            return _error(404, f"no file {request.match_info['id']}")
        return web.Response(body=content, content_type="application/octet-stream")

    async def _create_openai(self, request: web.Request) -> web.Response:
        body = await request.json()
        content = self.files.get(str(body.get("input_file_id")))
        if content is None:
            return _error(400, f"no input file {body.get('input_file_id')}")
        if body.get("endpoint") != "/v1/chat/completions":
            return _error(400, f"unsupported endpoint {body.get('endpoint')}")
        items = []
        for number, line in enumerate(content.decode().splitlines(), start=1):
            if not line.strip():
                continue
            request_line = json.loads(line)
            if request_line.get("url") != "/v1/chat/completions":
                return _error(400, f"line {number}: url must be /v1/chat/completions")
            items.append((str(request_line["custom_id"]), request_line["body"]))
        if len({custom_id for custom_id, _ in items}) < len(items):
            return _error(400, "custom_id values must be unique within a batch")
        fault = self._create_faults.popleft() if self._create_faults else None
        if fault == "unavailable":
            return _error(503, "injected: overloaded, no batch made")
        if fault == "invalid":
            return _error(400, "injected: invalid batch request, no batch made")
        batch = _Batch(self._id("batch_"), "openai", items, time.time(),
                       input_file_id=body["input_file_id"])
        self._add(batch)
        return await self._reply(request, fault, self._openai_view(batch))

    async def _list_openai(self, request: web.Request) -> web.Response:
        """The OpenAI batches, newest first (``limit``, ``after`` as OpenAI pages them)."""
        batches = self._lagging(sorted((b for b in self.batches.values() if b.api == "openai"),
                                       key=lambda b: (b.created, b.id), reverse=True))
        after = request.query.get("after")
        if after is not None:
            ids = [b.id for b in batches]
            batches = batches[ids.index(after) + 1:] if after in ids else []
        limit = int(request.query.get("limit", "20"))
        page = batches[:limit]
        for batch in page:
            self._settle(batch)
        return web.json_response({"object": "list", "data": [self._openai_view(b) for b in page],
                                  "has_more": len(batches) > limit,
                                  "last_id": page[-1].id if page else None})

    def _lagging(self, newest_first: list[_Batch]) -> list[_Batch]:
        """The batches a listing shows: without the newest while ``list_lag`` lasts."""
        if self._list_lag > 0 and newest_first:
            self._list_lag -= 1
            return newest_first[1:]
        return newest_first

    async def _get_openai(self, request: web.Request) -> web.Response:
        batch = self._find(request, "openai")
        if batch is None:
            return _error(404, f"no batch {request.match_info['id']}")
        self._settle(batch)
        return web.json_response(self._openai_view(batch))

    async def _cancel_openai(self, request: web.Request) -> web.Response:
        batch = self._find(request, "openai")
        if batch is None:
            return _error(404, f"no batch {request.match_info['id']}")
        self._settle(batch)
        if batch.status == "in_progress":
            batch.status = "cancelled"
        return web.json_response(self._openai_view(batch))

    def _openai_view(self, batch: _Batch) -> dict[str, Any]:
        total = len(batch.items)
        done = batch.counts.get("completed", 0)
        return {"id": batch.id, "object": "batch", "endpoint": "/v1/chat/completions",
                "input_file_id": batch.input_file_id, "completion_window": "24h",
                "status": batch.status, "output_file_id": batch.output_file_id,
                "error_file_id": batch.error_file_id, "created_at": int(batch.created),
                "request_counts": {"total": total, "completed": done,
                                   "failed": batch.counts.get("failed", 0)}}

    # Anthropic

    async def _create_anthropic(self, request: web.Request) -> web.Response:
        body = await request.json()
        requests = body.get("requests")
        if not isinstance(requests, list) or not requests:
            return _error(400, "requests: a non-empty list")
        items = [(str(r["custom_id"]), r["params"]) for r in requests]
        if len({custom_id for custom_id, _ in items}) < len(items):
            return _error(400, "custom_id values must be unique within a batch")
        fault = self._create_faults.popleft() if self._create_faults else None
        if fault == "unavailable":
            return _error(503, "injected: overloaded, no batch made")
        if fault == "invalid":
            return _error(400, "injected: invalid batch request, no batch made")
        batch = _Batch(self._id("msgbatch_"), "anthropic", items, time.time())
        self._add(batch)
        return await self._reply(request, fault, self._anthropic_view(batch, request))

    async def _list_anthropic(self, request: web.Request) -> web.Response:
        """The Anthropic batches, newest first (``limit``, ``after_id``, ``before_id``)."""
        batches = self._lagging(sorted(
            (b for b in self.batches.values() if b.api == "anthropic"),
            key=lambda b: (b.created, b.id), reverse=True))
        ids = [b.id for b in batches]
        after, before = request.query.get("after_id"), request.query.get("before_id")
        try:
            limit = int(request.query.get("limit", "20"))
        except ValueError:
            limit = 0
        if not 1 <= limit <= 1000:
            return _error(400, "limit: an integer from 1 to 1000")
        if after is not None:
            rest = batches[ids.index(after) + 1:] if after in ids else []
            page, has_more = rest[:limit], len(rest) > limit
        elif before is not None:
            rest = batches[:ids.index(before)] if before in ids else []
            page, has_more = rest[-limit:], len(rest) > limit
        else:
            page, has_more = batches[:limit], len(batches) > limit
        for batch in page:
            self._settle(batch)
        return web.json_response({"data": [self._anthropic_view(b, request) for b in page],
                                  "has_more": has_more,
                                  "first_id": page[0].id if page else None,
                                  "last_id": page[-1].id if page else None})

    async def _get_anthropic(self, request: web.Request) -> web.Response:
        batch = self._find(request, "anthropic")
        if batch is None:
            return _error(404, f"no batch {request.match_info['id']}")
        self._settle(batch)
        return web.json_response(self._anthropic_view(batch, request))

    async def _cancel_anthropic(self, request: web.Request) -> web.Response:
        batch = self._find(request, "anthropic")
        if batch is None:
            return _error(404, f"no batch {request.match_info['id']}")
        self._settle(batch)
        if batch.status == "in_progress":
            batch.status = "ended"
            batch.results = [{"custom_id": c, "result": {"type": "canceled"}}
                             for c, _ in batch.items]
            batch.counts = {"canceled": len(batch.items)}
        return web.json_response(self._anthropic_view(batch, request))

    async def _results_anthropic(self, request: web.Request) -> web.Response:
        batch = self._find(request, "anthropic")
        if batch is None:
            return _error(404, f"no batch {request.match_info['id']}")
        self._settle(batch)
        if batch.status != "ended":
            return _error(400, f"batch {batch.id} has not ended")
        return web.Response(body=_jsonl(batch.results), content_type="application/binary")

    def _anthropic_view(self, batch: _Batch, request: web.Request) -> dict[str, Any]:
        ended = batch.status == "ended"
        counts = {k: batch.counts.get(k, 0)
                  for k in ("succeeded", "errored", "canceled", "expired")}
        counts["processing"] = 0 if ended else len(batch.items)
        base = f"{request.scheme}://{request.host}"
        return {"id": batch.id, "type": "message_batch",
                "processing_status": "ended" if ended else "in_progress",
                "request_counts": counts, "created_at": _iso(batch.created),
                "ended_at": None, "expires_at": _iso(batch.created + 86400),
                "results_url": (f"{base}/v1/messages/batches/{batch.id}/results"
                                if ended else None)}

    # both

    def _add(self, batch: _Batch) -> None:
        self.batches[batch.id] = batch
        self.received.update(custom_id for custom_id, _ in batch.items)

    async def _reply(self, request: web.Request, fault: str | None,
                     view: dict[str, Any]) -> web.Response:
        """The created batch's reply, or the fault injected in its place."""
        transport = request.transport
        if fault == "hang":  # until the client goes away: no event says so, its socket does
            while transport is not None and not transport.is_closing():  # noqa: ASYNC110
                await asyncio.sleep(0.02)
            fault = "dropped"
        if fault == "dropped":
            if transport is not None:
                transport.abort()
            return web.Response(status=500)  # never reaches the client
        if fault == "error":
            return _error(500, "injected: the batch was made, the reply failed")
        return web.json_response(view)

    def _find(self, request: web.Request, api: str) -> _Batch | None:
        batch = self.batches.get(request.match_info["id"])
        return batch if batch is not None and batch.api == api else None

    def _settle(self, batch: _Batch) -> None:
        """Work out a batch's outcome once its delay has passed."""
        if batch.status != "in_progress" or time.time() < batch.created + self.settings.delay:
            return
        output: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        expired = False
        for custom_id, body in batch.items:
            draw = self._random.random()
            if draw < self.settings.expire_rate:
                expired = True
                outcome = "expired"
            elif draw < self.settings.expire_rate + self.settings.failure_rate:
                outcome = "failed"
            else:
                outcome = "ok"
            batch.counts[outcome] = batch.counts.get(outcome, 0) + 1
            line_id = self._id("batch_req_")
            if batch.api == "anthropic":
                result: dict[str, Any]
                if outcome == "ok":
                    self.items_answered += 1
                    result = {"type": "succeeded", "message": self.answer("anthropic", body)}
                elif outcome == "failed":
                    result = {"type": "errored", "error": {"type": "error", "error": {
                        "type": "api_error", "message": "injected failure"}}}
                else:
                    result = {"type": "expired"}
                batch.results.append({"custom_id": custom_id, "result": result})
            elif outcome == "ok":
                self.items_answered += 1
                output.append({"id": line_id, "custom_id": custom_id, "error": None,
                               "response": {"status_code": 200, "request_id": line_id,
                                            "body": self.answer("openai", body)}})
            elif outcome == "failed":
                errors.append({"id": line_id, "custom_id": custom_id, "error": None,
                               "response": {"status_code": 500, "request_id": line_id,
                                            "body": {"error": {"message": "injected failure",
                                                               "type": "server_error"}}}})
            else:
                errors.append({"id": line_id, "custom_id": custom_id, "response": None,
                               "error": {"code": "batch_expired", "message": "This request "
                                         "could not be executed before the completion "
                                         "window expired."}})
        if batch.api == "anthropic":
            batch.counts = {"succeeded": batch.counts.get("ok", 0),
                            "errored": batch.counts.get("failed", 0),
                            "expired": batch.counts.get("expired", 0)}
            batch.status = "ended"
            return
        batch.counts = {"completed": batch.counts.get("ok", 0),
                        "failed": batch.counts.get("failed", 0) + batch.counts.get("expired", 0)}
        if output:
            batch.output_file_id = self._id("file-")
            self.files[batch.output_file_id] = _jsonl(output)
        if errors:
            batch.error_file_id = self._id("file-")
            self.files[batch.error_file_id] = _jsonl(errors)
        batch.status = "expired" if expired else "completed"


def _jsonl(lines: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def _iso(seconds: float) -> str:
    """RFC 3339 in UTC with microseconds, as Anthropic writes ``created_at``."""
    whole = int(seconds)
    return (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
            + f".{int((seconds - whole) * 1e6):06d}Z")


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": {"message": message, "type": "invalid_request_error"}},
                             status=status)
