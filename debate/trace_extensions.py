"""Typed turn extensions: the keys of a turn's ``fields`` one module writes, others read.

A subclass of :class:`TurnExtension` is defined beside its writer (a role, or a
protocol family's records module); readers import it and call ``read(turn)``.
The stored JSON is the plain ``fields`` dict it always was, so traces written
before an extension existed read as they are (absent keys: ``None``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, ValidationError

from debate.errors import DebateError

if TYPE_CHECKING:
    from debate.trace import Turn

__all__ = ["QUOTED_KEYS", "TurnExtension", "TurnExtensionError"]


QUOTED_KEYS: set[str] = set()
"""Every :attr:`TurnExtension.quoted` key of the extensions defined so far (a writer's
module is loaded before its turns are shown to anyone)."""


class TurnExtensionError(DebateError, ValueError):
    """A turn's field that a :class:`TurnExtension` reads holds a value of the wrong kind."""


class TurnExtension(BaseModel):
    """Typed keys of :attr:`Turn.fields` that one module writes and others read.

    A subclass is defined in the module that writes it; its field names are the keys,
    in the order they are stored. Writers build it and :meth:`write` it into a turn's
    ``fields``; readers call :meth:`read`. The stored JSON is the plain ``fields``
    dict, as before there were extensions: a ``None`` is left out unless the key is
    in ``stored_none`` (keys whose ``None`` has always been stored).
    """

    model_config = ConfigDict(frozen=True, allow_inf_nan=True)

    stored_none: ClassVar[frozenset[str]] = frozenset()
    """Keys written even when their value is ``None``."""
    quoted: ClassVar[frozenset[str]] = frozenset()
    """Keys whose text a later prompt may show verbatim (a ReConcile explanation, a
    critique): an agent's ``saw`` finds the turns whose reply or quoted text its prompt
    holds. Collected over every extension in :data:`QUOTED_KEYS`."""

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        QUOTED_KEYS.update(cls.quoted)

    @classmethod
    def read(cls, turn: Turn) -> Self | None:
        """The extension's keys of ``turn``; ``None`` when it carries none of them.

        Raises:
            TurnExtensionError: a key holds a value of the wrong kind (naming the turn,
                the key and the value).

        """
        present = {k: turn.fields[k] for k in cls.model_fields if k in turn.fields}
        if not present:
            return None
        try:
            return cls.model_validate(present)
        except ValidationError as exc:
            error = exc.errors()[0]
            key = str(error["loc"][0]) if error["loc"] else "?"
            if key not in present:
                raise TurnExtensionError(
                    f"turn {turn.id!r}: fields {sorted(present)} of {cls.__name__} lack "
                    f"{key!r}") from None
            raise TurnExtensionError(
                f"turn {turn.id!r}: fields[{key!r}] = {present.get(key)!r} is not a valid "
                f"{cls.__name__}.{key} ({error['msg']})") from None

    def write(self, fields: dict[str, Any]) -> None:
        """Put the extension's keys into ``fields`` (a ``None`` only where stored so)."""
        for key in type(self).model_fields:
            value = getattr(self, key)
            if value is not None or key in self.stored_none:
                fields[key] = value
