"""Backends against real local servers (OpenAI / Anthropic protocol) and a fake vLLM engine."""

import sys
from types import ModuleType, SimpleNamespace

import pytest

from debate.errors import FatalTransportError, MissingDependencyError, RetryableError
from debate.models import CallStats, Message, RetryPolicy, SamplingParams, wrap
from debate.models.anthropic_backend import AnthropicModel, accepts_sampling
from debate.models.openai_backend import OpenAIModel
from debate.models.vllm_backend import VLLMModel
from debate.testing import MockServer

MSGS = [Message(role="system", content="Be brief."),
        Message(role="user", content="Tom has 7 apples and eats 2.")]
FAST = RetryPolicy(initial_delay=0.001, max_delay=0.01, timeout=2.0)


@pytest.mark.parametrize("transport", ["lean", "aiohttp", "sdk"])
async def test_openai_backend_against_local_server(transport, mock_server):
    model = OpenAIModel("mock-model", base_url=mock_server.url, transport=transport)
    completion = await model.generate(MSGS, SamplingParams(temperature=0.5, max_tokens=20,
                                                           seed=3, sampler="agent-0"))
    await model.aclose()
    assert completion.text == "The answer is \\boxed{7}."
    assert completion.usage.prompt_tokens == 9 and completion.usage.completion_tokens == 4
    assert completion.finish_reason == "stop" and completion.model == "mock-model"
    body = mock_server.bodies[-1]
    assert body["messages"] == [{"role": m.role, "content": m.content} for m in MSGS]
    assert (body["temperature"], body["max_tokens"], body["seed"]) == (0.5, 20, 3)
    assert "slot" not in body and "sampler" not in body  # the sampler never leaves the process


@pytest.mark.parametrize("transport", ["lean", "aiohttp", "sdk"])
async def test_429_and_500_are_retried_through_the_stack(transport):
    with MockServer(faults=[429, 500, 503], retry_after=0.01) as server:
        stats = CallStats()
        backend = OpenAIModel("m", base_url=server.url, transport=transport)
        model = wrap(backend, stats=stats, retry=FAST)
        completion = await model.generate(MSGS, SamplingParams())
        await backend.aclose()
    assert completion.text.endswith("\\boxed{7}.")
    assert server.requests == 4 and stats.retries == 3
    assert stats.errors == {"HTTP 429": 1, "HTTP 500": 1, "HTTP 503": 1}


@pytest.mark.parametrize("transport", ["lean", "aiohttp", "sdk"])
@pytest.mark.parametrize("status", [400, 401, 404])
async def test_client_errors_are_not_retried(transport, status):
    with MockServer(faults=[status]) as server:
        backend = OpenAIModel("m", base_url=server.url, transport=transport)
        model = wrap(backend, stats=CallStats(), retry=FAST)
        with pytest.raises(FatalTransportError) as info:
            await model.generate(MSGS, SamplingParams())
        await backend.aclose()
    assert server.requests == 1 and info.value.status == status
    assert server.url in str(info.value)  # which endpoint failed


async def test_malformed_body_and_dropped_connection_are_retryable():
    with MockServer(faults=["malformed"]) as server:
        backend = OpenAIModel("m", base_url=server.url)
        model = wrap(backend, stats=CallStats(), retry=FAST)
        assert (await model.generate(MSGS, SamplingParams())).text
        await backend.aclose()
    assert server.requests == 2
    async with OpenAIModel("m", base_url="http://127.0.0.1:9/v1") as dead:  # port 9: nobody
        with pytest.raises(RetryableError, match="cannot connect to http://127.0.0.1:9/v1"):
            await dead.generate(MSGS, SamplingParams())


async def test_openai_logprobs_are_parsed(mock_server):
    model = OpenAIModel("m", base_url=mock_server.url)
    completion = await model.generate(MSGS, SamplingParams(logprobs=True))
    await model.aclose()
    assert mock_server.bodies[-1]["logprobs"] is True
    assert [lp.logprob for lp in completion.logprobs] == [-0.1] * 4


async def test_anthropic_backend_against_local_server(mock_server):
    async with AnthropicModel("claude-test", api_key="k", base_url=mock_server.url[:-3]) as model:
        completion = await model.generate(MSGS, SamplingParams(temperature=0.2, max_tokens=50,
                                                               stop=("END",), logprobs=True))
        body = mock_server.bodies[-1]
        await model.generate(MSGS, SamplingParams(top_p=0.9))
    assert body["system"] == "Be brief."
    assert body["messages"] == [{"role": "user", "content": "Tom has 7 apples and eats 2."}]
    assert body["max_tokens"] == 50 and body["stop_sequences"] == ["END"]
    assert completion.text.endswith("\\boxed{7}.") and completion.logprobs is None
    # sent in the JSON body (through extra_body), whatever the SDK's typed parameters
    assert body["temperature"] == 0.2 and "top_p" not in body
    assert mock_server.bodies[-1]["top_p"] == 0.9 and "temperature" not in mock_server.bodies[-1]


@pytest.mark.parametrize("name", ["claude-opus-4-7", "claude-opus-4-8-20260101", "claude-opus-5",
                                  "claude-sonnet-5-5", "claude-haiku-5-5", "claude-fable-5"])
async def test_anthropic_models_that_reject_sampling_get_none(mock_server, caplog, name):
    assert not accepts_sampling(name)
    async with AnthropicModel(name, api_key="k", base_url=mock_server.url[:-3]) as model:
        await model.generate(MSGS, SamplingParams(temperature=0.7))
        await model.generate(MSGS, SamplingParams(temperature=0.7))
    assert not {"temperature", "top_p"} & set(mock_server.bodies[-1])
    assert caplog.text.count("the API rejects temperature for this model") == 1  # said once


@pytest.mark.parametrize("name", ["claude-sonnet-4-5", "claude-opus-4-1", "claude-opus-4-6",
                                  "claude-haiku-4-5-20251001", "claude-3-5-sonnet-20241022",
                                  "claude-3-opus-latest", "mock-model"])
def test_older_anthropic_models_accept_sampling(name):
    assert accepts_sampling(name)


async def test_anthropic_sampling_can_be_forced_either_way(mock_server):
    url = mock_server.url[:-3]
    async with AnthropicModel("claude-opus-5", api_key="k", base_url=url, sampling=True) as on:
        await on.generate(MSGS, SamplingParams(temperature=0.3))
    assert mock_server.bodies[-1]["temperature"] == 0.3
    async with AnthropicModel("claude-3-haiku", api_key="k", base_url=url, sampling=False) as off:
        await off.generate(MSGS, SamplingParams(temperature=0.3))
    assert "temperature" not in mock_server.bodies[-1]


async def test_anthropic_errors_are_classified():
    with MockServer(faults=[429, 401]) as server:
        async with AnthropicModel("c", api_key="k", base_url=server.url[:-3]) as model:
            with pytest.raises(RetryableError):
                await model.generate(MSGS, SamplingParams())
            with pytest.raises(FatalTransportError):
                await model.generate(MSGS, SamplingParams())


class FakeTokenizer:
    def apply_chat_template(self, messages, tokenize, add_generation_prompt):
        assert tokenize is False and add_generation_prompt is True
        return "".join(f"<{m['role']}>{m['content']}" for m in messages) + "<assistant>"

    def decode(self, ids):
        return f"t{ids[0]}"


class FakeEngine:
    """Stands in for vllm.AsyncLLMEngine: streams RequestOutput-like objects."""

    def __init__(self):
        self.requests = []

    async def get_tokenizer(self):
        return FakeTokenizer()

    async def generate(self, prompt, sampling_params, request_id):
        self.requests.append((prompt, sampling_params, request_id))
        logprob = {5: SimpleNamespace(logprob=-0.5, decoded_token="4"),
                   6: SimpleNamespace(logprob=-0.1, decoded_token=None)}
        for n in (1, 2):
            out = SimpleNamespace(text="\\boxed{4}"[: 4 * n], token_ids=[5, 6][:n],
                                  finish_reason="stop" if n == 2 else None,
                                  logprobs=[logprob, logprob][:n])
            yield SimpleNamespace(outputs=[out], prompt_token_ids=[1, 2, 3])


async def test_vllm_backend_with_fake_engine():
    engine = FakeEngine()
    model = VLLMModel("org/model", engine=engine, sampling_params_factory=dict)
    completion = await model.generate(MSGS, SamplingParams(temperature=0.3, max_tokens=9,
                                                           logprobs=True))
    prompt, params, request_id = engine.requests[0]
    assert prompt == "<system>Be brief.<user>Tom has 7 apples and eats 2.<assistant>"
    assert params == {"max_tokens": 9, "seed": None, "stop": None, "temperature": 0.3,
                      "logprobs": 1}
    assert completion.text == "\\boxed{4}"[:8] and completion.finish_reason == "stop"
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (3, 2)
    assert [(t.token, t.logprob) for t in completion.logprobs] == [("4", -0.5), ("t6", -0.1)]
    assert model.name == "vllm:org/model"
    await model.generate(MSGS, SamplingParams())
    assert engine.requests[0][2] != engine.requests[1][2]  # unique request ids


async def test_vllm_shuts_down_the_engine_it_built_but_not_one_it_was_given(monkeypatch):
    class OwnEngine(FakeEngine):
        shut = 0

        def shutdown(self):
            OwnEngine.shut += 1

    fake_vllm = SimpleNamespace(AsyncEngineArgs=lambda **kw: kw, SamplingParams=dict,
                                AsyncLLMEngine=SimpleNamespace(
                                    from_engine_args=lambda args: OwnEngine()))
    monkeypatch.setattr("debate.models.vllm_backend._import_vllm", lambda: fake_vllm)
    async with VLLMModel("org/model") as model:
        await model.generate(MSGS, SamplingParams())
    assert OwnEngine.shut == 1 and model.engine is None
    given = OwnEngine()
    async with VLLMModel("org/model", engine=given) as model:
        await model.generate(MSGS, SamplingParams())
    assert OwnEngine.shut == 1 and model.engine is given  # the caller's to shut down


async def test_vllm_without_the_extra_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # `import vllm` fails, installed or not
    with pytest.raises(MissingDependencyError, match=r"pip install debatelab\[vllm\]"):
        await VLLMModel("x").generate(MSGS, SamplingParams())


def fake_vllm(engine, structured_api: str = "StructuredOutputsParams") -> ModuleType:
    """A stand-in ``vllm`` package: what the backend uses of it, recording what it gets."""
    vllm = ModuleType("vllm")
    vllm.built = []

    class AsyncEngineArgs:
        def __init__(self, **kwargs):
            self.kwargs = kwargs

    class AsyncLLMEngine:
        @staticmethod
        def from_engine_args(args):
            vllm.built.append(args.kwargs)
            return engine

    class Params:  # vllm.SamplingParams, StructuredOutputsParams, GuidedDecodingParams
        def __init__(self, **kwargs):
            self.kwargs = kwargs

    sampling = ModuleType("vllm.sampling_params")
    setattr(sampling, structured_api, Params)
    vllm.AsyncEngineArgs, vllm.AsyncLLMEngine = AsyncEngineArgs, AsyncLLMEngine
    vllm.SamplingParams, vllm.sampling_params = Params, sampling
    return vllm


@pytest.mark.parametrize(("api", "key"), [("StructuredOutputsParams", "structured_outputs"),
                                          ("GuidedDecodingParams", "guided_decoding")])
async def test_vllm_when_installed_builds_its_engine_and_gives_no_hint(monkeypatch, api, key):
    engine = FakeEngine()
    vllm = fake_vllm(engine, api)
    monkeypatch.setitem(sys.modules, "vllm", vllm)
    monkeypatch.setitem(sys.modules, "vllm.sampling_params", vllm.sampling_params)
    model = VLLMModel("org/model", max_model_len=4096)  # nothing injected: vllm's own classes
    completion = await model.generate(MSGS, SamplingParams(max_tokens=9, json_schema=SCHEMA))
    assert vllm.built == [{"model": "org/model", "max_model_len": 4096}]
    assert completion.text == "\\boxed{4}"[:8] and completion.usage.completion_tokens == 2
    params = engine.requests[0][1]
    assert isinstance(params, vllm.SamplingParams) and params.kwargs["max_tokens"] == 9
    assert params.kwargs[key].kwargs == {"json": SCHEMA}  # this vLLM's structured-output API
    await model.generate(MSGS, SamplingParams())
    assert len(vllm.built) == 1  # the engine is built once


SCHEMA = {"title": "verdict", "type": "object", "properties": {"answer": {"type": "string"}},
          "required": ["answer"]}


@pytest.mark.parametrize(("structured", "expected"), [
    ("json_schema", {"type": "json_schema", "json_schema": {"name": "verdict", "schema": SCHEMA}}),
    ("json_object", {"type": "json_object", "schema": SCHEMA}),
])
async def test_structured_output_is_requested(mock_server, structured, expected):
    model = OpenAIModel("m", base_url=mock_server.url, structured=structured)
    await model.generate(MSGS, SamplingParams(json_schema=SCHEMA))
    await model.aclose()
    assert mock_server.bodies[-1]["response_format"] == expected


async def test_vllm_structured_outputs_with_fake_engine():
    engine = FakeEngine()
    model = VLLMModel("m", engine=engine, sampling_params_factory=dict,
                      structured=lambda schema: {"structured_outputs": {"json": schema}})
    await model.generate(MSGS, SamplingParams(json_schema=SCHEMA))
    assert engine.requests[0][1]["structured_outputs"] == {"json": SCHEMA}
