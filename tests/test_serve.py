"""``debate serve``: a debate configuration answers where a model would, for any OpenAI client.

Servers run on 127.0.0.1 (a free port) on a background thread; clients are the
OpenAI Python SDK (sync and async) on ``scripted:`` models.
"""

import asyncio
import json
import threading
from collections.abc import Sequence
from pathlib import Path

import httpx
import openai
import pytest
from typer.testing import CliRunner

from debate.cli.main import app
from debate.errors import ConfigError
from debate.models.types import Message, SamplingParams
from debate.serve import DebateServer, services_for
from debate.testing import register_script
from debate.testing.scripted import first_number_reply
from debate.trace import read_traces

QUESTION = [{"role": "user", "content": "What is 40 + 2? Think: 42"}]


def du_spec(tmp_path: Path, models: str = "scripted:first-number", **extra: object) -> Path:
    """A 2-agent, 1-round du spec on ``models``, asked as numeric questions."""
    lines = ["name: du-test", "protocol: du", f'models: ["{models}"]', "agents: 2",
             "rounds: 1", "dataset: {path: unused.jsonl, task: numeric}",
             *(f"{k}: {v}" for k, v in extra.items())]
    path = tmp_path / "du.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def serve(tmp_path: Path, spec: Path | None = None, **options: object) -> DebateServer:
    services = services_for([spec or du_spec(tmp_path)], out=tmp_path / "runs",
                            queue=options.pop("queue", None))  # type: ignore[arg-type]
    return DebateServer(services, port=0, **options)  # type: ignore[arg-type]


_CLIENTS: list[openai.OpenAI] = []


@pytest.fixture(autouse=True)
def _close_clients():
    yield
    while _CLIENTS:
        _CLIENTS.pop().close()


def client(server: DebateServer, key: str = "unused") -> openai.OpenAI:
    """An OpenAI SDK client of ``server`` (closed after the test)."""
    sdk = openai.OpenAI(base_url=server.url, api_key=key, max_retries=0)
    _CLIENTS.append(sdk)
    return sdk


def counting(calls: list[str]) -> None:
    """Register ``scripted:counted``: first-number replies, each call recorded."""
    def reply(messages: Sequence[Message], params: SamplingParams) -> str:
        calls.append(messages[-1].content)
        return first_number_reply(next(m.content for m in messages if m.role == "user"))
    register_script("counted", reply)


def test_a_chat_completion_is_a_debate_whose_final_answer_comes_first(tmp_path):
    """Before: no server. Now: the reply is the boxed final answer, then its reasoning."""
    with serve(tmp_path) as server:
        reply = client(server).chat.completions.create(model="du-test", messages=QUESTION)
    content = reply.choices[0].message.content
    assert content.startswith("\\boxed{40}\n\nThe answer is \\boxed{40}")
    debate = reply.model_extra["debate"]
    assert debate["calls"] == debate["max_calls"] == 4 and debate["stop_reason"]
    assert debate["rounds"] == [{"agent-0": "40", "agent-1": "40"}] * 2
    assert reply.usage.prompt_tokens == debate["prompt_tokens"] > 0
    assert reply.usage.total_tokens == debate["prompt_tokens"] + debate["completion_tokens"]
    (trace,) = read_traces(tmp_path / "runs" / "du-test" / "traces.jsonl")
    assert trace.id == debate["trace_id"] and trace.question.text == QUESTION[0]["content"]


def test_with_no_final_answer_the_reply_says_so_and_boxes_nothing(tmp_path):
    """Before: the debate's last reply, whose ``\\boxed{}`` a harness read as the answer.

    Now: a sentence naming the stop reason and why no answer was reached.
    """
    register_script("no-number", lambda messages, params: "Surely \\boxed{many}, or none.")
    spec = du_spec(tmp_path, models="scripted:no-number")
    with serve(tmp_path, spec) as server:
        reply = client(server).chat.completions.create(model="du-test", messages=QUESTION)
    content = reply.choices[0].message.content
    assert "boxed" not in content and "many" not in content
    assert content == ("The debate reached no final answer (stop reason: max_rounds; "
                       "no parseable answer).")
    assert reply.model_extra["debate"]["final_answer"] is None


def test_under_a_vote_the_reasoning_is_an_answer_not_a_ballot(tmp_path):
    """A ballot's answer is a solution number: the reasoning is the voted answer's reply."""
    replies = {"agent-0": ["Reasoning A. \\boxed{40}", "1"],
               "agent-1": ["Reasoning B. \\boxed{41}", "1"]}

    def reply(messages: Sequence[Message], params: SamplingParams) -> str:
        return replies[params.sampler].pop(0)
    register_script("voters", reply)
    spec = du_spec(tmp_path, models="scripted:voters", rounds=0,
                   protocol_options="{decision: simple-voting}")
    spec.write_text(spec.read_text().replace("rounds: 1\n", ""))
    with serve(tmp_path, spec) as server:
        reply_ = client(server).chat.completions.create(model="du-test", messages=QUESTION)
    assert reply_.choices[0].message.content == "\\boxed{41}\n\nReasoning B. \\boxed{41}"


def test_models_lists_each_spec_by_name_and_a_preset_by_its_stem(tmp_path):
    """Before: nothing. Now: GET /v1/models lists an experiment by name, a preset by stem."""
    services = services_for([du_spec(tmp_path), "protocols/du-gsm.yaml"],
                            models=["scripted:first-number"], out=tmp_path / "runs")
    with DebateServer(services, port=0) as server:
        ids = [m.id for m in client(server).models.list()]
    assert ids == ["du-test", "du-gsm"]


def test_a_preset_card_without_models_is_refused_naming_the_file(tmp_path):
    """Before: nothing. Now: a preset card served without --model says to give one."""
    with pytest.raises(ConfigError, match=r"du-gsm.yaml: a preset card names no models"):
        services_for(["protocols/du-gsm.yaml"], out=tmp_path)


def test_the_system_message_is_every_agents_system_prompt(tmp_path):
    """Before: nothing. Now: each call of the debate starts with the request's system text."""
    calls: list[list[Message]] = []

    def reply(messages: Sequence[Message], params: SamplingParams) -> str:
        calls.append(list(messages))
        return "\\boxed{1}"
    register_script("seen", reply)
    with serve(tmp_path, du_spec(tmp_path, "scripted:seen")) as server:
        client(server).chat.completions.create(
            model="du-test", messages=[{"role": "system", "content": "Be terse."}, *QUESTION])
    assert len(calls) == 4
    assert all(c[0].role == "system" and c[0].content == "Be terse." for c in calls)


def test_an_identical_request_is_replayed_from_the_cache_at_no_cost(tmp_path):
    """Before: nothing. Now: the second identical request makes 0 calls; a new seed pays."""
    calls: list[str] = []
    counting(calls)
    spec = du_spec(tmp_path, "scripted:counted")
    with serve(tmp_path, spec) as server:
        sdk = client(server)
        first = sdk.chat.completions.create(model="du-test", messages=QUESTION)
        second = sdk.chat.completions.create(model="du-test", messages=QUESTION)
        assert len(calls) == 4
        sdk.chat.completions.create(model="du-test", messages=QUESTION, seed=7)
        assert len(calls) == 8
    assert second.choices[0].message.content == first.choices[0].message.content
    assert second.model_extra["debate"]["cached_calls"] == 4
    with serve(tmp_path, spec) as server:  # a restarted server, the same folder
        again = client(server).chat.completions.create(model="du-test", messages=QUESTION)
    assert len(calls) == 8 and again.choices[0].message.content == first.choices[0].message.content
    traces = list(read_traces(tmp_path / "runs" / "du-test" / "traces.jsonl"))
    assert len(traces) == 2  # one per distinct debate, however often it was asked


def test_a_streamed_reply_carries_the_same_content_as_sse_chunks(tmp_path):
    """Before: nothing. Now: stream=true gives the same content, usage last, then [DONE]."""
    with serve(tmp_path) as server:
        sdk = client(server)
        whole = sdk.chat.completions.create(model="du-test", messages=QUESTION)
        chunks = list(sdk.chat.completions.create(model="du-test", messages=QUESTION,
                                                  stream=True,
                                                  stream_options={"include_usage": True}))
        raw = httpx.post(f"{server.url}/chat/completions",
                         json={"model": "du-test", "messages": QUESTION, "stream": True})
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    assert chunks[-1].usage.total_tokens == whole.usage.total_tokens
    lines = [line for line in raw.text.splitlines() if line]
    assert lines[0].startswith(": progress") and lines[-1] == "data: [DONE]"


def test_the_async_sdk_runs_many_debates_at_once(tmp_path):
    """Before: nothing. Now: concurrent async requests each get their own debate's answer."""
    async def ask_all(url: str) -> list[str]:
        async with openai.AsyncOpenAI(base_url=url, api_key="x", max_retries=0) as sdk:
            replies = await asyncio.gather(*(
                sdk.chat.completions.create(model="du-test", messages=[
                    {"role": "user", "content": f"What is {n}?"}]) for n in range(12)))
        return [r.choices[0].message.content.split("\n")[0] for r in replies]

    with serve(tmp_path) as server:
        answers = asyncio.run(ask_all(server.url))
    assert answers == [f"\\boxed{{{n}}}" for n in range(12)]


class Hold:
    """``scripted:held``: each call waits for ``release`` (set on the server's loop)."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.cancelled = threading.Event()
        self.release = asyncio.Event()
        register_script("held", self.reply)

    async def reply(self, messages: Sequence[Message], params: SamplingParams) -> str:
        self.started.set()
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        return "\\boxed{5}"

    def let_go(self, server: DebateServer) -> None:
        assert server.loop is not None
        server.loop.call_soon_threadsafe(self.release.set)


def test_requests_beyond_the_queue_bound_get_429_with_retry_after(tmp_path):
    """Before: nothing. Now: with --queue 1 a second request while one runs gets 429."""
    hold = Hold()
    with serve(tmp_path, du_spec(tmp_path, "scripted:held"), queue=1) as server:
        results: list[str] = []
        first = threading.Thread(target=lambda: results.append(client(server).chat.completions
                                 .create(model="du-test", messages=QUESTION)
                                 .choices[0].message.content))
        first.start()
        assert hold.started.wait(30)
        with pytest.raises(openai.RateLimitError) as caught:
            client(server).chat.completions.create(model="du-test", messages=QUESTION)
        hold.let_go(server)
        first.join(30)
    assert caught.value.response.headers["Retry-After"] == "1"
    assert caught.value.body["code"] == "rate_limit_exceeded"
    assert results and results[0].startswith("\\boxed{5}")


def test_a_client_that_disconnects_cancels_its_debates_pending_calls(tmp_path):
    """Before: nothing. Now: closing the connection mid-debate cancels the held model call."""
    hold = Hold()
    with serve(tmp_path, du_spec(tmp_path, "scripted:held")) as server:
        def ask() -> None:
            with pytest.raises(httpx.HTTPError):
                httpx.post(f"{server.url}/chat/completions",
                           json={"model": "du-test", "messages": QUESTION}, timeout=0.5)
        ask_thread = threading.Thread(target=ask)
        ask_thread.start()
        assert hold.started.wait(30)
        ask_thread.join(30)
        assert hold.cancelled.wait(30)
    assert not (tmp_path / "runs" / "du-test" / "traces.jsonl").read_text()


def test_with_an_api_key_a_request_without_it_gets_an_openai_shaped_401(tmp_path):
    """Before: nothing. Now: no or a wrong bearer key is a 401; the right one is served."""
    with serve(tmp_path, api_key="s3cret") as server:
        with pytest.raises(openai.AuthenticationError) as caught:
            client(server, "wrong").models.list()
        assert [m.id for m in client(server, "s3cret").models.list()] == ["du-test"]
        bare = httpx.get(f"{server.url}/models")
    assert caught.value.body["code"] == "invalid_api_key"
    assert bare.status_code == 401 and set(bare.json()["error"]) == {
        "message", "type", "param", "code"}


def test_a_non_loopback_host_without_an_api_key_is_refused(tmp_path):
    """Before: nothing. Now: --host 0.0.0.0 without --api-key exits 2 saying why."""
    result = CliRunner().invoke(app, ["serve", str(du_spec(tmp_path)), "--host", "0.0.0.0",
                                      "--out", str(tmp_path / "runs")])
    assert result.exit_code == 2
    assert "--host 0.0.0.0: serving beyond this machine needs --api-key" in result.output
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(("body", "status", "param", "says"), [
    ({"model": "nope", "messages": QUESTION}, 404, "model", "not served here"),
    ({"model": "du-test", "messages": [{"role": "system", "content": "x"}]}, 400,
     "messages", "no user message"),
    ({"model": "du-test", "messages": "hi"}, 400, "messages", "non-empty list"),
    ({"model": "du-test", "messages": QUESTION, "seed": "1"}, 400, "seed", "whole number"),
    ({"model": "du-test", "messages": QUESTION, "stream": "yes"}, 400, "stream", "true or"),
    ({"messages": QUESTION}, 400, "model", "a model id"),
])
def test_bad_requests_get_openai_shaped_4xx_errors_naming_the_field(tmp_path, body, status,
                                                                    param, says):
    """Before: nothing. Now: each bad request is {"error": {...}} naming its param."""
    with serve(tmp_path) as server:
        response = httpx.post(f"{server.url}/chat/completions", json=body)
        not_json = httpx.post(f"{server.url}/chat/completions", content=b"{oops",
                              headers={"Content-Type": "application/json"})
    assert response.status_code == status
    error = response.json()["error"]
    assert error["param"] == param and says in error["message"]
    assert not_json.status_code == 400 and "not JSON" in not_json.json()["error"]["message"]


def test_a_keyless_server_answers_no_web_page_and_no_foreign_host(tmp_path):
    """Found in review: a page in a browser here could POST text/plain (no CORS preflight)
    and spend a keyless server's models, or reach it by a rebound DNS name. Now a keyless
    server wants application/json and a loopback Host; with a key, the key decides."""
    body = json.dumps({"model": "du-test", "messages": QUESTION}).encode()
    with serve(tmp_path) as server:
        plain = httpx.post(f"{server.url}/chat/completions", content=body,
                           headers={"Content-Type": "text/plain"})
        foreign = httpx.get(f"{server.url}/models", headers={"Host": "evil.example"})
    assert plain.status_code == 415 and "send application/json" in plain.json()["error"]["message"]
    assert foreign.status_code == 403 and "not this machine" in foreign.json()["error"]["message"]
    assert not list(read_traces(tmp_path / "runs" / "du-test" / "traces.jsonl"))  # none paid
    with serve(tmp_path, api_key="k3y") as server:
        keyed = httpx.get(f"{server.url}/models", headers={"Host": "evil.example",
                                                           "Authorization": "Bearer k3y"})
    assert keyed.status_code == 200


def test_an_unknown_path_is_an_openai_shaped_404(tmp_path):
    """Before: nothing. Now: a path the server lacks says which ones it answers."""
    with serve(tmp_path) as server:
        response = httpx.post(f"{server.url}/completions", json={})
    assert response.status_code == 404
    assert "POST /v1/chat/completions" in response.json()["error"]["message"]


def test_two_specs_with_one_model_id_are_refused(tmp_path):
    """Before: nothing. Now: a model id served twice names both files."""
    spec = du_spec(tmp_path)
    with pytest.raises(ConfigError, match="model id 'du-test' is already served"):
        services_for([spec, spec], out=tmp_path)


def test_inspect_eval_scores_a_served_debate(tmp_path):
    """Before: nothing. Now: inspect_ai evaluates openai/<id> through --model-base-url."""
    pytest.importorskip("inspect_ai", reason="inspect_ai is not installed")
    import subprocess
    import sys

    task = tmp_path / "arith.py"
    task.write_text(
        "from inspect_ai import Task, task\n"
        "from inspect_ai.dataset import Sample\n"
        "from inspect_ai.scorer import includes\n"
        "from inspect_ai.solver import generate\n\n"
        "@task\n"
        "def arith():\n"
        "    return Task(dataset=[Sample(input='What is 6? 6', target='6')],\n"
        "                solver=generate(), scorer=includes())\n")
    with serve(tmp_path) as server:
        result = subprocess.run(
            [sys.executable, "-m", "inspect_ai", "eval", task.name, "--model",
             "openai/du-test", "--model-base-url", server.url, "-M", "responses_api=false",
             "--log-dir",
             str(tmp_path / "logs"), "--display", "none"],
            capture_output=True, text=True, timeout=300, cwd=tmp_path,  # a relative task path
            env={**__import__("os").environ, "OPENAI_API_KEY": "unused"})
    assert result.returncode == 0, result.stderr
    from inspect_ai.log import read_eval_log

    (log_file,) = (tmp_path / "logs").glob("*.eval")
    log = read_eval_log(str(log_file))
    assert log.status == "success" and log.results is not None, log.error
    assert log.results.scores[0].metrics["accuracy"].value == 1.0  # "\\boxed{6}" includes 6
    (trace,) = read_traces(tmp_path / "runs" / "du-test" / "traces.jsonl")  # one debate, kept
    assert trace.final.answer == "6" and trace.totals.calls == 4


def test_served_debates_live_apart_from_debate_run_and_a_spec_without_cache_is_refused(
        tmp_path):
    """Found in review: serving a spec wrote into the folder `debate run` of that spec fills
    (mixing served requests into the experiment), and with `cache: false` identical
    requests ran anew under one trace id. Served folders are runs/serve/<id>; no cache is
    refused, naming the spec."""
    from debate.serve import load_served

    spec = du_spec(tmp_path)
    assert Path(load_served(spec).config.output_dir) == Path("runs/serve")
    spec.write_text(spec.read_text() + "cache: false\n")
    with pytest.raises(ConfigError, match="cache: false: debate serve keeps each debate"):
        load_served(spec)


def test_requests_the_sdk_sends_are_read_as_openai_reads_them():
    """Found in review: n: null, a negative seed and an assistant tool-call turn (content
    null) were refused; tools and response_format were ignored in silence. Now the former
    are read as OpenAI reads them, and the latter refused by name."""
    from debate.serve.shapes import ApiError, parse_chat_request

    turns = [{"role": "user", "content": "What is 2 + 2?"},
             {"role": "assistant", "content": None},
             {"role": "user", "content": "And 3 + 3?"}]
    request = parse_chat_request({"model": "m", "messages": turns, "n": None, "seed": -3})
    assert (request.question, request.seed) == ("And 3 + 3?", -3)
    for key, value in (("tools", [{"type": "function"}]), ("response_format", {"type": "x"}),
                       ("n", True)):
        with pytest.raises(ApiError) as caught:
            parse_chat_request({"model": "m", "messages": turns[:1], key: value})
        assert caught.value.status == 400 and caught.value.body()["error"]["param"] == key
