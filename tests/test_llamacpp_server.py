"""The OpenAI-compatible backend against a real llama.cpp server.

The embedded model's engine (xllamacpp) is llama.cpp's own server: it listens
on 127.0.0.1, guarded by a random per-process API key. Here the ``openai:``
backend talks to it over HTTP, as it would to ``llama-server`` or ``vllm serve``.
"""

import asyncio
import json
import urllib.error
import urllib.request

import pytest

from debate.models import CallStats, Message, SamplingParams, wrap
from debate.models.openai_backend import OpenAIModel

pytest.importorskip("xllamacpp")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def llama_server():
    from debate.models.llamacpp import LlamaCppModel

    model = LlamaCppModel("smollm2", n_ctx=2048, n_parallel=2)
    return asyncio.run(model.http_endpoint())


@pytest.mark.parametrize("transport", ["lean", "aiohttp", "sdk"])
async def test_openai_backend_against_llama_cpp_server(llama_server, transport):
    url, key = llama_server
    backend = OpenAIModel("smollm2", base_url=url, api_key=key, transport=transport,
                          structured="json_object")
    model = wrap(backend, stats=CallStats())
    messages = [Message(role="user", content="What is 2 + 2? Answer briefly.")]
    results = await asyncio.gather(*(
        model.generate(messages, SamplingParams(max_tokens=12, temperature=0.0,
                                                sampler=f"a{i}", logprobs=True,
                                                top_logprobs=2))
        for i in range(2)))
    await backend.aclose()
    for completion in results:
        assert completion.text.strip()
        assert completion.usage.prompt_tokens > 5 and 0 < completion.usage.completion_tokens <= 12
        assert completion.finish_reason in ("stop", "length")
        assert completion.logprobs and completion.logprobs[0].top


def test_the_listener_refuses_requests_without_the_key(llama_server):
    url, key = llama_server
    assert url.startswith("http://127.0.0.1:")
    body = json.dumps({"messages": [{"role": "user", "content": "Hi"}],
                       "max_tokens": 2}).encode()
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        request = urllib.request.Request(f"{url}/chat/completions", data=body,
                                         headers={"Content-Type": "application/json", **headers})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)
        assert refused.value.code == 401
        refused.value.close()  # an HTTPError holds the open response
    request = urllib.request.Request(f"{url}/chat/completions", data=body, headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=30) as reply:
        assert json.loads(reply.read())["choices"][0]["message"]["content"]
