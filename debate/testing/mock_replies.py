r"""What the mock server replies: a template filled from each request's messages.

``python -m debate.testing.mock_server --reply TEMPLATE`` answers every chat
(and Anthropic messages) request with ``TEMPLATE``, its ``{placeholders}``
filled from the request's messages (:data:`REPLY_FIELDS` says what each one
is; ``{{`` and ``}}`` are literal braces). The default,
:data:`DEFAULT_REPLY`, is what the server always answered:
``The answer is \boxed{N}.``, N the first number of the first user message. A
template naming an unknown placeholder is refused when the server starts, naming
it and listing the known ones.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from typing import Any

__all__ = ["DEFAULT_REPLY", "REPLY_FIELDS", "check_reply", "reply_fields", "template_policy"]

DEFAULT_REPLY = r"The answer is \boxed{{{first_number}}}."
"""The server's reply unless ``--reply`` says otherwise (as ``first_number_policy`` replies)."""

REPLY_FIELDS: dict[str, str] = {
    "first_number": "the first number in the first user message (0 if it has none)",
    "last_number": "the last number in the last user message (0 if it has none)",
    "last_user": "the last user message, verbatim",
    "user_messages": "how many user messages the request holds (1 in a debate's first round)",
}
"""Each placeholder a reply template may name, with what it is filled with."""

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")  # as debate.testing.scripted.first_number_reply reads


def _users(messages: list[dict[str, Any]]) -> list[str]:
    return [str(m.get("content", "")) for m in messages if m.get("role") == "user"]


def reply_fields(messages: list[dict[str, Any]]) -> dict[str, str]:
    """The value of each of :data:`REPLY_FIELDS` for a request's messages."""
    users = _users(messages)
    first = _NUMBER.findall(users[0]) if users else []
    last = _NUMBER.findall(users[-1]) if users else []
    return {"first_number": first[0] if first else "0", "last_number": last[-1] if last else "0",
            "last_user": users[-1] if users else "", "user_messages": str(len(users))}


def check_reply(template: str) -> str:
    """``template`` if it names only known placeholders and fills, else a ``ValueError`` saying why.

    The error names the placeholder (or the fault) and lists the known ones.
    """
    known = ", ".join(f"{{{name}}}" for name in REPLY_FIELDS)
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:  # a lone { or }
        raise ValueError(f"--reply {template!r}: {exc} (write {{{{ or }}}} for a literal "
                         f"brace); the placeholders are {known}") from None
    unknown = [name for name in names if name not in REPLY_FIELDS]
    if unknown:
        listed = list(dict.fromkeys(unknown))
        shown = ", ".join(f"{{{name}}}" for name in listed)
        raise ValueError(f"--reply {template!r}: unknown placeholder{'s' * (len(listed) > 1)} "
                         f"{shown}; "
                         f"the placeholders are {known}")
    try:
        template.format(**reply_fields([{"role": "user", "content": "What is 12?"}]))
    except (ValueError, TypeError, KeyError, IndexError) as exc:  # a format spec that cannot be
        raise ValueError(f"--reply {template!r}: {exc}; each placeholder is text "
                         f"(e.g. {{first_number:>5}}), one of {known}") from None
    return template


def template_policy(template: str = DEFAULT_REPLY) -> Callable[[list[dict[str, Any]]], str]:
    """A server policy (messages -> reply) filling ``template``; :func:`check_reply` first."""
    check_reply(template)

    def reply(messages: list[dict[str, Any]]) -> str:
        return template.format(**reply_fields(messages))

    reply.__doc__ = f"Reply {template!r}, filled from the request's messages."
    return reply
