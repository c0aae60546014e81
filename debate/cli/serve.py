"""``debate serve``: an OpenAI-compatible API whose models are debate configurations."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from debate.cli.common import Opt, err, fail
from debate.errors import DebateError

if TYPE_CHECKING:
    from debate.serve import DebateServer


def serve(
    specs: Annotated[list[Path], typer.Argument(help="Experiment specs or preset cards "
                                                "(YAML); each is a model id: its `name`, "
                                                "else its file stem.")],
    host: Annotated[str, Opt(help="Address to bind; beyond loopback only with "
                             "--api-key.")] = "127.0.0.1",
    port: Annotated[int, Opt(help="Port (0: a free one).", min=0, max=65535)] = 8000,
    api_key: Annotated[str | None, Opt("--api-key", envvar="DEBATE_SERVE_API_KEY",
                                       help="Every request must carry Authorization: Bearer "
                                            "KEY (also $DEBATE_SERVE_API_KEY).")] = None,
    out_dir: Annotated[str, Opt("--out", help="Folder of the served run folders (one per "
                                "model id: traces.jsonl, cache.sqlite), apart from debate "
                                "run's (the spec's output_dir is not used).")] = "runs/serve",
    queue: Annotated[int | None, Opt(help="Requests admitted at once per model id (running "
                                     "or waiting); more get 429. Default: 4 x the spec's "
                                     "concurrency.", min=1, max=1_000_000)] = None,
    model: Annotated[list[str] | None, Opt("--model", "-m", help="Model spec of preset "
                                           "cards; repeat per agent.")] = None,
    task: Annotated[str, Opt(help="numeric | choice | yesno | exact: how questions are "
                             "answered where the spec's dataset.task sets none.")] = "exact",
) -> None:
    """Serve debate configurations as OpenAI-compatible models (for eval harnesses)."""
    from debate.serve import DebateServer, services_for

    try:
        services = services_for(specs, models=model, task=task, out=out_dir, queue=queue)
        server = DebateServer(services, host=host, port=port, api_key=api_key)
        asyncio.run(_serve_forever(server))
    except (DebateError, OSError) as exc:
        fail(exc)
    except KeyboardInterrupt:
        err.print("stopped: every finished debate is in its run folder.")


async def _serve_forever(server: DebateServer) -> None:
    """Listen until interrupted, saying where and how guarded, then close."""
    await server.start()
    try:
        guard = ("every request must carry Authorization: Bearer KEY" if server.api_key
                 else "loopback only: no --api-key, so only this machine can connect")
        err.print(f"serving {', '.join(server.services)} at {server.url} ({guard})")
        for model_id, service in server.services.items():
            calls = service.max_calls if service.max_calls is not None else "?"
            err.print(f"  {model_id}: {service.session.protocol.name}, up to {calls} calls per "
                      f"request, {service.queue} requests admitted at once -> "
                      f"{Path(service.run_dir)}")
        await asyncio.Event().wait()
    finally:
        await server.close()
