"""The mock server's batch endpoints, driven by the official SDKs (so their shapes are real).

OpenAI: upload a JSONL file, create a batch, poll it, download the output and error
files. Anthropic: create a message batch, list the batches, poll it, stream its
results. A batch ends after its delay; failed and expired items are reported as
each API does.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import anthropic
import openai
import pytest

from debate.testing.mock_batches import BatchSettings
from debate.testing.mock_server import MockServer


def chat_line(i: int) -> dict[str, Any]:
    return {"custom_id": f"c{i}", "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": "mock", "messages": [{"role": "user", "content": f"What is {i}?"}]}}


async def test_an_openai_batch_ends_after_its_delay_with_every_reply_in_the_output_file():
    with MockServer(batches=BatchSettings(delay=0.3)) as server:
        async with openai.AsyncOpenAI(base_url=server.url, api_key="x", max_retries=0) as client:
            upload = await client.files.create(
                file=("in.jsonl", "".join(json.dumps(chat_line(i)) + "\n" for i in range(5))
                      .encode()), purpose="batch")
            batch = await client.batches.create(input_file_id=upload.id,
                                                endpoint="/v1/chat/completions",
                                                completion_window="24h")
            assert batch.status == "in_progress" and batch.output_file_id is None
            await asyncio.sleep(0.35)
            batch = await client.batches.retrieve(batch.id)
            assert batch.status == "completed" and batch.error_file_id is None
            assert batch.request_counts is not None and batch.request_counts.completed == 5
            assert batch.output_file_id is not None
            lines = [json.loads(x) for x in
                     (await client.files.content(batch.output_file_id)).text.splitlines()]
    assert [x["custom_id"] for x in lines] == [f"c{i}" for i in range(5)]
    assert [x["response"]["body"]["choices"][0]["message"]["content"] for x in lines] == [
        f"The answer is \\boxed{{{i}}}." for i in range(5)]
    assert server.stats()["batches"] == {"submitted": 1, "items_received": 5,
                                         "items_answered": 5}
    assert server.requests == 0  # batch items are not synchronous requests


async def test_failed_and_expired_openai_items_go_to_the_error_file():
    settings = BatchSettings(failure_rate=0.3, expire_rate=0.3, seed=1)
    with MockServer(batches=settings) as server:
        async with openai.AsyncOpenAI(base_url=server.url, api_key="x", max_retries=0) as client:
            upload = await client.files.create(file=("in.jsonl", "".join(
                json.dumps(chat_line(i)) + "\n" for i in range(40)).encode()), purpose="batch")
            batch = await client.batches.create(input_file_id=upload.id,
                                                endpoint="/v1/chat/completions",
                                                completion_window="24h")
            batch = await client.batches.retrieve(batch.id)
            assert batch.status == "expired"
            assert batch.output_file_id and batch.error_file_id
            ok = (await client.files.content(batch.output_file_id)).text.splitlines()
            bad = [json.loads(x) for x in
                   (await client.files.content(batch.error_file_id)).text.splitlines()]
    expired = [x for x in bad if x["error"] and x["error"]["code"] == "batch_expired"]
    failed = [x for x in bad if x["response"] and x["response"]["status_code"] == 500]
    assert len(ok) + len(expired) + len(failed) == 40 and expired and failed
    assert batch.request_counts is not None
    assert (batch.request_counts.completed, batch.request_counts.failed) == (len(ok), len(bad))


async def test_an_anthropic_message_batch_ends_and_streams_its_results():
    settings = BatchSettings(delay=0.2, failure_rate=0.25, seed=3)
    with MockServer(batches=settings) as server:
        async with anthropic.AsyncAnthropic(base_url=server.url.removesuffix("/v1"),
                                            api_key="x", max_retries=0) as client:
            batch = await client.messages.batches.create(requests=[
                {"custom_id": f"a{i}", "params": {"model": "mock", "max_tokens": 16,
                                                 "messages": [{"role": "user",
                                                               "content": f"What is {i}?"}]}}
                for i in range(8)])
            assert batch.processing_status == "in_progress" and batch.results_url is None
            await asyncio.sleep(0.25)
            batch = await client.messages.batches.retrieve(batch.id)
            assert batch.processing_status == "ended" and batch.results_url
            results = [r async for r in await client.messages.batches.results(batch.id)]
    kinds = {r.custom_id: r.result.type for r in results}
    assert set(kinds) == {f"a{i}" for i in range(8)}
    assert set(kinds.values()) == {"succeeded", "errored"}
    assert batch.request_counts.succeeded == sum(v == "succeeded" for v in kinds.values())
    first = next(r for r in results if r.result.type == "succeeded")
    assert first.result.message.content[0].text.startswith("The answer is")  # type: ignore[union-attr]


async def test_a_cancelled_batch_answers_nothing():
    with MockServer(batches=BatchSettings(delay=60)) as server:
        async with openai.AsyncOpenAI(base_url=server.url, api_key="x", max_retries=0) as client:
            upload = await client.files.create(file=("in.jsonl", json.dumps(chat_line(0))
                                                     .encode()), purpose="batch")
            batch = await client.batches.create(input_file_id=upload.id,
                                                endpoint="/v1/chat/completions",
                                                completion_window="24h")
            assert (await client.batches.cancel(batch.id)).status == "cancelled"
    assert server.stats()["batches"]["items_answered"] == 0


@pytest.mark.parametrize("rates", [{"failure_rate": 1.5}, {"expire_rate": -0.1}])
def test_bad_batch_settings_are_refused(rates: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        BatchSettings(**rates)


def request(n: int) -> tuple[str, dict[str, Any]]:
    return f"c{n}", {"model": "mock", "max_tokens": 16,
                     "messages": [{"role": "user", "content": f"What is {n} + 0?"}]}


async def test_an_openai_batch_is_found_by_its_input_file_in_the_listing() -> None:
    from debate.models.batch import Intent, Lookup, OpenAIBatches

    with MockServer() as server:
        client = OpenAIBatches(server.url, None, "openai:mock")
        try:
            since = time.time()
            files = [await client.prepare([request(n)]) for n in range(3)]
            made = [await client.create(f) for f in files[:2]]  # the third never became one
            found = [await client.find(Intent(f, (f"c{n}",), since))
                     for n, f in enumerate(files)]
        finally:
            await client.aclose()
    assert found == [Lookup(made[0]), Lookup(made[1]), Lookup()]


async def test_anthropic_batches_are_listed_newest_first_page_by_page_as_the_sdk_reads_them():
    with MockServer() as server:
        async with anthropic.AsyncAnthropic(base_url=server.url.removesuffix("/v1"),
                                            api_key="x", max_retries=0) as client:
            made = [(await client.messages.batches.create(requests=[
                {"custom_id": f"a{i}", "params": request(i)[1]}])).id for i in range(5)]
            first = await client.messages.batches.list(limit=2)
            listed = [batch.id async for batch in first]  # the SDK follows after_id
    assert first.has_more and first.last_id == made[3] and first.first_id == made[4]
    assert listed == made[::-1]
    assert server.stats()["batches"]["items_received"] == 5


async def test_an_anthropic_batch_is_found_by_exactly_its_custom_ids() -> None:
    from debate.models.batch import AnthropicBatches, Intent, Lookup

    with MockServer(batches=BatchSettings(delay=0.3)) as server:
        client = AnthropicBatches(server.url.removesuffix("/v1"), None, "anthropic:mock")
        downloads: list[str] = []
        download = client._text

        async def text(path: str) -> str:
            downloads.append(path.split("/")[-2])
            return await download(path)

        client._text = text  # type: ignore[method-assign]
        try:
            since = time.time()
            ours = Intent("intent_ours", ("c0", "c1"), since)
            other = await client.create("x", [request(5), request(6)])  # as many, not ours
            mine = await client.create("y", [request(0), request(1)])
            running = await client.find(ours, ())
            await asyncio.sleep(0.35)  # both have ended: their results tell them apart
            found = await client.find(ours, ())
            never = await client.find(Intent("intent_lost", ("c7", "c8"), since), ())
            journaled = await client.find(ours, {mine})  # a run's own batches are not it
            late = await client.find(Intent("intent_late", ("c0", "c1"), time.time() + 600), ())
            _, batch = await client.state(mine)
            results = await client.results(batch)  # read once, by find
        finally:
            await client.aclose()
    assert running == Lookup(None, (mine, other))  # still running: cannot be told apart
    assert found == Lookup(mine)
    assert never == journaled == late == Lookup()
    assert set(results) == {"c0", "c1"}
    assert downloads.count(mine) == 1  # its results, read to tell, are its answers
