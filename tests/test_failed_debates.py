"""A failing question fails one debate, not the run; only what every call would meet stops it.

A prompt the server answers with a 500 after every retry, or refuses as too long
for the context (a 400), is that question's failure: the debate is recorded with
its error, the others finish, the summary, report and ``results.csv`` give the
accuracy that counts it as wrong, and ``debate run`` exits 1 naming it. A
refused key or account (401, 402, 403), an unknown model (404), an endpoint that
cannot be reached and a pool outage stop the run (:func:`debate.errors.stops_run`).
"""

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from debate import ExperimentConfig, arun_experiment
from debate.cli import app
from debate.errors import (
    FatalTransportError,
    OutageError,
    RetryableError,
    UnreachableError,
    classify_status,
    stops_run,
)
from debate.testing import MockServer

POISON = "What is 7 + 0?"


def questions(path: Path, n: int = 10) -> str:
    path.write_text("".join(json.dumps({"id": f"q{i}", "question": f"What is {i} + 0?",
                                        "answer": i}) + "\n" for i in range(n)))
    return str(path)


def poisoned(status: int):
    """The server's answer to any call that shows question 7: always ``status``."""
    return lambda messages: status if POISON in json.dumps(messages) else None


def config(url: str, data: str, out: Path) -> ExperimentConfig:
    return ExperimentConfig(
        protocol="du", models=[f"openai:mock@{url}"], dataset=data, output_dir=str(out),
        name="run", concurrency=4, temperature=None,
        retry={"initial_delay": 0.0, "max_delay": 0.0, "max_attempts": 3, "timeout": 60.0})


@pytest.mark.parametrize("status", [500, 400])
async def test_a_question_the_server_always_fails_fails_alone(tmp_path, status):
    data = questions(tmp_path / "q.jsonl")
    with MockServer(prompt_faults=poisoned(status)) as server:
        summary = await arun_experiment(config(server.url, data, tmp_path), progress=False)
    assert summary.stopped is None  # before: the whole run stopped, 1-4 of 10 finished
    assert summary.debates == 9 and list(summary.failed) == ["q7"]
    assert f"HTTP {status}" in summary.failed["q7"]
    assert summary.accuracy == 1.0 and summary.failed_scored == 1
    assert summary.accuracy_bound == pytest.approx(9 / 10)
    stored = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert stored["accuracy_bound"] == pytest.approx(0.9) and stored["failed_scored"] == 1

    with (tmp_path / "run" / "results.csv").open() as file:
        rows = {row["id"]: row for row in csv.DictReader(file)}
    assert len(rows) == 10
    assert rows["q7"]["status"] == "failed" and rows["q7"]["correct"] == "false"
    assert rows["q7"]["final_answer"] == "" and f"HTTP {status}" in rows["q7"]["error"]
    assert all(rows[f"q{i}"]["status"] == "finished" and rows[f"q{i}"]["error"] == ""
               for i in range(10) if i != 7)
    # the mean of ``correct`` is the bound, over finished rows the accuracy
    assert sum(r["correct"] == "true" for r in rows.values()) / len(rows) == 0.9
    report = (tmp_path / "run" / "report.md").read_text()
    assert "counting failed as wrong" in report and "90.0% (9/10" in report

    with MockServer() as server:  # the next run retries it, and only it
        summary = await arun_experiment(config(server.url, data, tmp_path), progress=False)
    assert summary.failed == {} and summary.debates == 10
    assert summary.accuracy_bound == summary.accuracy == 1.0
    assert server.served["ok"] == 3 * 3  # du: 3 agents x 3 rounds, for q7 alone


def test_cli_exits_non_zero_naming_the_failed_debate(tmp_path):
    data = questions(tmp_path / "q.jsonl", 4)
    with MockServer(prompt_faults=lambda m: 500 if "What is 2 + 0?" in json.dumps(m)
                    else None) as server:
        spec = tmp_path / "spec.yaml"
        spec.write_text(f"protocol: du\nmodels: ['openai:mock@{server.url}']\n"
                        f"dataset: {data}\noutput_dir: {tmp_path}\nname: cli\n"
                        "retry: {initial_delay: 0, max_delay: 0, max_attempts: 2}\n")
        result = CliRunner().invoke(app, ["run", str(spec), "--no-progress"])
    assert result.exit_code == 1, result.output
    assert "failed q2" in result.output and "1 debate(s) did not finish" in result.output
    assert "counting failed as wrong" in result.output
    assert "run stopped" not in result.output


@pytest.mark.parametrize(("error", "stops"), [
    (classify_status(401, "invalid key", endpoint="e"), True),
    (classify_status(402, "payment required", endpoint="e"), True),
    (classify_status(403, "forbidden", endpoint="e"), True),
    (classify_status(404, "model not found", endpoint="e"), True),
    (FatalTransportError("refused: only local servers", endpoint="e"), True),
    (UnreachableError("cannot connect", endpoint="e"), True),
    (classify_status(400, "maximum context length exceeded", endpoint="e"), False),
    (classify_status(413, "too large", endpoint="e"), False),
    (classify_status(422, "unprocessable", endpoint="e"), False),
    (classify_status(500, "server error", endpoint="e"), False),
    (classify_status(429, "slow down", endpoint="e"), False),
    (RetryableError("no reply within 120s", endpoint="e"), False),
])
def test_which_failures_stop_the_run(error, stops):
    assert stops_run(error) is stops


def test_retries_giving_up_keep_what_the_failure_was():
    """Retrying raises its own error ``from`` the last one: the cause decides."""
    for last, stops in ((UnreachableError("cannot connect", endpoint="e"), True),
                        (OutageError("every endpoint out for 300s", endpoint="e"), True),
                        (classify_status(500, "boom", endpoint="e"), False)):
        try:
            try:
                raise last
            except RetryableError as exc:
                raise RetryableError("gave up after 6 attempts", endpoint="e") from exc
        except RetryableError as gave_up:
            assert stops_run(gave_up) is stops


async def test_an_endpoint_down_for_every_call_stops_the_run_after_a_streak(tmp_path):
    """A 503 to every call: no call answered while debates fail in a row (shard.Outage)."""
    data = questions(tmp_path / "q.jsonl", 12)  # concurrency 2: the least, 10, stops it
    with MockServer(prompt_faults=lambda messages: 503) as server:
        cfg = config(server.url, data, tmp_path).model_copy(update={"concurrency": 2})
        summary = await arun_experiment(cfg, progress=False)
    assert summary.stopped.startswith("10 debates in a row failed after every retry and no "
                                      "call was answered meanwhile: the endpoint is down")
    assert "HTTP 503" in summary.stopped
    assert 10 <= len(summary.failed) <= 11 and summary.debates == 0  # not all 12 tried


async def test_calls_answered_elsewhere_keep_a_run_of_failures_going(tmp_path):
    """Seven poisoned questions in a row, beside healthy ones: each fails alone."""
    data = questions(tmp_path / "q.jsonl", 12)
    poisoned = {f"What is {i} + 0?" for i in range(2, 9)}
    with MockServer(prompt_faults=lambda m: 500 if any(p in json.dumps(m) for p in poisoned)
                    else None) as server:
        summary = await arun_experiment(config(server.url, data, tmp_path), progress=False)
    assert summary.stopped is None and summary.debates == 5 and len(summary.failed) == 7


async def test_debates_that_failed_last_time_are_retried_last(tmp_path):
    data = questions(tmp_path / "q.jsonl", 4)
    with MockServer(prompt_faults=lambda m: 500 if "What is 0 + 0?" in json.dumps(m)
                    else None) as server:
        cfg = config(server.url, data, tmp_path)
        first = await arun_experiment(cfg.model_copy(update={"limit": 1}), progress=False)
    assert list(first.failed) == ["q0"]
    asked: list[str] = []

    def policy(messages):
        asked.append(next(m["content"] for m in messages if m["role"] == "user"))
        return "\\boxed{0}"

    with MockServer(policy=policy) as server:
        cfg = config(server.url, data, tmp_path).model_copy(update={"concurrency": 1})
        await arun_experiment(cfg, progress=False)
    order = list(dict.fromkeys(next(n for n in "0123" if f"What is {n} + 0?" in text)
                               for text in asked))
    assert order == ["1", "2", "3", "0"]  # q0 failed last time: the others are not behind it


async def test_debates_failing_again_on_a_resume_say_nothing_of_the_endpoint(tmp_path):
    """Twelve poisoned questions: the first run fails them (two healthy ones between keep
    calls answered); the resume retries only them, in a row, their rounds cached: they fail
    one by one, and the run does not stop as if the endpoint were down."""
    data = questions(tmp_path / "q.jsonl", 14)
    poisoned = {f"What is {i} + 0?" for i in range(14) if i not in (6, 13)}

    def faults(messages):
        return 500 if any(p in json.dumps(messages) for p in poisoned) else None

    for _ in range(2):
        with MockServer(prompt_faults=faults) as server:
            cfg = config(server.url, data, tmp_path).model_copy(update={"concurrency": 1})
            summary = await arun_experiment(cfg, progress=False)
        assert summary.stopped is None and len(summary.failed) == 12
