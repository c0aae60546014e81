"""The debate configurations a server offers: experiment specs and preset cards, by model id.

An experiment spec (``debate run``'s YAML) is served as written; its ``dataset`` is
optional here and only its ``task`` is read. A preset card (``protocols/*.yaml``: a
``protocol`` with ``options``, ``paper`` or ``description``) is served on the models
given with ``--model``. A configuration's model id is its ``name``, else its file stem.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from debate.cards import ProtocolPreset, load_yaml, validate
from debate.errors import ConfigError
from debate.experiment.config import ExperimentConfig, load_experiment
from debate.trace import Question, TaskType

__all__ = ["ServedSpec", "load_served"]

_PLACEHOLDER = [Question(id="served", text="questions come from requests")]
_PRESET_MARKS = {"options", "paper", "description"}


@dataclass(frozen=True)
class ServedSpec:
    """One model id: the experiment it runs and the task its questions are asked as."""

    model_id: str
    config: ExperimentConfig
    task: TaskType
    source: str
    """The file it came from (for messages)."""


def _is_preset(data: dict[str, Any]) -> bool:
    return set(data) <= set(ProtocolPreset.model_fields) and bool(_PRESET_MARKS & set(data))


def _check_task(task: str, where: str) -> TaskType:
    allowed = get_args(TaskType)
    if task not in allowed:
        raise ConfigError(f"{where}: task {task!r} is not one of {', '.join(allowed)}")
    return task  # type: ignore[return-value]


def load_served(path: str | Path, *, models: list[str] | None = None, task: str = "exact",
                output_dir: str = "runs/serve") -> ServedSpec:
    """The configuration in ``path``, named, with its task (the spec's, else ``task``)."""
    path = Path(path)
    data, node = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a served spec is an experiment spec or a preset card "
                          "(a YAML mapping)")
    if _is_preset(data):
        validate(ProtocolPreset, data, str(path), node)
        if not models:
            raise ConfigError(f"{path}: a preset card names no models; give --model SPEC "
                              "(repeat per agent), e.g. --model openai:gpt-4o-mini")
        config = validate(ExperimentConfig, {"protocol": str(path), "models": models,
                                             "dataset": _PLACEHOLDER, "name": path.stem,
                                             "output_dir": output_dir}, str(path))
        return ServedSpec(path.stem, config, _check_task(task, "--task"), str(path))
    overrides: dict[str, Any] = {"output_dir": output_dir}
    if "dataset" not in data:
        overrides["dataset"] = _PLACEHOLDER
    config = load_experiment(path, **overrides)
    if not config.cache:  # every served debate is kept, and replayed by its id
        raise ConfigError(f"{path}: cache: false: debate serve keeps each debate's calls so "
                          "an identical request is replayed, not paid again (and its trace "
                          "is the reply's); serve a spec without cache: false")
    own_task = config.dataset.task if "dataset" in data else None
    chosen = own_task or _check_task(task, "--task")
    return ServedSpec(config.name or path.stem, config, chosen, str(path))
