"""YAML cards, validated by pydantic with located errors.

Role cards (``agents/``), protocol presets (``protocols/``) and experiment
specs (``experiments/``).

A validation error names the file, the line and the field path, e.g.
``experiments/x.yaml:7: protocol_options.rounds: Input should be a valid integer``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, Field

from debate.agents.base import PARSERS, Agent, get_role
from debate.errors import ConfigError, TemplateError
from debate.files import read_utf8
from debate.models.types import ChatModel, SamplingParams
from debate.prompts import Template, template_file
from debate.sampling import Sampling
from debate.settings import Settings, validated

__all__ = ["ProtocolPreset", "RoleCard", "load_card", "load_role_card", "load_yaml", "validate"]

M = TypeVar("M", bound=BaseModel)


def load_yaml(path: str | Path) -> tuple[Any, yaml.Node | None]:
    """The data in a YAML file and its node tree (for line numbers).

    A file that is not UTF-8, invalid YAML or a mapping that repeats a key is a
    :class:`ConfigError` naming the file and line (YAML itself would keep the last
    value of a repeated key without a word).
    """
    path = Path(path)
    text = read_utf8(path)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        if node is None:
            return None, None
        _refuse_repeated_keys(path, node)
        loader = yaml.SafeLoader("")
        try:
            return loader.construct_document(node), node
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{line}: invalid YAML: {getattr(exc, 'problem', exc)}") from exc


def _refuse_repeated_keys(path: Path, node: yaml.Node) -> None:
    """A :class:`ConfigError` at the second of two equal keys in one mapping, anywhere."""
    todo = [node]
    while todo:
        current = todo.pop()
        if isinstance(current, yaml.MappingNode):
            first: dict[tuple[str, str], int] = {}
            for key, value in current.value:
                todo.append(value)
                if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
                    continue
                line = int(key.start_mark.line) + 1
                if (key.tag, key.value) in first:
                    raise ConfigError(f"{path}:{line}: duplicate key {key.value!r} (first at "
                                      f"line {first[key.tag, key.value]}); YAML would keep only "
                                      "the last: remove one")
                first[key.tag, key.value] = line
        elif isinstance(current, yaml.SequenceNode):
            todo.extend(current.value)


def _line(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """The 1-based line of the deepest node along ``loc`` that exists."""
    if node is None:
        return None
    line = int(node.start_mark.line) + 1
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == str(key)), None)
            if match is None:
                break
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
        line = int(node.start_mark.line) + 1
    return line


def validate(model: type[M], data: Any, where: str, node: yaml.Node | None = None) -> M:
    """``model.model_validate(data)``, errors rewritten as ``where:line: field: message``.

    An unknown key's message suggests the nearest valid one (:func:`debate.settings.error_lines`).
    """
    return validated(model, data, where, lambda loc: _line(node, loc))


def load_card(path: str | Path, model: type[M]) -> M:
    """Load a YAML card into ``model`` with located errors."""
    data, node = load_yaml(path)
    return validate(model, data, str(path), node)


class RoleCard(Settings):
    """A role declared in YAML: a built-in role with its own prompts."""

    name: str
    """The role's name (recorded in traces as the agent's ``card``)."""
    base: str | None = None
    """The registered role it specializes; default: the role the protocol gives the agent
    it is bound to. A base must be that role or a subclass of it."""
    description: str = ""
    """What the role is for."""
    system_prompt: str | None = None
    """Sent first in every call."""
    templates: dict[str, str] = Field(default_factory=dict)
    """Template name (one of the base role's) -> inline template text, or a ``.md`` file
    next to the card."""
    parser: str | None = None
    """A registered reply parser (``answer``, ``answer-confidence``); default: the role's."""
    source: Path | None = Field(None, exclude=True)
    """The card's file (set by :func:`load_role_card`)."""

    def build(self, name: str, model: ChatModel, params: SamplingParams | None = None,
              role: str | None = None) -> Agent:
        """An agent of this role (template fields are checked here, at load time).

        ``role`` is the role the protocol gives this agent: the card's ``base``
        (default: ``role``) must be it or a subclass of it, else a :class:`ConfigError`.
        """
        base = self.base or role or "debater"
        cls = get_role(base)
        if role is not None and not issubclass(cls, get_role(role)):
            raise ConfigError(
                f"{self.source or self.name}: role card {self.name!r} (base {base!r}) cannot "
                f"play agent {name!r}, to which the protocol gives role {role!r}: its prompts "
                f"and view would not be the protocol's. Use base: {role} (or leave base out).")
        here = self.source.parent if self.source else Path(".")
        templates: dict[str, Template] = {}
        for key, value in self.templates.items():
            file = here / value
            if value.endswith((".md", ".txt")) and file.is_file():
                templates[key] = template_file(file)
            else:
                templates[key] = Template(value, f"{self.source or self.name}:templates.{key}")
        parser = PARSERS.lookup(self.parser) if self.parser else None
        try:
            agent = cls(name, model, system_prompt=self.system_prompt, templates=templates,
                        params=params, parser=parser)
        except TemplateError:
            raise  # already names the card's file and template
        except ConfigError as exc:
            raise ConfigError(f"{self.source or self.name}: role card {self.name!r} on agent "
                              f"{name!r}: {exc}") from exc
        agent.card = self.name
        return agent


def load_role_card(path: str | Path) -> RoleCard:
    """Load a role card from YAML."""
    card = load_card(path, RoleCard)
    card.source = Path(path)
    return card


class ProtocolPreset(Settings):
    """A protocol with the options that reproduce one paper's setup."""

    protocol: str
    """The registered protocol name."""
    description: str = ""
    """What this preset reproduces."""
    paper: str = ""
    """The paper it follows."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Protocol options over the protocol's defaults."""
    sampling: dict[str, Sampling] = Field(default_factory=dict)
    """The paper's sampling per agent or role (``{qa-judge: {temperature: 0}}``), over the
    experiment's run-wide values; the experiment's own ``sampling:`` goes over these
    (see :mod:`debate.sampling`)."""
