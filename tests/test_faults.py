"""Nothing lost under faults, persistent failures and crashes (mock OpenAI-compatible server)."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from debate import ExperimentConfig, arun_experiment
from debate.testing import FaultRates, MockServer
from debate.trace import read_traces

DATA = "experiments/data/arithmetic.jsonl"


def write_questions(path: Path, n: int) -> str:
    import json

    path.write_text("".join(json.dumps({"id": f"q{i:03d}", "question": f"What is {i} + 0?",
                                        "answer": i}) + "\n" for i in range(n)))
    return str(path)


def config(url: str, data: str, out: Path, **kw):
    base = {"protocol": "du", "models": [f"openai:mock@{url}"], "dataset": data,
            "output_dir": str(out), "name": "run", "concurrency": 32, "temperature": None,
            # a timeout no answer of a loaded 2-core machine reaches: a timed-out call
            # that is retried is answered twice and breaks the exact request counts
            "retry": {"initial_delay": 0.01, "max_delay": 0.05, "timeout": 30.0,
                      "max_attempts": 10}}
    return ExperimentConfig(**(base | kw))


async def test_every_debate_completes_under_faults(tmp_path):
    rates = FaultRates(rate_limit=0.10, server_error=0.05, hang=0.02, malformed=0.01,
                       truncated=0.01, dropped=0.01, seed=7)
    data = write_questions(tmp_path / "q.jsonl", 200)
    with MockServer(rates=rates) as server:
        # a timeout well above a loaded machine's answer time: only hangs time out, so
        # every answered call is answered once (a 0.5 s timeout retried slow answers)
        retry = {"initial_delay": 0.01, "max_delay": 0.05, "timeout": 2.0, "max_attempts": 10}
        summary = await arun_experiment(config(server.url, data, tmp_path, retry=retry),
                                        progress=False)
    ids = [t.question.id for t in read_traces(tmp_path / "run" / "traces.jsonl")]
    assert len(ids) == len(set(ids)) == 200  # none lost, none duplicated
    assert summary.stopped is None and summary.failed == {}
    assert summary.accuracy == 1.0  # every answer came through intact
    assert summary.retries > 100 and summary.retries == summary.requests - 200 * 9
    assert {"HTTP 429", "HTTP 500", "timeout", "connection"} <= set(summary.errors)
    assert server.served["ok"] == 200 * 9  # each call answered once: retried faults only


@pytest.mark.parametrize("status", [401, "down"])
async def test_persistent_failure_stops_with_one_message_and_resumes(tmp_path, status):
    data = write_questions(tmp_path / "q.jsonl", 30)
    with MockServer() as server:
        url = server.url
        await arun_experiment(config(url, data, tmp_path, limit=10), progress=False)
    if status == "down":  # nothing listens on that port any more
        summary = await arun_experiment(config(url, data, tmp_path), progress=False)
        # the URL in words, once, not the HTTP library's repr of its connection key; it has
        # not answered in this run, so the run stops after a few tries (debate.models.reach)
        assert summary.stopped.startswith(f"cannot connect to {url} (connection refused): "
                                          "3 attempts over ")
        assert summary.stopped.endswith(f"is the server running? [openai:mock@{url}]")
        assert summary.stopped.count(url) == 2 and "ConnectionKey" not in summary.stopped
    else:
        with MockServer(faults=[401] * 1000) as broken:
            summary = await arun_experiment(config(broken.url, data, tmp_path), progress=False)
        assert summary.stopped.count("HTTP 401") == 1 and broken.url in summary.stopped
    assert summary.debates == 10  # what finished is kept
    with MockServer() as server:
        summary = await arun_experiment(config(server.url, data, tmp_path), progress=False)
    assert summary.stopped is None and summary.debates == 30 and summary.retries == 0
    assert server.served["ok"] == 20 * 9  # only the missing debates


def _cached_calls(run: Path) -> int:
    path = run / "cache.sqlite"
    if not path.exists():
        return 0
    with closing(sqlite3.connect(path)) as db:
        if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'calls'").fetchone():
            return 0  # killed between creating the file and its table
        return int(db.execute("SELECT COUNT(*) FROM calls").fetchone()[0])


@pytest.mark.parametrize("kill_after", [1, 120, 300])
def test_sigkill_then_rerun_completes_everything_exactly_once(tmp_path, kill_after):
    """Killed once the server has answered ``kill_after`` of the run's 360 calls."""
    data = write_questions(tmp_path / "q.jsonl", 40)
    debate_cmd = str(Path(sys.executable).parent / "debate")
    with MockServer(latency=0.05, jitter=0.05) as server:
        cmd = [debate_cmd, "run", "--dataset", data, "--model", f"openai:mock@{server.url}",
               "--out", str(tmp_path), "--name", "run", "--concurrency", "8", "--no-progress"]
        process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            server.wait_for_requests(kill_after)
        finally:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
        server.wait_idle()  # the requests the dead process had sent are answered and counted
        run = tmp_path / "run"
        finished = len(list(read_traces(run / "traces.jsonl")))
        cached = _cached_calls(run)
        before = server.served["ok"]
        assert finished < 40 and cached < 40 * 9  # 8 calls in flight: 40 debates need 360
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        after = server.served["ok"] - before
    traces = list(read_traces(run / "traces.jsonl"))
    ids = [t.question.id for t in traces]
    assert len(ids) == len(set(ids)) == 40
    lines = (run / "traces.jsonl").read_text().splitlines()
    assert len(lines) == 40  # no corrupt or partial line left behind
    assert after == 40 * 9 - cached  # every call that had completed was replayed, not repeated


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_stops_cleanly_and_says_how_to_resume(tmp_path):
    data = write_questions(tmp_path / "q.jsonl", 40)
    debate_cmd = str(Path(sys.executable).parent / "debate")
    with MockServer(latency=0.1) as server:
        cmd = [debate_cmd, "run", "--dataset", data, "--model", f"openai:mock@{server.url}",
               "--out", str(tmp_path), "--name", "run", "--concurrency", "4", "--no-progress"]
        # a shell without job control starts background jobs with SIGINT ignored, and the
        # child would inherit that: give it the default handling a terminal gives it
        process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, preexec_fn=_default_sigint)
        traces = tmp_path / "run" / "traces.jsonl"
        deadline = time.monotonic() + 60
        while not (traces.exists() and traces.stat().st_size) and time.monotonic() < deadline:
            time.sleep(0.05)  # interrupt once some debates have finished, not at a fixed time
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
        assert process.returncode == 130, err
        assert "re-run the same command to resume" in err and "Traceback" not in err
        lines = traces.read_text().splitlines()
        assert 0 < len(lines) < 40 and all(line.endswith("}") for line in lines)
        assert subprocess.run(cmd, capture_output=True, timeout=300).returncode == 0
    assert len(list(read_traces(tmp_path / "run" / "traces.jsonl"))) == 40


def test_a_key_the_server_echoes_in_an_error_is_redacted_everywhere(tmp_path):
    secret = "sk-test-ECHOED-BACK-9876543210"
    data = write_questions(tmp_path / "q.jsonl", 3)
    debate_cmd = str(Path(sys.executable).parent / "debate")
    env = {**os.environ, "OPENAI_API_KEY": secret}
    with MockServer(faults=[401] * 10) as server:  # "invalid API key: Bearer sk-..."
        run = subprocess.run([debate_cmd, "run", "--dataset", data, "--model",
                              f"openai:mock@{server.url}", "--out", str(tmp_path / "runs"),
                              "--name", "run"], capture_output=True, text=True, env=env,
                             timeout=120)
        report = subprocess.run([debate_cmd, "report", str(tmp_path / "runs" / "run")],
                                capture_output=True, text=True, env=env, timeout=120)
    assert server.served["401"] >= 1 and run.returncode == 1
    assert "HTTP 401" in run.stderr and "[redacted]" in run.stderr  # the error is still shown
    assert f"[openai:mock@{server.url}]" in run.stderr  # naming the endpoint
    for output in (run.stdout, run.stderr, report.stdout, report.stderr):
        assert secret not in output
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), f"the key leaked into {path}"


def test_redact_removes_registered_secrets_and_key_shaped_text():
    from debate.errors import redact, register_secret

    register_secret("hunter2-very-secret")
    text = redact('{"error": "bad key hunter2-very-secret", "auth": "Bearer abcdefghijkl", '
                  '"api_key": "zyxwvutsrqpo"} sk-proj-0123456789abcdef')
    assert "hunter2" not in text and "abcdefghijkl" not in text and "zyxwvutsrqpo" not in text
    assert "0123456789abcdef" not in text and text.count("[redacted]") == 4
    plain = "HTTP 500: server error at step 12345678"
    assert redact(plain) == plain


def test_api_key_never_written_anywhere(tmp_path):
    secret = "sk-test-DO-NOT-LEAK-0123456789"
    data = write_questions(tmp_path / "q.jsonl", 3)
    debate_cmd = str(Path(sys.executable).parent / "debate")
    env = {**os.environ, "OPENAI_API_KEY": secret}
    with MockServer() as server:
        run = subprocess.run([debate_cmd, "run", "--dataset", data, "--model",
                              f"openai:mock@{server.url}", "--out", str(tmp_path / "runs"),
                              "--name", "run"], capture_output=True, text=True, env=env,
                             timeout=120)
        assert run.returncode == 0, run.stderr
        exported = subprocess.run([debate_cmd, "export", str(tmp_path / "runs" / "run"),
                                   "--out", str(tmp_path / "export"), "-s", "sft", "-f", "sft"],
                                  capture_output=True, text=True, env=env, timeout=120)
        report = subprocess.run([debate_cmd, "report", str(tmp_path / "runs" / "run")],
                                capture_output=True, text=True, env=env, timeout=120)
    assert server.bodies  # requests were made with the key in the environment
    for output in (run.stdout, run.stderr, exported.stdout, exported.stderr, report.stdout):
        assert secret not in output
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), f"the key leaked into {path}"
