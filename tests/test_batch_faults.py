"""Batch runs when things go wrong: lost connections, huge steps, torn journals,
refused items, failed and vanished batches (debate/models/batch.py).

A review of issue 16 found each of these; every test failed before its fix. Issue 26
(a batch paid for twice when its create reply was lost) added the lookups at the end.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from debate.errors import RetryableError
from debate.models import CallStats, Completion, Message, SamplingParams, wrap
from debate.models.batch import (
    BatchingModel,
    BatchJournal,
    BatchPolicy,
    Intent,
    Lookup,
    OpenAIBatches,
)
from debate.models.batch.api import DEFAULT_MAX_BYTES, DEFAULT_MAX_ITEMS
from debate.models.middleware import RetryPolicy
from debate.models.types import Usage

FAST = BatchPolicy(window=0.01, poll_initial=0.01, poll_max=0.02)
HI = [Message(role="user", content="hi")]


def body(messages: Any, params: Any) -> dict[str, Any]:
    return {"messages": [m.content for m in messages]}


class Client:
    """A fake Batch API: records the batches created; ``state`` can raise on chosen reads."""

    max_items, max_bytes = DEFAULT_MAX_ITEMS, DEFAULT_MAX_BYTES

    def failure(self, batch: dict[str, Any]) -> str:
        return ""

    def __init__(self, raise_on_reads: dict[int, BaseException] | None = None,
                 ready_after: int = 1) -> None:
        self.submissions: list[list[tuple[str, dict[str, Any]]]] = []
        self.reads = 0
        self.raise_on_reads = raise_on_reads or {}
        self.ready_after = ready_after

    async def prepare(self, items: Any) -> str:
        return f"intent-{len(self.submissions) + 1}"

    async def create(self, key: str, items: Any) -> str:
        self.submissions.append(list(items))
        return f"b{len(self.submissions)}"

    async def find(self, intent: Intent, journaled: Any) -> Lookup:
        return Lookup()  # nothing made but what create answered for

    async def state(self, batch_id: str) -> Any:
        self.reads += 1
        if self.reads in self.raise_on_reads:
            raise self.raise_on_reads[self.reads]
        return self.reads >= self.ready_after, {"id": batch_id}

    async def results(self, batch: Any) -> Any:
        n = int(batch["id"][1:])
        return {cid: {"text": f"reply from {batch['id']}"} for cid, _ in self.submissions[n - 1]}

    async def aclose(self) -> None:
        pass


def parse(data: dict[str, Any]) -> Completion:
    return Completion(text=data["text"], usage=Usage(prompt_tokens=1_000_000), batch=True)


# (1) A lost connection / timeout while polling or downloading results -> every item
#     of a batch that is still running (and will be billed) is sent again.
@pytest.mark.parametrize("exc", [aiohttp.ServerDisconnectedError(),
                                 aiohttp.ClientOSError(104, "Connection reset by peer"),
                                 TimeoutError()])
def test_a_lost_connection_while_polling_does_not_resubmit(exc: BaseException,
                                                            virtual_time) -> None:
    async def main() -> Client:
        client = Client(raise_on_reads={1: exc}, ready_after=2)
        model = BatchingModel("openai:m", body, parse, client, FAST)
        await wrap(model, stats=CallStats(),
                   retry=RetryPolicy(initial_delay=0.01)).generate(HI, SamplingParams())
        return client

    client = virtual_time.run(main())
    assert len(client.submissions) == 1, f"{len(client.submissions)} batches paid for one call"


def test_the_real_client_raises_aiohttp_errors_not_retryable_ones() -> None:
    async def main() -> None:
        client = OpenAIBatches("http://127.0.0.1:9/v1", None, "openai:m")
        try:
            await client.state("batch_1")
        finally:
            await client.aclose()

    with pytest.raises(RetryableError):  # fails: aiohttp.ClientConnectorError escapes
        asyncio.run(main())


# (4) A line cut short by a kill swallows the next batch recorded after it.
def test_a_torn_journal_line_does_not_swallow_the_next_batch(tmp_path: Path) -> None:
    path = tmp_path / "batches.jsonl"
    path.write_text(json.dumps({"batch": "b1", "model": "openai:m", "items": ["a"]}) + "\n"
                    + '{"batch": "b2", "model": "openai:m", "ite')  # killed mid-write
    BatchJournal(path).record("openai:m", "b3", ["c"])  # the re-run submits a batch
    known = BatchJournal(path).known["openai:m"]  # the re-re-run reads the journal
    assert known.get("c") == "b3", "batch b3 lost: its items would be paid again"


def test_bytes_that_are_not_utf8_spoil_only_their_journal_line(tmp_path: Path) -> None:
    path = tmp_path / "batches.jsonl"
    path.write_bytes(b'\xff\xfe x\n' + json.dumps(
        {"batch": "b1", "model": "openai:m", "items": ["a"]}).encode() + b"\n")
    assert BatchJournal(path).known["openai:m"] == {"a": "b1"}


# (5) No split by bytes: one submit carries > 200 MB (OpenAI's input-file limit), which
#     the provider refuses (HTTP 400/413 -> fatal -> the run stops).
def test_a_step_larger_than_200_mb_is_split() -> None:
    async def main() -> Client:
        client = Client()
        model = BatchingModel("openai:m", body, parse, client, FAST)
        big = "x" * (1024 * 1024)
        await asyncio.gather(*(
            model.generate([Message(role="user", content=f"{i}{big}")], SamplingParams())
            for i in range(210)))
        return client

    client = asyncio.run(main())
    sizes = [sum(len(json.dumps({"custom_id": c, "method": "POST",
                                 "url": "/v1/chat/completions", "body": b})) + 1
                 for c, b in sub) for sub in client.submissions]
    assert max(sizes) <= 200 * 1024 * 1024, f"one batch file of {max(sizes) / 2**20:.0f} MiB"


# (6) retry.timeout set in the config (as for a synchronous run) applies to batch calls.
def test_an_explicit_retry_timeout_does_not_fail_or_resubmit_batch_calls(virtual_time) -> None:
    async def main() -> tuple[Client, Any]:
        client = Client(ready_after=30)  # the batch ends after ~0.5 s of polling
        model = BatchingModel("openai:m", body, parse, client, FAST)
        try:
            reply = await wrap(model, stats=CallStats(), retry=RetryPolicy(
                timeout=0.1, max_attempts=3, initial_delay=0.01)).generate(HI, SamplingParams())
        except RetryableError as exc:
            reply = exc
        return client, reply

    client, reply = virtual_time.run(main())
    assert len(client.submissions) == 1  # fails: 3 batches for one call (no journal)
    assert isinstance(reply, Completion), reply


def test_an_explicit_retry_timeout_with_the_runs_journal_does_not_give_up(
        tmp_path: Path, virtual_time) -> None:
    async def main() -> Any:
        client = Client(ready_after=60)  # the batch ends after ~1 s of polling
        model = BatchingModel("openai:m", body, parse, client, FAST,
                              journal=BatchJournal(tmp_path / "batches.jsonl"))
        return await wrap(model, stats=CallStats(), retry=RetryPolicy(
            timeout=0.1, max_attempts=3, initial_delay=0.01)).generate(HI, SamplingParams())

    assert virtual_time.run(main()).text == "reply from b1"  # fails: gave up after 3 attempts


# (6) A reply that fails to parse with anything but RetryableError leaves the rest of
#     the batch's callers waiting forever.
def test_one_unparsable_item_does_not_hang_the_others(virtual_time) -> None:
    def fragile(data: dict[str, Any]) -> Completion:
        if "0" in data["text"] and data.get("bad"):
            raise ValueError("unexpected shape")
        return Completion(text=data["text"], batch=True)

    class Odd(Client):
        async def results(self, batch: Any) -> Any:
            out = await super().results(batch)
            first = next(iter(out))
            out[first] = {"text": "0", "bad": True}
            return out

    async def main() -> list[Any]:
        model = BatchingModel("openai:m", body, fragile, Odd(), FAST)
        calls = [model.generate([Message(role="user", content=str(i))], SamplingParams())
                 for i in range(3)]
        return await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), 2)

    replies = virtual_time.run(main())  # no TimeoutError: the good items came back
    assert sorted(type(r).__name__ for r in replies) == ["Completion", "Completion",
                                                         "ValueError"]


# (2)/(5) An input error inside a batch (HTTP 400: context too long) is retried as a 500.
def test_an_item_refused_with_400_is_not_retried() -> None:
    outcome = OpenAIBatches("http://x/v1", None, "openai:m")._outcome(
        {"custom_id": "a", "response": {"status_code": 400, "body": {"error": {
            "message": "maximum context length exceeded"}}}, "error": None})
    assert not isinstance(outcome, RetryableError), outcome.status


# (5) A batch OpenAI fails as a whole (validation, enqueued-token limit) loses its reason:
#     every item becomes "missing from the batch's results" and is resubmitted 5 more times.
def test_a_failed_batch_surfaces_its_reason(virtual_time) -> None:
    async def main() -> BaseException:
        class Failed(Client):
            async def state(self, batch_id: str) -> Any:
                return True, {"id": batch_id, "status": "failed", "output_file_id": None,
                              "error_file_id": None, "errors": {"data": [{
                                  "code": "token_limit_exceeded",
                                  "message": "Enqueued token limit reached for gpt-4o"}]}}

            async def results(self, batch: Any) -> Any:
                return await OpenAIBatches.results(self, batch)  # type: ignore[arg-type]

            def failure(self, batch: Any) -> str:
                return OpenAIBatches.failure(self, batch)  # type: ignore[arg-type]

        client = Failed()
        model = BatchingModel("openai:m", body, parse, client, FAST)
        try:
            await wrap(model, stats=CallStats(), retry=RetryPolicy(
                initial_delay=0.01, max_attempts=3)).generate(HI, SamplingParams())
        except RetryableError as exc:
            return exc
        raise AssertionError("no error")

    exc = virtual_time.run(main())
    assert "Enqueued token limit reached" in str(exc), str(exc)


def test_a_batch_that_no_longer_exists_is_sent_again_not_a_dead_end(virtual_time) -> None:
    from debate.errors import FatalTransportError

    async def main() -> Client:
        class Gone(Client):
            async def state(self, batch_id: str) -> Any:
                if batch_id == "b1":  # deleted or archived at the provider
                    raise FatalTransportError("not found", endpoint="openai:m", status=404)
                return await super().state(batch_id)

        client = Gone()
        model = BatchingModel("openai:m", body, parse, client, FAST)
        reply = await wrap(model, stats=CallStats(),
                           retry=RetryPolicy(initial_delay=0.01)).generate(HI, SamplingParams())
        assert reply.text == "reply from b2"
        return client

    assert len(virtual_time.run(main()).submissions) == 2


def test_anthropic_items_refused_as_invalid_are_not_sent_again(virtual_time) -> None:
    from debate.errors import FatalTransportError
    from debate.models.batch import AnthropicBatches

    client = AnthropicBatches("http://x", None, "anthropic:m")
    assert (client.max_items, client.max_bytes) == (100_000, 245 * 1024 * 1024)
    assert client.failure({"request_counts": {"succeeded": 3, "errored": 1,
                                              "expired": 2}}) == "1 errored, 2 expired"

    async def refused() -> Any:
        async def text(path: str) -> str:
            return "\n".join(json.dumps(line) for line in [
                {"custom_id": "a", "result": {"type": "errored", "error": {
                    "type": "error", "error": {"type": "invalid_request_error",
                                               "message": "prompt is too long"}}}},
                {"custom_id": "b", "result": {"type": "expired"}}])
        client._text = text  # type: ignore[method-assign]
        return await client.results({"id": "msgbatch_1"})

    outcomes = virtual_time.run(refused())
    assert isinstance(outcomes["a"], FatalTransportError)
    assert isinstance(outcomes["b"], RetryableError) and outcomes["b"].retry_after == 0.0


class TwoSteps(Client):
    """A fake OpenAI-style API: upload, then create; batches can be found by their file."""

    def __init__(self, lose_create_reply: bool = False) -> None:
        super().__init__()
        self.files: dict[str, list[Any]] = {}
        self.made: dict[str, str] = {}  # input file -> batch id
        self.lose_create_reply = lose_create_reply

    async def prepare(self, items: Any) -> str:
        name = f"file-{len(self.files) + 1}"
        self.files[name] = list(items)
        return name

    async def create(self, key: str, items: Any) -> str:
        batch_id = await Client.create(self, key, self.files[key])
        self.made[key] = batch_id
        if self.lose_create_reply:  # made, but the reply never arrives
            self.lose_create_reply = False
            raise RetryableError("connection reset", endpoint="openai:m")
        return batch_id

    async def find(self, intent: Intent, journaled: Any) -> Lookup:
        return Lookup(self.made.get(intent.key))


@pytest.mark.parametrize("journaled", [True, False])  # without a run folder: in memory
def test_a_lost_reply_to_creating_a_batch_does_not_make_a_second_one(
        tmp_path: Path, journaled: bool, virtual_time) -> None:
    async def main() -> TwoSteps:
        client = TwoSteps(lose_create_reply=True)
        model = BatchingModel("openai:m", body, parse, client, FAST, journal=BatchJournal(
            tmp_path / "batches.jsonl") if journaled else None)
        reply = await wrap(model, stats=CallStats(),
                           retry=RetryPolicy(initial_delay=0.01)).generate(HI, SamplingParams())
        assert reply.text == "reply from b1"
        return client

    assert len(virtual_time.run(main()).submissions) == 1


def test_a_run_killed_between_making_a_batch_and_recording_it_adopts_it(
        tmp_path: Path) -> None:
    journal = tmp_path / "batches.jsonl"

    async def killed() -> TwoSteps:  # uploads and creates; dies before it records
        client = TwoSteps()
        model = BatchingModel("openai:m", body, parse, client, FAST,
                              journal=BatchJournal(journal))
        model.journal.record = lambda *a, **k: None  # type: ignore[method-assign]
        task = asyncio.ensure_future(model.generate(HI, SamplingParams()))
        while not client.made:
            await asyncio.sleep(0.005)
        task.cancel()
        return client

    async def rerun(client: TwoSteps) -> Completion:
        model = BatchingModel("openai:m", body, parse, client, FAST,
                              journal=BatchJournal(journal))
        return await model.generate(HI, SamplingParams())

    client = asyncio.run(killed())
    assert '"intent"' in journal.read_text() and '"batch"' not in journal.read_text()
    assert asyncio.run(rerun(client)).text == "reply from b1"
    assert len(client.submissions) == 1  # the killed run's batch, found and waited for
    assert '"batch": "b1"' in journal.read_text()  # and recorded now


def test_the_intent_is_on_disk_before_the_create_request_is_sent(tmp_path: Path,
                                                                 virtual_time) -> None:
    journal = tmp_path / "batches.jsonl"
    seen: list[list[str]] = []

    class Watching(Client):
        async def create(self, key: str, items: Any) -> str:
            seen.append([line for line in journal.read_text().splitlines() if key in line])
            return await super().create(key, items)

    async def main() -> None:
        model = BatchingModel("anthropic:m", body, parse, Watching(), FAST,
                              journal=BatchJournal(journal))
        await model.generate(HI, SamplingParams())

    virtual_time.run(main())
    (intent,) = map(json.loads, seen[0])  # fsynced: a kill now still leaves it
    assert "batch" not in intent and len(intent["items"]) == 1


class Lost(Client):
    """Every create's reply is lost; ``find`` answers from ``lookups``, in order."""

    def __init__(self, *lookups: Lookup | Exception) -> None:
        super().__init__()
        self.lookups = list(lookups)
        self.finds = 0

    async def create(self, key: str, items: Any) -> str:
        await super().create(key, items)
        raise RetryableError("connection reset", endpoint="anthropic:m")

    async def find(self, intent: Intent, journaled: Any) -> Lookup:
        self.finds += 1
        answer = self.lookups.pop(0) if len(self.lookups) > 1 else self.lookups[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_a_batch_that_may_be_ours_is_waited_for_not_paid_for_again(virtual_time) -> None:
    async def main() -> Lost:
        client = Lost(Lookup(None, ("b1",)), Lookup(None, ("b1",)), Lookup("b1"))
        model = BatchingModel("anthropic:m", body, parse, client, FAST)
        reply = await wrap(model, stats=CallStats(),
                           retry=RetryPolicy(initial_delay=0.01)).generate(HI, SamplingParams())
        assert reply.text == "reply from b1"
        return client

    client = virtual_time.run(main())
    assert len(client.submissions) == 1 and client.finds == 3  # asked until it had ended


def test_when_no_batch_can_be_listed_the_items_are_held_back_not_sent_again(virtual_time) -> None:
    async def main() -> tuple[Lost, BaseException]:
        client = Lost(RetryableError("HTTP 503", endpoint="anthropic:m", status=503))
        model = BatchingModel("anthropic:m", body, parse, client, FAST)
        try:
            await wrap(model, stats=CallStats(), retry=RetryPolicy(
                initial_delay=0.01, max_attempts=3)).generate(HI, SamplingParams())
        except RetryableError as exc:
            return client, exc
        raise AssertionError("answered without a batch")

    client, exc = virtual_time.run(main())
    assert len(client.submissions) == 1  # each retry asked again; none created again
    assert client.finds > 3 and "not sent again" in str(exc)


def test_a_batch_never_made_is_sent_once_more(virtual_time) -> None:
    async def main() -> Lost:
        client = Lost(Lookup())  # the first create failed; no batch of it is listed

        async def create_once(key: str, items: Any) -> str:
            if not client.submissions:
                return await Lost.create(client, key, items)
            return await Client.create(client, key, items)

        client.create = create_once  # type: ignore[method-assign]
        model = BatchingModel("anthropic:m", body, parse, client, FAST)
        reply = await wrap(model, stats=CallStats(),
                           retry=RetryPolicy(initial_delay=0.01)).generate(HI, SamplingParams())
        assert reply.text == "reply from b2"
        return client

    assert len(virtual_time.run(main()).submissions) == 2
