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


async def test_a_backend_from_an_entry_point_serves_its_prefix(monkeypatch):
    """A provider (Gemini, Bedrock, a gateway) added by a package, without forking."""
    import sys
    import types
    from importlib.metadata import EntryPoint

    from debate import Question, run_debate
    from debate.models import BACKENDS, Backend
    from debate.testing import ScriptedModel

    built = []

    def create(spec, **options):
        built.append((spec.model, spec.base_url, options))
        return ScriptedModel("\\boxed{4}", name=f"myprovider-{spec.model}")

    module = types.ModuleType("debatelab_test_backends")
    module.create = create  # type: ignore[attr-defined]
    module.gateway = Backend(create, takes_url=True)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "debatelab_test_backends", module)
    points = [EntryPoint("myprovider", "debatelab_test_backends:create", "debatelab.backends"),
              EntryPoint("gateway", "debatelab_test_backends:gateway", "debatelab.backends")]
    monkeypatch.setattr("debate.registry.entry_points",
                        lambda group: points if group == "debatelab.backends" else [])
    monkeypatch.setattr(BACKENDS, "_plugins_loaded", False)  # conftest restores BACKENDS
    parsed = parse_model_spec("myprovider:model-x")
    assert (parsed.backend, parsed.model) == ("myprovider", "model-x")
    assert create_backend(parsed, region="eu").name == "scripted:myprovider-model-x"
    assert parse_model_spec("gateway:m@https://gw.example/v1").base_url == "https://gw.example/v1"
    with pytest.raises(SpecError, match="the myprovider backend takes no @URL"):
        parse_model_spec("myprovider:m@https://gw.example/v1")
    trace = await run_debate(Question(id="q", text="2+2?", task="numeric"),
                             protocol="single", models="myprovider:model-y")
    assert trace.final.answer == "4"
    assert [b[0] for b in built] == ["model-x", "model-y"] and built[0][2] == {"region": "eu"}
    assert "myprovider" in BACKENDS.names()


def test_the_model_layer_imports_the_testing_helpers_only_for_a_scripted_spec():
    import subprocess
    import sys

    code = ("import sys\n"
            "import debate.models.spec as spec\n"
            "assert 'debate.testing' not in sys.modules, 'imported by debate.models.spec'\n"
            "spec.create_backend('openai:m@http://127.0.0.1:9/v1')\n"
            "spec.parse_model_spec('llamacpp:smollm2')\n"
            "assert 'debate.testing' not in sys.modules, 'imported by a built-in backend'\n"
            "model = spec.create_backend('scripted:echo')\n"
            "assert 'debate.testing.scripted' in sys.modules and model.name == 'scripted:echo'\n"
            "assert 'aiohttp' not in sys.modules, 'the mock server came along'\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr


def test_scripted_backend_takes_no_options():
    with pytest.raises(ConfigError, match=r"scripted:echo takes no backend options, got \['x'\]"):
        create_backend("scripted:echo", x=1)


# --- URLs are checked in full when a spec is parsed ---------------------------------------


@pytest.mark.parametrize(("url", "why"), [
    ("http://h:8o8o/v1", "port '8o8o' in URL 'http://h:8o8o/v1' is not a number from 1 to 65535"),
    ("http://h:99999/v1",
     "port '99999' in URL 'http://h:99999/v1' is not a number from 1 to 65535"),
    ("http://h:0/v1", "port '0' in URL 'http://h:0/v1' is not a number from 1 to 65535"),
    ("http://[::1/v1", "'http://[::1/v1' is not a URL (Invalid IPv6 URL)"),
    ("http:///v1", "no host in URL 'http:///v1'"),
    ("http://:8000/v1", "no host in URL 'http://:8000/v1'"),
    ("http://my host/v1", "URL 'http://my host/v1' holds a space or a control character"),
    ("ftp://h/v1", "'ftp://h/v1' after '@' is not an http:// or https:// URL"),
    ("http://a:8000/v1,ftp://b/v1", "'ftp://b/v1' is not an http:// or https:// URL"),
    ("http://me:s3cr3t@h:8o8o/v1",
     "port '8o8o' in URL 'http://me:***@h:8o8o/v1' is not a number from 1 to 65535"),
])
def test_a_bad_url_is_a_spec_error_naming_the_spec_and_the_fault(url, why):
    spec = f"openai:m@{url}"
    with pytest.raises(SpecError) as info:
        parse_model_spec(spec)
    message = str(info.value)
    assert message.startswith(f"invalid model spec {spec.replace(':s3cr3t@', ':***@')!r}: {why}.")
    assert "s3cr3t" not in message


def test_a_bracketed_host_must_be_an_ipv6_address():
    # the standard library refuses it itself since 3.11.4, in its own words
    with pytest.raises(SpecError, match=r"zz::1.*(is not a URL|is not an IPv6 address)"):
        parse_model_spec("openai:m@http://[zz::1]/v1")


@pytest.mark.parametrize(("url", "port"), [
    ("http://[::1]:8000/v1", 8000), ("HTTPS://Example.com/v1", None), ("http://h:/v1", None),
    ("http://me:s3cr3t@127.0.0.1:65535/v1", 65535), ("http://my_host.local:1/v1", 1),
])
def test_good_urls_parse(url, port):
    from urllib.parse import urlsplit

    spec = parse_model_spec(f"openai:m@{url}")
    assert spec.model == "m" and spec.base_url == url and urlsplit(url).port == port


def test_a_model_name_with_an_at_sign_keeps_it_before_a_url_with_a_password():
    spec = parse_model_spec("openai:org@model@http://me:pw@h/v1,http://h2/v1")
    assert (spec.model, spec.pool) == ("org@model", ["http://me:pw@h/v1", "http://h2/v1"])
    assert str(spec) == "openai:org@model@http://me:***@h/v1,http://h2/v1"


def test_a_bad_url_in_a_configs_endpoints_is_refused_when_the_config_loads():
    from debate import ExperimentConfig
    from debate.errors import ConfigError

    with pytest.raises(ConfigError, match="port '99999' in URL"):
        ExperimentConfig(models=["openai:m"], dataset="experiments/data/arithmetic.jsonl",
                         endpoints={"openai:m": [{"url": "http://h:99999/v1"}]})


def test_debate_run_with_a_bad_url_exits_2_before_making_anything(tmp_path):
    from typer.testing import CliRunner

    from debate.cli import app

    result = CliRunner().invoke(app, ["run", "--dataset", "experiments/data/arithmetic.jsonl",
                                      "--model", "openai:m@http://[::1/v1", "--out",
                                      str(tmp_path), "--name", "run"])
    assert result.exit_code == 2, result.output
    assert "invalid model spec 'openai:m@http://[::1/v1': 'http://[::1/v1' is not a URL" in (
        " ".join(result.output.split()))
    assert "Traceback" not in result.output and not (tmp_path / "run").exists()
