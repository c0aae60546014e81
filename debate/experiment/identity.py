"""What an experiment computes, as a fingerprint: a run never mixes two configurations.

The run identity is a hash of the *resolved content* of an experiment, in
components a person can read when they differ:

- ``protocol``: its registered name and its options as resolved from presets,
  options and shortcuts (a preset file's path does not count, its content does);
- ``agents``: for each agent its role, role card, system prompt, parser and the
  text of every prompt template it uses (built-in or from a card);
- ``models``: the model specs (without the URL they are served from);
- ``sampling``: seed, temperature, max_tokens, strict_parsing, and under
  ``agents`` the resolved temperature and max_tokens of each agent whose values
  a ``sampling:`` block (the preset's or the spec's) changes: only those, so an
  experiment without ``sampling:`` keeps the identity it had before there was one;
- ``dataset``: the SHA-256 of the dataset's content (a file's bytes, a Hub split's
  rows, or rows given in Python, row by row: the same rows as dicts or as a
  ``datasets.Dataset`` hash alike), its task and field mapping, and its numeric
  tolerance when one is set;
- ``settings``: any other config field that changes what is computed;
- ``code`` (only with plug-ins): the SHA-256 of each plug-in file's source
  (:mod:`debate.experiment.plugins`).

Execution-only settings (name, limit, concurrency, output folder, cache,
limits, retries, prices, backend options) are left out: changing them resumes
the same experiment. :func:`changes` names what differs between two
fingerprints, so a refused re-run says what changed.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from debate.agents.base import Agent
from debate.experiment.binding import bind_sampling, build_agents, split_bindings
from debate.experiment.plugins import plugin_digest
from debate.models.types import Completion, Message, SamplingParams
from debate.protocols.base import DebateProtocol

if TYPE_CHECKING:
    from debate.experiment.config import ExperimentConfig

__all__ = ["EXECUTION_ONLY", "Fingerprint", "changes", "fingerprint"]

EXECUTION_ONLY = frozenset({"name", "limit", "concurrency", "output_dir", "limits", "retry",
                            "prices", "cache", "backend_options", "endpoints", "pool",
                            "executor", "ray", "batch", "batch_options"})
"""Config fields that change how a run executes, not what it computes."""
_COVERED = frozenset({"plugins", "protocol", "protocol_options", "agents", "rounds", "models",
                      "roles", "dataset", "seed", "temperature", "max_tokens", "strict_parsing",
                      "sampling"})


class Fingerprint(BaseModel):
    """The resolved content of an experiment, by component, and its hash."""

    components: dict[str, Any]
    """Component name -> JSON-able content (templates as short hashes)."""
    identity: str
    """SHA-256 (12 hex digits) of the components."""


class _Unbound:
    """Stands in for a model while agents are built only to read their prompts."""

    name = "unbound"

    async def generate(self, messages: Sequence[Message], params: SamplingParams) -> Completion:
        raise RuntimeError("a placeholder model is never called")


def _short(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _agent(agent: Agent) -> dict[str, Any]:
    parser = agent.parser
    return {
        "role": agent.role, "card": agent.card,
        "system_prompt": None if agent.system_prompt is None else _short(agent.system_prompt),
        "parser": f"{parser.__module__}.{parser.__qualname__}",
        "templates": {key: _short(t.text) for key, t in sorted(agent.templates.items())},
    }


def _dataset(config: ExperimentConfig, data: dict[str, Any]) -> dict[str, Any]:
    """The data's hash, task and field mapping; its numeric tolerance only when one is set."""
    component = {"sha256": config.dataset.content_hash(), "task": data["dataset"]["task"],
                 "fields": data["dataset"]["fields"]}
    if config.dataset.numeric_tolerance is not None:  # else identities stay as they were
        component["numeric_tolerance"] = data["dataset"]["numeric_tolerance"]
    return component


def _without_url(spec: str) -> str:
    """``spec`` up to its ``@http(s)://`` URL (the first: a URL's ``user:pass@`` follows it)."""
    at = re.search(r"@(?=https?://)", spec, re.IGNORECASE)
    return spec[:at.start()] if at else spec


def fingerprint(config: ExperimentConfig, protocol: DebateProtocol | None = None
                ) -> Fingerprint:
    """The fingerprint of ``config`` (``protocol``: the one built from it, if at hand)."""
    if protocol is None:
        cls, options = config.resolve_protocol()
        protocol = cls(**options)
    unbound = _Unbound()
    agents = build_agents(protocol, [], config.roles,
                          named_models={name: unbound for name in protocol.agent_names()})
    positional, named = split_bindings(config.models)
    data = config.model_dump(mode="json")
    components: dict[str, Any] = {
        "protocol": {"name": protocol.name, "options": protocol.identity_options()},
        "agents": {a.name: _agent(a) for a in agents},
        "models": {"positional": [_without_url(m) for m in positional],
                   "named": {k: _without_url(m) for k, m in sorted(named.items())}},
        "sampling": _sampling(config, protocol, data),
        "dataset": _dataset(config, data),
        "settings": {k: v for k, v in sorted(data.items())
                     if k not in EXECUTION_ONLY and k not in _COVERED},
    }
    if config.code_files():  # only then, so identities without plug-ins stay as they were
        components["code"] = {Path(ref).name: plugin_digest(ref) for ref in config.code_files()}
    blob = json.dumps(components, sort_keys=True, separators=(",", ":"))
    return Fingerprint(components=components,
                       identity=hashlib.sha256(blob.encode()).hexdigest()[:12])


def _sampling(config: ExperimentConfig, protocol: DebateProtocol, data: dict[str, Any]
              ) -> dict[str, Any]:
    """The run-wide sampling values, and each agent's where ``sampling:`` changes them."""
    component = {k: data[k] for k in ("seed", "temperature", "max_tokens", "strict_parsing")}
    names = protocol.agent_names()
    roles = [protocol.agent_role(i) for i in range(len(names))]
    base = config.sampling_params()
    changed = {name: {"temperature": p.temperature, "max_tokens": p.max_tokens}
               for name, p in zip(names, bind_sampling(names, roles, base,
                                                       config.sampling_layers()), strict=True)
               if (p.temperature, p.max_tokens) != (base.temperature, base.max_tokens)}
    if changed:  # only then, so identities without per-agent sampling stay as they were
        component["agents"] = changed
    return component


def _walk(old: Any, new: Any, where: str, found: list[str]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [*old, *(k for k in new if k not in old)]:
            _walk(old.get(key), new.get(key), f"{where}.{key}" if where else str(key), found)
    elif old != new:
        found.append(f"{where}: {json.dumps(old)} -> {json.dumps(new)}")


def changes(old: dict[str, Any] | None, new: dict[str, Any]) -> list[str]:
    """What differs between two fingerprints' components, one line per leaf value."""
    if old is None:
        return ["the run folder was made by an older debatelab (no fingerprint recorded)"]
    found: list[str] = []
    _walk(old, new, "", found)
    return found
