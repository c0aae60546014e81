"""No key, however short, and no URL password reaches a file or the screen."""

import base64
import json
import re
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from debate.cli import app
from debate.errors import RetryableError, hide_password, redact, register_secret
from debate.models import parse_model_spec
from debate.testing import MockServer


def test_a_short_key_is_redacted_as_a_whole_token_only():
    register_secret("kq7Zx9w")  # 7 characters: once ignored, and leaked
    register_secret("k3y")
    text = redact('invalid API key: Bearer kq7Zx9w; {"api_key": "k3y"}, key=k3y.')
    assert "kq7Zx9w" not in text and "k3y" not in text and text.count("[redacted]") == 3
    # inside a longer word or number it is not the key: ordinary text keeps its meaning
    plain = "k3yboard kq7Zx9wz 2k3y HTTP 500"
    assert redact(plain) == plain


def test_a_long_key_is_redacted_wherever_it_occurs():
    register_secret("hunter2-very-secret")
    assert redact("xhunter2-very-secretx") == "x[redacted]x"


def test_a_password_in_a_url_is_shown_as_stars():
    assert hide_password("http://user:pass@host:8000/v1") == "http://user:***@host:8000/v1"
    assert hide_password("https://u:p@ss@h/v1 and http://h:8000/v1") == (
        "https://u:***@h/v1 and http://h:8000/v1")  # an unescaped '@' in it too
    assert redact("cannot connect to http://me:s3cr3t@10.0.0.1/v1") == (
        "cannot connect to http://me:***@10.0.0.1/v1")
    error = RetryableError("down", endpoint="openai:m@http://me:s3cr3t@h/v1")
    assert "s3cr3t" not in str(error) and "http://me:***@h/v1" in str(error)


def test_a_spec_with_a_password_parses_and_never_shows_it():
    spec = parse_model_spec("openai:m@http://me:s3cr3t@127.0.0.1:8000/v1")
    assert (spec.model, spec.base_url) == ("m", "http://me:s3cr3t@127.0.0.1:8000/v1")
    assert str(spec) == "openai:m@http://me:***@127.0.0.1:8000/v1"
    assert "s3cr3t" not in redact("the server said: s3cr3t")  # registered when parsed


def _closed_port() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


KEY_7, KEY_3, PASSWORD = "kq7Zx9w", "k3y", "pw9Q"


@pytest.mark.parametrize(("key", "userinfo", "server"), [
    (KEY_7, "", "echoes"),  # a 401 whose message quotes the Authorization header
    (KEY_3, "", "echoes"),
    (KEY_7, f"me:{PASSWORD}@", "echoes"),  # the password goes as basic auth, and is echoed
    (KEY_3, f"me:{PASSWORD}@", "closed"),  # nothing listens: the URL is in the message
])
def test_no_secret_reaches_a_file_or_the_output_of_a_run_that_fails_on_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key, userinfo, server):
    monkeypatch.setenv("OPENAI_API_KEY", key)
    data = tmp_path / "q.jsonl"
    data.write_text(json.dumps({"id": "q", "question": "What is 1 + 1?", "answer": 2}) + "\n")
    runs = tmp_path / "runs"
    runner = CliRunner()
    with MockServer(faults=[401] * 10) as mock, _closed_port() as closed:
        base = mock.url if server == "echoes" else f"http://127.0.0.1:{closed.getsockname()[1]}/v1"
        url = base.replace("http://", f"http://{userinfo}")
        result = runner.invoke(app, ["run", "--dataset", str(data), "--model",
                                     f"openai:mock@{url}", "--out", str(runs), "--name", "run",
                                     "--no-progress"])
        assert server == "closed" or mock.served["401"] >= 1  # it was sent, and echoed
    assert result.exit_code == 1, result.output
    shown = url.replace(f":{PASSWORD}@", ":***@")
    assert f"[openai:mock@{shown}]" in " ".join(result.stderr.split())  # named, without it
    outputs = [result.output]
    for command in (["report", str(runs / "run")], ["view", str(runs / "run")],
                    ["report", str(runs / "run"), "--json"]):
        shown_run = runner.invoke(app, command)
        assert shown_run.exit_code == 0, shown_run.output
        outputs.append(shown_run.output)
    basic = base64.b64encode(f"me:{PASSWORD}".encode()).decode()  # as a server echoes it
    secrets = [key, PASSWORD, basic] if userinfo else [key]
    written = [p for p in runs.rglob("*") if p.is_file()]
    assert {"summary.json", "report.md", "config.json", "view.html"} <= {p.name for p in written}
    for secret in secrets:
        pattern = rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])"  # as redacted
        for output in outputs:
            assert not _found(pattern, output), f"{secret!r} printed"
        for path in written:
            assert not _found(pattern, path.read_bytes().decode("utf-8", "replace")), (
                f"{secret!r} leaked into {path.name}")


def _found(pattern: str, text: str) -> bool:
    return re.search(pattern, text) is not None


@pytest.mark.parametrize("password", ["pa/ss", "p#w", "p?w", "p@ss"])
def test_a_password_with_characters_that_should_be_escaped_is_never_shown(tmp_path, password):
    data = tmp_path / "d.jsonl"
    data.write_text('{"question": "1+1?", "answer": 2}\n')
    url = f"http://me:{password}@127.0.0.1:9/v1"
    assert password not in hide_password(url) and "me:***@" in hide_password(url)
    result = CliRunner().invoke(app, ["run", "--dataset", str(data), "--model", f"openai:m@{url}",
                                      "--agents", "1", "--rounds", "0", "--no-progress",
                                      "--out", str(tmp_path / "runs")])
    assert result.exit_code != 0 and password not in result.output, result.output
    for file in (tmp_path / "runs").rglob("*") if (tmp_path / "runs").exists() else ():
        if file.is_file():
            assert password.encode() not in file.read_bytes(), file
