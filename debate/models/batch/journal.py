"""The journal of a batch run: every batch it made, and every batch it was about to make.

Written line by line to ``batches.jsonl`` in the run's folder, each line on disk before
the run goes on, so a killed run's re-run waits for the batches already paid for, and
asks the provider about any whose create request it never heard back from.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from debate.models.batch.api import Intent

__all__ = ["BatchJournal"]

log = logging.getLogger(__name__)


class BatchJournal:
    """The batches a run submitted, appended to ``batches.jsonl`` in its folder.

    One line per batch, written as soon as it is submitted: ``{"batch", "model",
    "items": [custom_id...], "intent", "at"}``. A re-run reads it back: a call whose
    ``custom_id`` is in a batch it lists waits for that batch's results instead of
    going into a new batch, so a killed run pays for none of its pending calls again.
    Before each batch is created, an ``{"intent": key, "model", "items", "at"}`` line
    names its requests (the key: OpenAI's uploaded input file, else a local id); the
    batch's line settles it. A call in an intent left unsettled (the create request got
    no reply, or the run was killed during it) asks the provider whether that batch
    was made (:meth:`~debate.models.batch.api.BatchAPI.find`), and waits for it,
    before its request is ever sent again.

    With no ``path`` it is kept in memory only: a lost reply is still recovered from,
    a kill is not.
    """

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path is not None else None
        self.known: dict[str, dict[str, str]] = {}  # model -> custom_id -> batch id
        self.batches: set[str] = set()
        """Every batch journaled (any model's): none of them is an intent's unsettled batch."""
        self.intents: dict[str, dict[str, Intent]] = {}  # model -> key -> unsettled intent
        self._intended: dict[str, dict[str, str]] = {}  # model -> custom_id -> intent key
        if self.path is None or not self.path.exists():
            return
        # bytes that are not UTF-8 spoil only their line (skipped below), never the journal
        text = self.path.read_bytes().decode("utf-8", errors="replace")
        if text and not text.endswith("\n"):  # a line cut short: the next starts anew
            with self.path.open("a", encoding="utf-8") as f:
                f.write("\n")
        for number, line in enumerate(text.splitlines(), start=1):
            try:
                entry = json.loads(line)
                model, items = str(entry["model"]), tuple(map(str, entry["items"]))
                if "batch" not in entry:  # an intent: its batch about to be created
                    self._intend(model, Intent(str(entry["intent"]), items,
                                               float(entry.get("at") or 0.0)))
                    continue
                self._know(model, str(entry["batch"]), items)
                settled = entry.get("intent") or entry.get("file")  # "file": older journals
                if settled:
                    self.forget(model, str(settled))
            except (ValueError, KeyError, TypeError):  # a line cut short by a kill
                log.warning("%s:%d: skipping an unreadable line", self.path, number)

    def _append(self, entry: dict[str, Any]) -> None:
        if self.path is None:
            return
        with self.path.open("a", encoding="utf-8") as f:  # one write, on disk before we go on
            f.write(json.dumps(entry) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def _intend(self, model: str, intent: Intent) -> None:
        self.intents.setdefault(model, {})[intent.key] = intent
        self._intended.setdefault(model, {}).update(dict.fromkeys(intent.items, intent.key))

    def _know(self, model: str, batch_id: str, custom_ids: Sequence[str]) -> None:
        self.known.setdefault(model, {}).update(dict.fromkeys(custom_ids, batch_id))
        self.batches.add(batch_id)

    def intend(self, model: str, intent: Intent) -> None:
        """Append a batch about to be created (on disk before the create request is sent)."""
        self._append({"intent": intent.key, "model": model, "items": list(intent.items),
                      "at": intent.at})
        self._intend(model, intent)

    def intent_of(self, model: str, custom_id: str) -> Intent | None:
        """The unsettled intent whose requests include ``custom_id``, if any."""
        key = self._intended.get(model, {}).get(custom_id)
        return None if key is None else self.intents[model][key]

    def forget(self, model: str, key: str) -> None:
        """Settle an intent: its batch was recorded, or it never became one."""
        intent = self.intents.get(model, {}).pop(key, None)
        if intent is None:
            return
        intended = self._intended[model]
        for custom_id in intent.items:
            if intended.get(custom_id) == key:
                del intended[custom_id]

    def record(self, model: str, batch_id: str, custom_ids: Sequence[str],
               intent: str | None = None) -> None:
        """Append one submitted batch (on disk before anyone waits on it) and settle its intent."""
        self._append({"batch": batch_id, "model": model, "items": list(custom_ids),
                      "intent": intent, "at": time.time()})
        if intent is not None:
            self.forget(model, intent)
        self._know(model, batch_id, custom_ids)
