"""What became of a batch whose create request got no reply: asked of the provider.

An intent left unsettled in the :class:`~debate.models.batch.BatchJournal` (the create
request raised, or the run was killed during it) may or may not have become a batch.
:class:`IntentLookups` asks the provider
(:meth:`~debate.models.batch.api.BatchAPI.find`) until it can tell, before any of the
intent's requests is sent again: a batch is never paid for twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from debate.errors import RetryableError
from debate.models.batch.api import BatchAPI, Intent
from debate.models.batch.journal import BatchJournal
from debate.models.batch.policy import BatchPolicy

__all__ = ["IntentLookups"]

log = logging.getLogger(__name__)


class IntentLookups:
    """The lookups of one model's unsettled intents: one per intent, however many callers ask.

    Args:
        name: the model's name (in log lines and errors).
        client: the provider's batch endpoints.
        policy: how long to wait between two listings.
        start: runs a lookup in the background, until it ends or the model is closed.

    """

    def __init__(self, name: str, client: BatchAPI, policy: BatchPolicy,
                 start: Callable[[Coroutine[Any, Any, Any]], asyncio.Task[Any]]) -> None:
        self.name = name
        self._client = client
        self.policy = policy
        self._start = start
        self._lookups: dict[str, asyncio.Task[str | None]] = {}  # intent key -> its lookup

    async def resolve(self, intent: Intent, journal: BatchJournal) -> str | None:
        """The batch made of an unsettled ``intent``, or ``None`` if none was.

        One lookup per intent, however many callers ask.
        """
        task = self._lookups.get(intent.key)
        if task is None:
            task = self._lookups[intent.key] = self._start(self._lookup(intent, journal))

            def done(task: asyncio.Task[str | None]) -> None:
                self._lookups.pop(intent.key, None)  # a failed lookup is made again
                if not task.cancelled():
                    task.exception()  # retrieved, even if every caller went away

            task.add_done_callback(done)
        return await asyncio.shield(task)

    async def _lookup(self, intent: Intent, journal: BatchJournal) -> str | None:
        """Ask the provider until it can tell whether ``intent`` became a batch; settle it.

        A batch that may be the intent's but still runs is waited for (polled with the
        policy's backoff), never paid for again. "None was made" is believed only when two
        listings a poll apart say so: a list that shows a just-made batch late must not
        lead to paying for it twice. A provider that cannot be asked
        (:data:`_LOOKUP_TRIES` retryable failures in a row) gives a
        :class:`RetryableError`: the intent stays, and a retried call asks again.
        """
        delay, failures, absent = self.policy.poll_initial, 0, 0
        while True:
            try:
                found = await self._client.find(intent, journal.batches)
            except RetryableError as exc:
                failures += 1
                if failures >= _LOOKUP_TRIES:
                    raise RetryableError(
                        f"cannot tell whether the batch of {len(intent.items)} requests "
                        f"({intent.key}) was made ({exc}); they are not sent again until "
                        "it can be told", endpoint=self.name) from exc
                log.warning("%s: cannot list batches (%s)", self.name, exc)
            else:
                failures = 0
                if found.batch is not None:
                    log.info("%s: batch %s (of %s) found and waited for", self.name,
                             found.batch, intent.key)
                    journal.record(self.name, found.batch, intent.items, intent.key)
                    return found.batch
                if not found.undecided:
                    absent += 1
                    if absent >= _ABSENT_LISTINGS:
                        log.info("%s: %s never became a batch; its %d requests are sent",
                                 self.name, intent.key, len(intent.items))
                        journal.forget(self.name, intent.key)
                        return None
                else:
                    absent = 0
                    log.info("%s: batches %s may be the one of %s; waiting for them to end",
                             self.name, ", ".join(found.undecided), intent.key)
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, self.policy.poll_max)


_LOOKUP_TRIES = 3
"""Failures in a row to list the provider's batches before a lookup gives up for now."""
_ABSENT_LISTINGS = 2
"""Listings in a row, a poll apart, without the intent's batch before it counts as never made."""
