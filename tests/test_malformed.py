"""A reply that is not the JSON the API promises is counted as ``malformed``, not
``connection``: the server answered, its answer was unusable (and it is retried)."""

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from debate import ExperimentConfig, arun_experiment
from debate.errors import MalformedReplyError
from debate.models import CallStats, Message, RetryPolicy, SamplingParams, wrap
from debate.models.anthropic_backend import AnthropicModel
from debate.models.openai_backend import OpenAIModel
from debate.testing import MockServer

MSGS = [Message(role="user", content="What is 2+2?")]
FAST = RetryPolicy(initial_delay=0.001, max_delay=0.01, timeout=30.0)
TRANSPORTS = ["lean", "aiohttp", "sdk"]


@asynccontextmanager
async def answering(body: bytes) -> AsyncIterator[str]:
    """A server on 127.0.0.1 answering every request with HTTP 200 and ``body``."""

    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        await reader.readexactly(length)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(reply, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1"
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_body_that_is_not_json_is_malformed_and_retried(transport):
    stats = CallStats()
    with MockServer(faults=["malformed"]) as server:
        backend = OpenAIModel("mock", base_url=server.url, transport=transport)
        async with wrap(backend, stats=stats, retry=FAST) as model:
            completion = await model.generate(MSGS, SamplingParams())
    assert completion.text == "The answer is \\boxed{2}."  # the retry was answered
    assert stats.errors == {"malformed": 1} and stats.retries == 1


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("body", [b'{"choices": []}', b'{"choices": [{"text": "old API"}]}',
                                  b'["not", "an", "object"]', b'{"choices": [{"message": 7}]}'])
async def test_json_of_the_wrong_shape_is_malformed(transport, body):
    async with answering(body) as url:
        async with OpenAIModel("m", base_url=url, transport=transport) as model:
            with pytest.raises(MalformedReplyError) as info:
                await model.generate(MSGS, SamplingParams())
    assert info.value.kind == "malformed" and info.value.status is None
    assert str(info.value).startswith("malformed reply")


async def test_an_anthropic_body_that_is_not_json_is_malformed():
    with MockServer(faults=["malformed"]) as server:
        async with AnthropicModel("mock", base_url=server.url.removesuffix("/v1")) as model:
            with pytest.raises(MalformedReplyError) as info:
                await model.generate(MSGS, SamplingParams())
    assert info.value.kind == "malformed"


async def test_the_run_summary_counts_malformed_replies_apart(tmp_path: Path):
    data = tmp_path / "q.jsonl"
    data.write_text(json.dumps({"id": "q", "question": "What is 1 + 1?", "answer": 2}) + "\n")
    with MockServer(faults=["malformed", "malformed", "dropped"]) as server:
        config = ExperimentConfig(
            protocol="du", models=[f"openai:mock@{server.url}"], dataset=str(data),
            output_dir=str(tmp_path), name="run", retry=FAST.model_dump())
        summary = await arun_experiment(config, progress=False)
    assert summary.stopped is None and summary.debates == 1
    assert summary.errors == {"malformed": 2, "connection": 1}  # the dropped one: no reply
    stored = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert stored["errors"] == {"malformed": 2, "connection": 1}
