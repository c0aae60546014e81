import pytest

from debate.errors import ConfigError, SpecError
from debate.models import create_backend, parse_model_spec


@pytest.mark.parametrize(("spec", "backend", "model", "url"), [
    ("openai:gpt-4o-mini", "openai", "gpt-4o-mini", None),
    ("openai:Qwen/Qwen2.5-7B-Instruct@http://localhost:8000/v1", "openai",
     "Qwen/Qwen2.5-7B-Instruct", "http://localhost:8000/v1"),
    ("anthropic:claude-sonnet-4-5", "anthropic", "claude-sonnet-4-5", None),
    ("vllm:Qwen/Qwen2.5-7B-Instruct", "vllm", "Qwen/Qwen2.5-7B-Instruct", None),
    ("llamacpp:smollm2", "llamacpp", "smollm2", None),
    ("llamacpp:/models/x.gguf", "llamacpp", "/models/x.gguf", None),
    ("/models/x.gguf", "llamacpp", "/models/x.gguf", None),
    ("scripted:first-number", "scripted", "first-number", None),
    ("scripted:reply=The answer is 4", "scripted", "reply=The answer is 4", None),
    ("anthropic:claude-3-5-sonnet@20240620", "anthropic", "claude-3-5-sonnet@20240620", None),
    ("scripted:reply=mail a@b.com", "scripted", "reply=mail a@b.com", None),
])
def test_valid_specs(spec, backend, model, url):
    parsed = parse_model_spec(spec)
    assert (parsed.backend, parsed.model, parsed.base_url) == (backend, model, url)


@pytest.mark.parametrize("spec", ["gpt-4o", "foo:bar", "openai:", "vllm:x@http://h:1/v1",
                                  "openai:m@http://", "openai:m@http//localhost:8000/v1",
                                  "openai:m@127.0.0.1:8000/v1", "openai:m@localhost",
                                  "anthropic:m@proxy.example.com/v1"])
def test_bad_specs_list_valid_forms(spec):
    with pytest.raises(SpecError) as info:
        parse_model_spec(spec)
    message = str(info.value)
    assert repr(spec) in message
    assert "openai:MODEL@http://HOST:PORT/v1" in message and "llamacpp:smollm2" in message


def test_hosted_apis_are_blocked_in_tests():
    with pytest.raises(ConfigError, match="DEBATELAB_BLOCK_HOSTED"):
        create_backend("openai:gpt-4o-mini", api_key="sk-test")
    with pytest.raises(ConfigError, match="DEBATELAB_BLOCK_HOSTED"):
        create_backend("anthropic:claude-sonnet-4-5", api_key="x")


def test_local_server_needs_no_key():
    model = create_backend("openai:m@http://127.0.0.1:9/v1")
    assert model.name == "openai:m"


def test_missing_key_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("DEBATELAB_BLOCK_HOSTED")
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        create_backend("openai:gpt-4o-mini")


def test_secret_never_in_repr_or_name(monkeypatch):
    monkeypatch.delenv("DEBATELAB_BLOCK_HOSTED")
    model = create_backend("openai:gpt-4o-mini", api_key="sk-very-secret")
    assert "sk-very-secret" not in repr(vars(model))
    assert "sk-very-secret" not in model.name


def test_scripted_unknown_name():
    with pytest.raises(ConfigError, match="unknown script"):
        create_backend("scripted:nope")


@pytest.mark.parametrize("backend", ["openai", "anthropic"])
async def test_backends_built_directly_refuse_hosted_requests_when_blocked(backend):
    """The guard acts when a request would be sent, not only when a spec is parsed."""
    from debate.errors import FatalTransportError
    from debate.models import Message, SamplingParams
    from debate.models.anthropic_backend import AnthropicModel
    from debate.models.openai_backend import OpenAIModel

    cls = OpenAIModel if backend == "openai" else AnthropicModel
    model = cls("some-model", api_key="sk-not-a-real-key-000")  # the hosted default endpoint
    with pytest.raises(FatalTransportError, match="refused: DEBATELAB_BLOCK_HOSTED=1"):
        await model.generate([Message(role="user", content="hi")], SamplingParams())
    assert getattr(model, "_session", None) is None and getattr(model, "_client", None) is None


async def test_local_servers_pass_the_guard(mock_server):
    from debate.models import Message, SamplingParams
    from debate.models.openai_backend import OpenAIModel

    model = OpenAIModel("mock", base_url=mock_server.url)
    reply = await model.generate([Message(role="user", content="What is 2+2?")],
                                 SamplingParams())
    await model.aclose()
    assert reply.text


def test_a_key_given_in_backend_options_is_never_written(tmp_path, mock_server):
    from debate import ExperimentConfig, run_experiment

    secret = "sk-test-IN-BACKEND-OPTIONS-0123456789"
    cfg = ExperimentConfig(protocol="single", models=[f"openai:mock@{mock_server.url}"],
                           dataset="experiments/data/arithmetic.jsonl", limit=2,
                           output_dir=str(tmp_path), name="run",
                           backend_options={"openai": {"api_key": secret}})
    summary = run_experiment(cfg, progress=False)
    assert summary.debates == 2 and mock_server.bodies  # the key was used
    stored = (tmp_path / "run" / "config.json").read_text()
    assert '"api_key": "[redacted]"' in stored
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), f"the key leaked into {path}"
