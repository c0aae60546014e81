"""Binding models (and role cards) to a protocol's agents, by position, name or role.

Items are given as a list: unnamed items apply by position, ``KEY=VALUE``
items to the agent called KEY or to every agent whose role is KEY::

    --model openai:gpt-4o-mini                       every agent
    --model A --model B --model C                    one per agent, in order
    --model debater=llamacpp:smollm2 --model judge=openai:gpt-4o
    --model agent-2=anthropic:claude-sonnet-4-5 --model llamacpp:smollm2

An agent's name wins over its role; agents no key names take the unnamed
items: one item for all of them, or exactly one each, in order.

``roles:`` items are role card files or registered role names (a role a plug-in
registers with ``@role("contrarian")`` is used by name, no card needed)::

    roles: [judge=cards/strict-judge.yaml, contrarian]

``sampling:`` blocks (:mod:`debate.sampling`) are keyed the same way:
:func:`bind_sampling` gives each agent its parameters, and a key that names no
agent and no role is an error naming its place.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from debate.agents.base import ROLES, Agent, get_role
from debate.cards import load_role_card
from debate.errors import ConfigError
from debate.models.types import ChatModel, SamplingParams, capabilities_of, size_model
from debate.protocols.base import DebateProtocol
from debate.sampling import Sampling, SamplingLayer
from debate.settings import suggest

__all__ = ["bind", "bind_sampling", "build_agents", "split_bindings"]

T = TypeVar("T")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")


def split_bindings(items: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """Unnamed items and ``KEY=VALUE`` items; KEY is an identifier, so ``a:b=c`` is unnamed."""
    positional: list[str] = []
    named: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if sep and _KEY.fullmatch(key):
            named[key] = value
        else:
            positional.append(item)
    return positional, named


def bind(names: Sequence[str], roles: Sequence[str], positional: Sequence[T],
         named: Mapping[str, T], what: str, required: bool = True) -> list[T | None]:
    """One item per agent (``None`` for agents left unbound when not ``required``)."""
    unknown = set(named) - set(names) - set(roles)
    if unknown:
        hint = ("; a judge seat comes with a judge that calls a model (-o judge=llm, or "
                "protocol_options: {judge: llm})" if "judge" in unknown else "")
        raise ConfigError(f"{what} binding(s) {sorted(unknown)} name no agent or role; agents: "
                          f"{list(names)}, roles: {sorted(set(roles))}{hint}")
    bound: list[T | None] = [named.get(n, named.get(r)) for n, r in zip(names, roles, strict=True)]
    free = [i for i, item in enumerate(bound) if item is None]
    if not free or (not positional and not required):
        return bound
    if len(positional) == 1:
        for i in free:
            bound[i] = positional[0]
    elif len(positional) == len(free):
        for i, item in zip(free, positional, strict=True):
            bound[i] = item
    else:
        left = [f"{names[i]} ({roles[i]})" for i in free]
        raise ConfigError(f"give one {what} for every agent or one per agent: {len(left)} agents "
                          f"need one ({', '.join(left)}), got {len(positional)} unnamed "
                          f"{what}(s); name agents or roles with KEY={what}")
    return bound


def bind_sampling(names: Sequence[str], roles: Sequence[str], base: SamplingParams,
                  layers: Sequence[SamplingLayer]) -> list[SamplingParams]:
    """Each agent's sampling parameters: ``base`` with the ``sampling:`` layers' values.

    Layers apply in order (a preset's, then the experiment's); within a layer an
    agent takes its role's values, then its own name's. An agent no key names keeps
    ``base`` itself. A key naming no agent and no role is a ``ConfigError`` naming
    ``where.KEY`` and the nearest name.
    """
    for where, layer in layers:
        _check(names, roles, layer, where)
    params: list[SamplingParams] = []
    for name, role_name in zip(names, roles, strict=True):
        update: dict[str, object] = {}
        for _, layer in layers:
            for key in (role_name, name):
                if key in layer:
                    update.update(layer[key].values())
        params.append(base.model_copy(update=update) if update else base)
    return params


def _check(names: Sequence[str], roles: Sequence[str], layer: Mapping[str, Sampling],
           where: str) -> None:
    """A key of ``layer`` naming no agent or role is an error."""
    known = [*names, *dict.fromkeys(r for r in roles if r not in names)]
    for key in layer:
        if key not in names and key not in roles:
            hint = suggest(key, known)
            if not hint.startswith("did you mean"):
                hint = f"agents: {', '.join(names)}; roles: {', '.join(dict.fromkeys(roles))}"
            raise ConfigError(f"{where}.{key}: no seat or role named {key!r} ({hint})")


def build_agents(protocol: DebateProtocol, models: Sequence[ChatModel] = (),
                 roles: Sequence[str] = (), params: SamplingParams | None = None,
                 seed: int | None = None, *,
                 named_models: Mapping[str, ChatModel] | None = None,
                 strict_parsing: bool = False,
                 sampling: Sequence[SamplingLayer] = ()) -> list[Agent]:
    """The protocol's agents, with models and role cards bound by position, name or role.

    ``models`` apply by position (one for all, or one per agent left unnamed);
    ``named_models`` map an agent name or role to its model; ``roles`` are role
    card paths or registered role names, each optionally ``KEY=value`` (see
    :mod:`debate.experiment.binding`). A card plays the protocol's role for its agent
    (its ``base`` must be that role or a subclass of it: a card never silently turns a
    role into another); a role named by its registered name is that role's class. Agent ``i``
    samples with ``seed + i`` when ``seed`` is set, so agents with identical prompts
    draw different, reproducible samples. With ``strict_parsing`` agents keep only
    explicitly given answers (a fallback-parsed answer counts as unparsed).
    ``sampling``: ``(where, {key: Sampling})`` layers over ``params`` per agent or role
    (:func:`bind_sampling`).
    """
    names = protocol.agent_names()
    role_names = [protocol.agent_role(i) for i in range(len(names))]
    per_model = bind(names, role_names, list(models), named_models or {}, "model")
    card_list, card_map = split_bindings(roles)
    per_card = bind(names, role_names, card_list, card_map, "role card", required=False)
    per_params = bind_sampling(names, role_names, params or SamplingParams(), sampling)
    agents = []
    for i, (name, model, card, base) in enumerate(zip(names, per_model, per_card, per_params,
                                                      strict=True)):
        assert model is not None  # bind() fills every agent when required
        agent_params = base if seed is None else base.model_copy(update={"seed": seed + i})
        if card is not None:
            agent = _seat_agent(card, name, model, agent_params, role_names[i])
        else:
            agent = get_role(role_names[i])(name, model, params=agent_params)
        agent.strict_parsing = strict_parsing
        agents.append(agent)
    _size_backends(per_model)
    return agents


def _is_card(value: str) -> bool:
    """Whether a ``roles:`` item names a role card file (else a registered role's name)."""
    return value.endswith((".yaml", ".yml")) or "/" in value or "\\" in value \
        or Path(value).is_file()


def _seat_agent(value: str, name: str, model: ChatModel, params: SamplingParams,
                role: str) -> Agent:
    """Agent ``name`` built from a ``roles:`` item: a role card file or a registered role.

    Like a card's base, a registered role must be ``role`` (the protocol's role for the
    agent) or a subclass of it: the protocol reads its replies as that role's. A name
    that is neither a card nor a registered role is a :class:`ConfigError` listing the
    registered roles.
    """
    if _is_card(value):
        return load_role_card(value).build(name, model, params, role=role)
    registered = ROLES.names()
    if value not in registered:
        hint = suggest(value, registered)
        hint = f"{hint} " if hint.startswith("did you mean") else ""
        raise ConfigError(f"roles: {value!r} (for agent {name!r}) is neither a role card file "
                          f"nor a registered role; {hint}registered roles: "
                          f"{', '.join(registered)} (a plug-in's roles need the plug-in: "
                          "plugins: or --plugin)")
    cls, seat = get_role(value), get_role(role)
    if not issubclass(cls, seat):
        raise ConfigError(f"roles: role {value!r} cannot play agent {name!r}, to which the "
                          f"protocol gives role {role!r}: the protocol reads its replies as "
                          f"{role!r}'s. Make {cls.__name__} a subclass of "
                          f"{seat.__module__}.{seat.__qualname__}, or bind it to another agent.")
    return cls(name, model, params=params)


def _size_backends(models: Sequence[ChatModel | None]) -> None:
    """Tell each model that serves a fixed number of calls at once how many agents use it.

    Only models that declare ``sized_to_users`` are told (middleware reports and passes
    on its backend's: :class:`~debate.models.types.Capabilities`); the others are left
    alone.
    """
    users: dict[int, tuple[ChatModel, int]] = {}
    for model in models:
        if model is not None and capabilities_of(model).sized_to_users:
            users[id(model)] = (model, users.get(id(model), (model, 0))[1] + 1)
    for model, count in users.values():
        size_model(model, count)
