"""The base of every settings model, and validation errors a user can act on.

Every model that reads settings a user writes (an experiment spec, a card, a
protocol's or judge's options, limits, retries, prices, pools, batches, Ray)
derives from :class:`Settings`, so one rule holds for all of them (pinned by
``tests/test_settings_rules.py``):

- an unknown key is an error, and the error suggests the nearest valid key
  (``retry.timout: unknown key; did you mean 'timeout'?``);
- a number is finite (no NaN, no infinity) and every numeric field declares
  its range (``ge``/``gt``/``le``/``lt``);
- the rules hold in Python too: an assignment is validated (``config.name =
  "../x"`` is refused), and a run checks its whole config again when it starts
  (:func:`check_settings`), which catches what ``model_copy(update=...)`` or
  ``model_construct`` let through;
- a bad value given in Python (``ExperimentConfig(limit="ten")``, an assignment) is a
  :class:`~debate.errors.ConfigError` (a ``ValueError``), one line per fault, not
  pydantic's dump. ``Model.model_validate`` keeps pydantic's ``ValidationError``: its
  callers (:func:`validated`, a protocol's options) say where the data came from.

:func:`error_lines` turns a pydantic ``ValidationError`` into one line per
fault, ``field.path: message (given VALUE)``, with that suggestion.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, Union

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo

from debate.errors import ConfigError, hide_password

__all__ = ["Settings", "check_options", "check_settings", "error_lines", "keys_at", "not_below",
           "suggest", "validated"]


class Settings(BaseModel):
    """A model of user-written settings: unknown keys and non-finite numbers are errors."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, use_attribute_docstrings=True,
                              validate_assignment=True)

    def __init__(self, /, **data: Any) -> None:
        """Validate ``data``; its faults are one :class:`ConfigError`, a line each."""
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise ConfigError(_python_error(exc, type(self))) from None

    # nested settings are validated by pydantic itself, so their errors keep their place
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    def __setattr__(self, name: str, value: Any) -> None:
        """Assign and validate ``value``; a fault is a :class:`ConfigError` naming the field."""
        try:
            super().__setattr__(name, value)
        except ValidationError as exc:
            raise ConfigError(_python_error(exc, type(self))) from None


def _python_error(exc: ValidationError, model: type[BaseModel]) -> str:
    """``Model: field: message (given VALUE)`` lines for a model built in Python."""
    return "\n".join(error_lines(exc, model, where=model.__name__))


def _members(tp: Any) -> list[Any]:
    """The types a ``Union``/``Optional``/``Annotated`` annotation stands for."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _members(typing.get_args(tp)[0])
    if origin is Union or origin is types.UnionType:
        return [m for arg in typing.get_args(tp) for m in _members(arg) if m is not type(None)]
    return [tp]


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _step(tp: Any, key: int | str) -> Any:
    """The annotation one step (a field name, a dict key, a list index) below ``tp``."""
    members = _members(tp)
    models = [m for m in members if _is_model(m)]
    for model in models:
        field = model.model_fields.get(str(key))
        if field is not None:
            return field.annotation
    if any(getattr(m, "__name__", None) == key for m in members):  # a union member's tag
        return next(m for m in members if getattr(m, "__name__", None) == key)
    for member in members:
        origin, args = typing.get_origin(member), typing.get_args(member)
        if origin is dict and len(args) == 2:
            return args[1]
        if origin in (list, tuple, Sequence, set, frozenset) and args:
            return args[0]
    return None


def keys_at(model: type[BaseModel], path: Sequence[int | str]) -> list[str]:
    """The valid keys of the settings model found at ``path`` under ``model`` (or none)."""
    tp: Any = model
    for key in path:
        tp = _step(tp, key)
        if tp is None:
            return []
    models = [m for m in _members(tp) if _is_model(m)]
    return sorted({name for m in models for name in m.model_fields}) if models else []


def suggest(key: str, valid: Sequence[str]) -> str:
    """``did you mean 'x'?`` for the nearest valid key, else the valid keys listed."""
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6) or [
        v for v in valid if len(key) >= 3 and (v.startswith(key) or key.startswith(v))][:1]
    if close:
        return f"did you mean {close[0]!r}?"
    return f"valid keys: {', '.join(valid)}" if valid else "no keys are valid here"


def error_lines(exc: ValidationError, model: type[BaseModel] | None = None,
                line_of: Callable[[tuple[int | str, ...]], int | None] | None = None,
                where: str = "") -> list[str]:
    """One ``where[:line]: field.path: message`` line per fault in ``exc``.

    An unknown key reads ``unknown key; did you mean 'x'?`` (the nearest key of
    ``model`` at that place). ``line_of`` maps a field path to a line of the source
    file, when there is one.
    """
    lines: list[str] = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden" and loc:
            valid = keys_at(model, loc[:-1]) if model is not None else []
            message = f"unknown key; {suggest(str(loc[-1]), valid)}"
        elif error["type"] not in _NO_VALUE and "input" in error:
            message += f" (given {_given(loc, error['input'])})"
        field = ".".join(str(p) for p in loc) or "(top level)"
        line = line_of(loc) if line_of is not None else None
        place = f"{where}{f':{line}' if line else ''}"
        lines.append(f"{place}: {field}: {message}" if place else f"{field}: {message}")
    return lines


_NO_VALUE = frozenset({"missing", "extra_forbidden", "value_error"})
"""Errors whose input is not the value at fault (a missing key's is the mapping around it)
or whose message already says it (a validator's own words)."""
_SECRET_NAME = re.compile(r"(^|_)(key|token|secret|password|authorization|credentials?)$", re.I)
_SHOWN = 60
"""Characters of a value an error line shows."""


def _given(loc: tuple[int | str, ...], value: Any) -> str:
    """``value`` as an error line shows it: short, a secret's never, a URL's password hidden."""
    if loc and _SECRET_NAME.search(str(loc[-1])):
        return "[redacted]"
    shown = hide_password(repr(value))
    return shown if len(shown) <= _SHOWN else f"{shown[:_SHOWN - 3]}..."


M = TypeVar("M", bound=BaseModel)


def validated(model: type[M], data: Any, where: str,
              line_of: Callable[[tuple[int | str, ...]], int | None] | None = None) -> M:
    """``model`` made from ``data``; its faults are one ``ConfigError``, a line each."""
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as exc:
        raise ConfigError("\n".join(error_lines(exc, model, line_of, where))) from exc


def not_below(low_field: str) -> Any:
    """A validator for ``field_validator(NAME)``: NAME is at least ``low_field``.

    ``low_field`` is declared before NAME, e.g. a maximum wait and its initial one.
    """

    def check(cls: type, value: Any, info: ValidationInfo) -> Any:
        low = info.data.get(low_field)
        if value is not None and low is not None and value < low:
            raise ValueError(f"must be at least {low_field} ({low})")
        return value

    return classmethod(check)


def check_settings(settings: BaseModel, where: str = "config") -> None:
    """Validate ``settings`` again from its data; a fault is a ``ConfigError`` naming it."""
    try:
        type(settings).model_validate(settings.model_dump(round_trip=True, warnings=False))
    except ValidationError as exc:
        raise ConfigError("\n".join(error_lines(exc, type(settings), where=where))) from None


def check_options(factory: Callable[..., Any], options: dict[str, Any], where: str) -> None:
    """Refuse ``options`` that ``factory`` does not take, naming ``where.KEY`` and the nearest.

    For free-form option dicts handed to a registered factory (a relevance scorer, a
    plug-in's constructor); a factory that takes ``**kwargs`` accepts any key.
    """
    import inspect

    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: its own error will do
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return
    valid = sorted(p.name for p in parameters
                   if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
    for key in options:
        if key not in valid:
            raise ConfigError(f"{where}.{key}: unknown key; {suggest(key, valid)}")
