"""The mock server's command line says what it replies and takes a reply template."""

import json
import urllib.request

import pytest

from debate.testing.mock_replies import DEFAULT_REPLY, REPLY_FIELDS, template_policy
from debate.testing.mock_server import first_number_policy
from debate.testing.mock_server_cli import from_command_line, parser

MESSAGES = [{"role": "system", "content": "Answer 7 times."},
            {"role": "user", "content": "What is 12 + 30?"},
            {"role": "assistant", "content": "42"},
            {"role": "user", "content": "Others said 41 and 43. Update?"}]


def reply_of(url: str, messages: list[dict[str, str]]) -> str:
    """The text the server at ``url`` replies to a chat request with ``messages``."""
    body = json.dumps({"model": "m", "messages": messages}).encode()
    request = urllib.request.Request(f"{url}/chat/completions", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())["choices"][0]["message"]["content"]


def test_help_says_how_the_reply_is_made_and_lists_every_placeholder():
    """Before, --help said nothing of the replies; now it says how they are made, and each
    placeholder with its meaning."""
    text = " ".join(parser().format_help().split())
    assert "The answer is \\boxed{N}." in text and "first number of the first user" in text
    assert "--reply TEMPLATE" in text
    for name, what in REPLY_FIELDS.items():
        assert f"{{{name}}}: {' '.join(what.split())}" in text


def test_a_reply_template_fills_its_placeholders_from_each_request():
    """``--reply`` replaces the fixed boxed reply with a template filled per request."""
    server = from_command_line(
        ["--port", "0", "--reply",
         "first {first_number}, last {last_number}, {user_messages} asked: {last_user} {{ok}}"])
    with server:
        text = reply_of(server.url, MESSAGES)
    assert text == "first 12, last 43, 2 asked: Others said 41 and 43. Update? {ok}"


def test_without_a_template_the_reply_is_the_boxed_first_number_as_before():
    """The default template answers what the server always answered."""
    server = from_command_line(["--port", "0"])
    with server:
        assert reply_of(server.url, MESSAGES) == "The answer is \\boxed{12}."
    no_number = [{"role": "user", "content": "Why?"}]
    assert template_policy(DEFAULT_REPLY)(no_number) == first_number_policy(no_number)
    assert template_policy()(MESSAGES) == first_number_policy(MESSAGES)


@pytest.mark.parametrize(("template", "said"), [
    ("The answer is {answer}.", "unknown placeholder {answer};"),
    ("{} and {0}", "unknown placeholders {}, {0};"),
    ("{first_number.real}", "unknown placeholder {first_number.real};"),
    ("\\boxed{first_number", "expected '}' before end of string"),
    ("{first_number:d}", "Unknown format code 'd'"),
])
def test_a_template_that_cannot_fill_is_refused_at_start_listing_the_placeholders(
        template, said, capsys):
    """A bad template stops the server before it listens, naming the fault and what is known."""
    with pytest.raises(SystemExit) as stop:
        from_command_line(["--reply", template])
    assert stop.value.code == 2
    error = capsys.readouterr().err
    assert f"--reply {template!r}: " in error and said in error
    assert "{first_number}, {last_number}, {last_user}, {user_messages}" in error


def test_a_started_server_starts_once_and_a_taken_port_is_an_error():
    """Found in review: ``with server.start():`` started it twice, and the second start died
    in its thread unseen; a second start does nothing, and a taken port raises at start."""
    from debate.testing import MockServer

    with MockServer() as server:
        assert server.start() is server  # already serving: nothing happens
        taken = MockServer(port=server.port)
        with pytest.raises(RuntimeError, match="cannot serve on"):
            taken.start()
