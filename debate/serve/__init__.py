"""``debate serve``: debate protocols as OpenAI-compatible models, for any eval harness.

Each model id is a debate configuration (an experiment spec or a preset card, see
:mod:`debate.serve.specs`); a chat completion runs one debate on the request's last
user message and answers with the debate's final answer and the reasoning behind it.
Every debate is kept as a trace in the serve's run folder (one sub-folder per model
id), whose response cache replays identical requests at no cost::

    from debate.serve import DebateServer, services_for

    with DebateServer(services_for(["protocols/du-gsm.yaml"], models=["scripted:first-number"],
                                   out="runs/serve"), port=0) as server:
        client = openai.OpenAI(base_url=server.url, api_key="unused")
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from debate.errors import ConfigError
from debate.serve.app import DebateServer
from debate.serve.service import DebateService
from debate.serve.specs import ServedSpec, load_served

__all__ = ["DebateServer", "DebateService", "ServedSpec", "load_served", "services_for"]


def services_for(specs: Sequence[str | Path], *, models: list[str] | None = None,
                 task: str = "exact", out: str | Path = "runs/serve",
                 queue: int | None = None) -> dict[str, DebateService]:
    """One service per spec, by model id, each with its run folder ``out/<model id>``.

    ``models``: the models of preset cards; ``task``: the task of specs that set none;
    ``queue``: requests admitted at once per model id (``None``: 4 x its concurrency).
    """
    if not specs:
        raise ConfigError("give at least one experiment spec or preset card to serve")
    services: dict[str, DebateService] = {}
    for path in specs:
        spec = load_served(path, models=models, task=task, output_dir=str(out))
        if spec.model_id in services:
            raise ConfigError(f"{path}: model id {spec.model_id!r} is already served by "
                              f"{services[spec.model_id].spec.source}; give one a `name:`")
        services[spec.model_id] = DebateService(spec, Path(out) / spec.model_id, queue)
    return services
