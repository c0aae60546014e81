"""One rule for every settings model: unknown keys are errors with a suggestion, every number
is finite and has its range. Checked over every model a user's YAML or options can reach."""

import math
import typing

import annotated_types
import pytest
from pydantic import BaseModel

from debate.cards import ProtocolPreset, RoleCard, validate
from debate.errors import ConfigError
from debate.experiment.config import ExperimentConfig
from debate.judges.base import JudgeConfig
from debate.protocols.base import PROTOCOLS, get_protocol
from debate.settings import Settings, keys_at, suggest


def _models_in(annotation):
    if typing.get_origin(annotation) is None:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield annotation
        return
    for arg in typing.get_args(annotation):
        yield from _models_in(arg)


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def settings_models() -> list[type[BaseModel]]:
    """Every model reachable from what users write: specs, cards, protocol and judge options."""
    import debate.judges  # noqa: F401 - registers the built-in judges
    from debate.export import Filters, StrategyOptions

    roots = [ExperimentConfig, RoleCard, ProtocolPreset, JudgeConfig, *_subclasses(JudgeConfig),
             Filters, StrategyOptions,
             *(get_protocol(name).config_class for name in PROTOCOLS.names())]
    seen: dict[type[BaseModel], None] = {}
    todo = list(roots)
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen[model] = None
        for field in model.model_fields.values():
            todo.extend(_models_in(field.annotation))
    shipped = [m for m in seen if m.__module__.startswith("debate.")]  # not other tests' own
    return sorted(shipped, key=lambda m: f"{m.__module__}.{m.__qualname__}")


MODELS = settings_models()
RANGES = (annotated_types.Ge, annotated_types.Gt, annotated_types.Le, annotated_types.Lt)


def _is_number(annotation) -> bool:
    args = [annotation, *typing.get_args(annotation)]
    return any(a in (int, float) for a in args)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__qualname__)
def test_every_settings_model_forbids_unknown_keys_and_non_finite_numbers(model):
    assert issubclass(model, Settings), f"{model.__qualname__} must derive from Settings"
    assert model.model_config.get("extra") == "forbid"
    assert model.model_config.get("allow_inf_nan") is False


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__qualname__)
def test_every_number_in_a_settings_model_has_its_range(model):
    unbounded = [name for name, field in model.model_fields.items()
                 if _is_number(field.annotation)
                 and not any(isinstance(m, RANGES) for m in field.metadata)]
    assert not unbounded, f"{model.__qualname__}: numbers without a range: {unbounded}"


def test_the_walk_reaches_the_nested_settings():
    names = {m.__qualname__ for m in MODELS}
    assert {"Limits", "RetryPolicy", "Price", "PoolPolicy", "Endpoint", "BatchPolicy",
            "RayOptions", "DatasetSpec", "FieldMap", "DuConfig", "LLMJudgeConfig", "Filters",
            "StrategyOptions"} <= names


@pytest.mark.parametrize(("data", "message"), [
    ({"retry": {"max_attempt": 1}}, "retry.max_attempt: unknown key; did you mean 'max_attempts'?"),
    ({"retry": {"timout": 5}}, "retry.timout: unknown key; did you mean 'timeout'?"),
    ({"limits": {"max_in_fligt": 3}}, "limits.max_in_fligt: unknown key; did you mean "
                                      "'max_in_flight'?"),
    ({"prices": {"m": {"input": 1, "output": 2, "cahced": 1}}}, "prices.m.cahced: unknown key; "
                                                                "valid keys: input, output"),
    ({"endpoints": {"openai:m": [{"url": "http://h:1/v1", "max_inflight": 2}]},
      "models": ["openai:m"]}, "endpoints.openai:m.0.max_inflight: unknown key; did you mean "
                               "'max_in_flight'?"),
    ({"dataset": {"path": "d.jsonl", "fields": {"questoin": "q"}}},
     "dataset.fields.questoin: unknown key; did you mean 'question'?"),
    ({"modles": ["x"]}, "modles: unknown key; did you mean 'models'?"),
    ({"temperature": math.nan}, "temperature: Input should be a finite number"),
    ({"pool": {"saturation": math.inf}}, "pool.saturation: Input should be a finite number"),
    ({"limits": {"max_in_flight": -5}}, "limits.max_in_flight: Input should be greater than or "
                                        "equal to 1"),
    ({"retry": {"max_attempts": 0}}, "retry.max_attempts: Input should be greater than or equal"),
    ({"retry": {"timeout": -1}}, "retry.timeout: Input should be greater than 0"),
])
def test_a_settings_error_names_the_field_and_suggests_the_key(data, message):
    with pytest.raises(ConfigError) as raised:
        validate(ExperimentConfig, {"dataset": "d.jsonl", **data}, "spec.yaml")
    assert f"spec.yaml: {message}" in str(raised.value)


def test_keys_at_walks_models_dicts_and_lists():
    assert "max_in_flight" in keys_at(ExperimentConfig, ("endpoints", "openai:m", 0))
    assert keys_at(ExperimentConfig, ("prices", "gpt-4o")) == ["input", "output"]
    assert keys_at(ExperimentConfig, ("protocol_options",)) == []  # free-form: checked later
    assert suggest("swap", ["always_call", "on_tie", "swap_order"]) == "did you mean 'swap_order'?"


def test_the_rules_hold_for_python_callers_too():
    from debate.models.middleware import Limits
    from debate.settings import check_settings

    config = ExperimentConfig(dataset="d.jsonl", models=["scripted:echo"])
    with pytest.raises(ConfigError, match="is not a folder name"):
        config.name = "../escaped"  # an assignment is validated
    with pytest.raises(ConfigError, match="greater than or equal to 1"):
        Limits().max_in_flight = -5
    copied = config.model_copy(update={"limits": {"max_in_flight": -5}})  # not validated...
    with pytest.raises(ConfigError, match=r"config: limits.max_in_flight: Input should be "):
        check_settings(copied)  # ...until the run checks it again, as arun_experiment does
