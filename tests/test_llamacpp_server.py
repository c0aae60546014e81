"""The OpenAI-compatible backend against a real llama.cpp server (llama_cpp.server)."""

import asyncio
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from debate.models import CallStats, Message, SamplingParams, wrap
from debate.models.llamacpp import default_gguf_path
from debate.models.openai_backend import OpenAIModel

pytest.importorskip("llama_cpp.server", reason="needs llama-cpp-python[server]")
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server():
    port = free_port()
    # logits_all defaults to on in the server, which makes generation several times slower
    process = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(default_gguf_path()),
         "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048",
         "--logits_all", "false", "--model_alias", "smollm2", "--verbose", "false"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/models", timeout=1)
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"llama.cpp server did not start: {process.stderr.read()[-2000:]}")
            time.sleep(0.2)
    yield url
    process.terminate()
    process.wait(10)


@pytest.mark.parametrize("transport", ["aiohttp", "sdk"])
async def test_openai_backend_against_llama_cpp_server(llama_server, transport):
    backend = OpenAIModel("smollm2", base_url=llama_server, transport=transport)
    model = wrap(backend, stats=CallStats())
    messages = [Message(role="user", content="What is 2 + 2? Answer briefly.")]
    results = await asyncio.gather(*(
        model.generate(messages, SamplingParams(max_tokens=12, temperature=0.0, slot=f"a{i}"))
        for i in range(2)))
    await backend.aclose()
    for completion in results:
        assert completion.text.strip()
        assert completion.usage.prompt_tokens > 5 and 0 < completion.usage.completion_tokens <= 12
        assert completion.finish_reason in ("stop", "length")
