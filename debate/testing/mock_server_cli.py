"""``python -m debate.testing.mock_server``: the mock server's command line.

:func:`parser` documents every option (how the reply is made, each placeholder of
``--reply``, each fault); :func:`from_command_line` builds the server from them
without starting it; :func:`main` serves until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal

from debate.testing.mock_batches import BatchSettings
from debate.testing.mock_replies import DEFAULT_REPLY, REPLY_FIELDS, template_policy
from debate.testing.mock_server import FAULTS, FaultRates, MockServer

__all__ = ["from_command_line", "main", "parser", "serve"]


async def serve(server: MockServer) -> None:
    """Serve in this event loop until SIGINT or SIGTERM; print ``{"url": ...}`` once listening."""
    await server._serve()
    print(json.dumps({"url": server.url}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows loops
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server._close()


def _reply_help() -> str:
    fields = "; ".join(f"{{{name}}}: {what}" for name, what in REPLY_FIELDS.items())
    return (f"the reply to every chat and messages request that gets no fault, its "
            f"placeholders filled from the request's messages: {fields}; write {{{{ and }}}} "
            f"for a literal brace (default: {DEFAULT_REPLY.replace('%', '%%')}, the boxed "
            "first number); an unknown placeholder is an error at start")


def parser() -> argparse.ArgumentParser:
    """The command line of ``python -m debate.testing.mock_server``."""
    first, _, _ = (__doc__ or "").partition("\n")
    cli = argparse.ArgumentParser(
        prog="python -m debate.testing.mock_server",
        description=f"{first} It replies to each request with the --reply template filled "
                    "from the request's messages (by default 'The answer is \\boxed{N}.', N "
                    "the first number of the first user message, 0 if it has none), unless "
                    "the request draws a fault.",
        epilog="Each model request draws one number from the seeded generator; the fault "
               "rates take consecutive slices of [0, 1) in the order listed, so one seed "
               "gives the same outcomes on every run. GET /stats returns the counts per "
               "outcome and per path as JSON.")
    cli.add_argument("--host", default="127.0.0.1")
    cli.add_argument("--port", type=int, default=8000, help="0 picks a free port (default 8000)")
    cli.add_argument("--reply", default=DEFAULT_REPLY, metavar="TEMPLATE", help=_reply_help())
    cli.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    cli.add_argument("--jitter", type=float, default=0.0, help="extra random latency (s)")
    cli.add_argument("--per-token", type=float, default=0.0, help="latency per word (s)")
    cli.add_argument("--retry-after", type=float, default=0.0,
                     help="the Retry-After seconds a 429 carries")
    for name, (_, options, what) in FAULTS.items():
        cli.add_argument(*options, dest=name, type=float, default=0.0, metavar="RATE",
                         help=f"share of requests that get {what}")
    cli.add_argument("--seed", type=int, default=0, help="seed of the fault draws (default 0)")
    cli.add_argument("--batch-delay", type=float, default=0.0, metavar="SECONDS",
                     help="seconds until a batch (OpenAI Batches, Anthropic Message Batches) ends")
    cli.add_argument("--batch-failures", type=float, default=0.0, metavar="RATE",
                     help="share of batch items that fail")
    cli.add_argument("--batch-expired", type=float, default=0.0, metavar="RATE",
                     help="share of batch items left unprocessed (the batch expires)")
    return cli


def from_command_line(argv: list[str] | None = None) -> MockServer:
    """The server ``python -m debate.testing.mock_server ARGS`` serves, not started yet.

    A bad option (a fault rate out of range, a ``--reply`` template naming an unknown
    placeholder) exits with the command line's usage and the error.
    """
    cli = parser()
    args = cli.parse_args(argv)
    try:
        rates = FaultRates(seed=args.seed, **{name: getattr(args, name) for name in FAULTS})
        batches = BatchSettings(delay=args.batch_delay, failure_rate=args.batch_failures,
                                expire_rate=args.batch_expired, seed=args.seed)
        policy = template_policy(args.reply)
    except ValueError as exc:
        cli.error(str(exc))
    return MockServer(latency=args.latency, jitter=args.jitter, per_token=args.per_token,
                      retry_after=args.retry_after, host=args.host, port=args.port,
                      rates=rates, batches=batches, policy=policy)


def main(argv: list[str] | None = None) -> None:
    """``python -m debate.testing.mock_server``: serve until interrupted."""
    asyncio.run(serve(from_command_line(argv)))
