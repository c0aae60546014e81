"""The config class a generic component names: ``class Mad(DebateProtocol[MadConfig])``."""

from __future__ import annotations

from typing import TypeVar, get_args

from pydantic import BaseModel, ValidationError

from debate.settings import error_lines

__all__ = ["config_argument", "validation_errors"]

M = TypeVar("M", bound=BaseModel)


def config_argument(cls: type, bound: type[M]) -> type[M] | None:
    """The ``bound`` subclass ``cls`` gives its generic base as type argument, if any.

    ``class MadProtocol(DebateProtocol[MadConfig])`` -> ``MadConfig``; ``None`` when
    ``cls`` parameterizes no base with a config (it then inherits its base's).
    """
    for base in cls.__dict__.get("__orig_bases__", ()):
        for arg in get_args(base):
            if isinstance(arg, type) and issubclass(arg, bound):
                return arg
    return None


def validation_errors(exc: ValidationError, model: type[BaseModel] | None = None) -> str:
    """A pydantic error as ``field: message`` lines joined by ``; `` (no URLs, no input dumps).

    With ``model``, an unknown key's message suggests the nearest valid one.
    """
    return "; ".join(error_lines(exc, model))
