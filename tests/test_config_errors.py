"""A settings model built in Python with a bad value raises ConfigError (a ValueError): one
line per fault with the field, the value given and what is allowed; never pydantic's dump."""

import pytest
from pydantic import ValidationError

from debate import ExperimentConfig
from debate.cards import validate
from debate.errors import ConfigError
from debate.models.middleware import Limits, RetryPolicy


def error_of(**data) -> str:
    with pytest.raises(ConfigError) as raised:
        ExperimentConfig(**{"dataset": "d.jsonl", **data})
    assert not isinstance(raised.value, ValidationError)
    return str(raised.value)


def test_an_unknown_key_in_python_names_the_nearest_valid_one():
    """Before: pydantic's dump with a docs URL. Now: the key and the one it may have meant."""
    assert error_of(limt=5) == "ExperimentConfig: limt: unknown key; did you mean 'limit'?"


def test_a_wrong_value_in_python_names_the_field_the_value_and_what_is_allowed():
    """Before: pydantic's dump. Now: one line with the field, what is allowed and the value."""
    assert error_of(limit="ten") == ("ExperimentConfig: limit: Input should be a valid integer, "
                                     "unable to parse string as an integer (given 'ten')")


def test_a_dataset_that_is_no_dataset_says_what_a_dataset_may_be():
    """Before: 'Input should be a valid dictionary or instance of DatasetSpec'. Now: the forms."""
    message = error_of(dataset=42)
    assert message.startswith("ExperimentConfig: dataset: int (42) is not a dataset: give a "
                              "file path")
    assert "datasets.Dataset" in message


def test_every_fault_is_a_line_of_its_own():
    """Before: pydantic's multi-line dump. Now: a line per fault, nested fields by their path."""
    lines = error_of(limit=0, retry={"timeout": -1}).splitlines()
    assert lines == [
        "ExperimentConfig: limit: Input should be greater than or equal to 1 (given 0)",
        "ExperimentConfig: retry.timeout: Input should be greater than 0 (given -1)",
    ]


def test_a_config_error_is_still_a_value_error():
    """Before: pydantic's ValidationError, a ValueError. Now: ConfigError, a ValueError too."""
    with pytest.raises(ValueError, match="limit"):
        ExperimentConfig(dataset="d.jsonl", limit="ten")


def test_nested_settings_built_alone_and_assigned_say_the_same():
    """Before: pydantic's dump. Now: ConfigError naming the model, for a nested model too."""
    with pytest.raises(ConfigError, match=r"^RetryPolicy: max_attempts: Input should be greater "
                                          r"than or equal to 1 \(given 0\)$"):
        RetryPolicy(max_attempts=0)
    limits = Limits()
    with pytest.raises(ConfigError, match=r"^Limits: max_in_flight: .* \(given -5\)$"):
        limits.max_in_flight = -5


def test_a_secret_is_never_shown_as_the_value_given():
    """Before: pydantic's dump quoted the input. Now: a secret-named field's value is hidden."""
    from debate.settings import Settings

    class Account(Settings):
        api_key: str = ""

    with pytest.raises(ConfigError) as raised:
        Account(api_key=["sk-not-a-string-123456"])
    assert "sk-not-a-string" not in str(raised.value)
    assert "api_key" in str(raised.value) and "[redacted]" in str(raised.value)


def test_a_long_value_is_cut_short():
    """Before: the whole input in the dump. Now: at most a short excerpt of it."""
    message = error_of(concurrency="x" * 500)
    assert len(message) < 200 and message.endswith("...)")


def test_yaml_errors_keep_their_file_and_line():
    """Before and now: a spec's fault names the file and line, not the model's name."""
    with pytest.raises(ConfigError, match=r"^spec.yaml: limit: Input should be a valid integer"):
        validate(ExperimentConfig, {"dataset": "d.jsonl", "limit": "ten"}, "spec.yaml")


def test_model_validate_keeps_pydantics_error_for_callers_that_locate_it():
    """Before and now: ``model_validate`` raises pydantic's error, which a caller that knows
    where the data came from (a YAML file, a protocol's options) turns into its own lines."""
    with pytest.raises(ValidationError):
        ExperimentConfig.model_validate({"dataset": "d.jsonl", "limit": "ten"})
