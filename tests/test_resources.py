"""What a run opens it closes; what it does not own it leaves alone (sessions, the collector)."""

import gc
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from debate import ExperimentConfig, arun_experiment, run_debate
from debate.cli import app
from debate.errors import RetryableError
from debate.models import CallStats, Message, RetryPolicy, SamplingParams, close_model, wrap
from debate.models.openai_backend import OpenAIModel
from debate.testing import ScriptedModel, register_script

DATA = "experiments/data/arithmetic.jsonl"
MSGS = [Message(role="user", content="What is 3 + 4?")]


@pytest.fixture
def sessions(monkeypatch):
    """Every HTTP session (aiohttp) and connection pool (lean transport) made while the
    test runs."""
    import aiohttp

    import debate.models.openai_backend as backend

    made = []

    def tracking(real):
        def tracked(*args, **kwargs):
            session = real(*args, **kwargs)
            made.append(session)
            return session
        return tracked

    monkeypatch.setattr(aiohttp, "ClientSession", tracking(aiohttp.ClientSession))
    monkeypatch.setattr(backend, "HttpPool", tracking(backend.HttpPool))
    return made


async def test_run_debate_closes_the_models_it_builds(mock_server, sessions):
    trace = await run_debate("What is 3 + 4?", models=f"openai:mock@{mock_server.url}",
                             rounds=1, agents=2)
    assert trace.final.answer == "3" and mock_server.requests == 4
    assert len(sessions) == 1 and sessions[0].closed


async def test_run_debate_leaves_a_model_it_was_given_open(mock_server, sessions):
    async with OpenAIModel("mock", base_url=mock_server.url) as model:
        await run_debate("What is 3 + 4?", models=model, rounds=0, agents=2)
        assert not sessions[0].closed  # the caller's: still usable for the next debate
        await run_debate("What is 5 + 4?", models=model, rounds=0, agents=2)
        assert len(sessions) == 1 and not sessions[0].closed
    assert sessions[0].closed  # closed by the owner, on leaving ``async with``


async def test_experiment_closes_its_sessions(mock_server, sessions, tmp_path):
    config = ExperimentConfig(dataset={"path": DATA, "task": "numeric"}, limit=3,
                              models=[f"openai:mock@{mock_server.url}"], rounds=1,
                              output_dir=str(tmp_path), name="run")
    summary = await arun_experiment(config, progress=False)
    assert summary.debates == 3 and sessions and all(s.closed for s in sessions)


@pytest.mark.usefixtures("unfrozen")
def test_cli_run_closes_its_sessions_and_restores_the_collector(mock_server, sessions,
                                                                tmp_path):
    before = gc.get_threshold()
    result = CliRunner().invoke(app, [
        "run", "--dataset", DATA, "--model", f"openai:mock@{mock_server.url}", "--limit", "2",
        "--rounds", "1", "--out", str(tmp_path), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert mock_server.served["ok"] == 2 * 6
    assert sessions and all(s.closed for s in sessions)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


async def test_closing_the_middleware_closes_the_backend(mock_server, sessions):
    async with wrap(OpenAIModel("mock", base_url=mock_server.url), stats=CallStats()) as model:
        await model.generate(MSGS, SamplingParams())
        assert not sessions[0].closed
    assert sessions[0].closed
    await close_model(model)  # closing twice is harmless
    await close_model(ScriptedModel("x"))  # and so is closing a model that holds nothing
    # a closed model opens a new session on its next call
    assert (await model.generate(MSGS, SamplingParams(sampler="again"))).text
    await close_model(model)
    assert len(sessions) == 2 and sessions[1].closed


THRESHOLDS: list[tuple[int, int, int]] = []


def _collector_probe(messages, params):
    THRESHOLDS.append(gc.get_threshold())
    return "The answer is \\boxed{1}."


register_script("collector-probe", _collector_probe)


@pytest.mark.usefixtures("unfrozen")
async def test_a_library_run_leaves_the_garbage_collector_alone(tmp_path):
    THRESHOLDS.clear()
    before = gc.get_threshold()
    config = ExperimentConfig(dataset={"path": DATA, "task": "numeric"}, limit=2,
                              models=["scripted:collector-probe"], output_dir=str(tmp_path),
                              name="run")
    await arun_experiment(config, progress=False)
    assert THRESHOLDS and set(THRESHOLDS) == {before}  # not even while it runs
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


@pytest.mark.usefixtures("unfrozen")
def test_the_cli_tunes_the_collector_for_its_run_only(tmp_path):
    THRESHOLDS.clear()
    before = gc.get_threshold()
    result = CliRunner().invoke(app, [
        "run", "--dataset", DATA, "--model", "scripted:collector-probe", "--limit", "2",
        "--rounds", "0", "--out", str(tmp_path), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert THRESHOLDS and set(THRESHOLDS) == {(50_000, 20, 20)}
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_importing_and_running_the_library_leaves_the_collector_as_it_was():
    probe = """
import asyncio, gc
gc.set_threshold(1234, 11, 12)
gc.disable()
import debate
from debate.testing import ScriptedModel
asyncio.run(debate.run_debate("What is 2 + 2?", models=ScriptedModel("\\\\boxed{4}"), rounds=1))
print(gc.get_threshold(), gc.isenabled(), gc.get_freeze_count())
"""
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[-2] == "(1234, 11, 12) False 0"


@pytest.mark.parametrize("transport", ["lean", "aiohttp", "sdk"])
async def test_a_closed_port_is_named_in_words(transport):
    url = "http://127.0.0.1:9/v1"  # nothing listens on port 9
    model = wrap(OpenAIModel("m", base_url=url, transport=transport), stats=CallStats(),
                 retry=RetryPolicy(max_attempts=2, initial_delay=0.001))
    async with model:
        with pytest.raises(RetryableError) as info:
            await run_debate("What is 1 + 1?", models=model, rounds=0, agents=1)
    text = str(info.value)  # it never answered: given up after a few tries (models.reach)
    assert text.startswith(f"cannot connect to {url} (connection refused): 2 attempts over ")
    assert text.endswith(f"; is the server running? [openai:m@{url}]")
    assert "ConnectionKey" not in text


async def test_connection_errors_are_redacted(tmp_path, monkeypatch):
    secret = "test-0123456789abcdef"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    url = f"http://127.0.0.1:9/v1?key={secret}"  # a key where it should not be: in the URL
    config = ExperimentConfig(dataset={"path": DATA, "task": "numeric"}, limit=1,
                              models=[f"openai:m@{url}"], output_dir=str(tmp_path), name="run",
                              retry={"max_attempts": 1})
    summary = await arun_experiment(config, progress=False)
    assert "cannot connect to http://127.0.0.1:9/v1?key=[redacted]" in summary.stopped
    assert secret not in summary.stopped
    assert secret not in (tmp_path / "run" / "summary.json").read_text()


def test_the_cli_frees_the_embedded_models_its_run_loaded(monkeypatch, tmp_path):
    import types

    unloaded = []
    embedded = types.ModuleType("debate.models.llamacpp")
    embedded.unload_models = lambda: unloaded.append(True)
    monkeypatch.setitem(sys.modules, "debate.models.llamacpp", embedded)  # as if it was used
    result = CliRunner().invoke(app, [
        "run", "--dataset", DATA, "--model", "scripted:first-number", "--limit", "1",
        "--rounds", "0", "--out", str(tmp_path), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert unloaded == [True]
