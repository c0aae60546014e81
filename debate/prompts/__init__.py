"""Prompt templates: named text files with ``{{ field }}`` placeholders.

Rendering is a single pass over the *template*: a value is inserted as data
and never scanned again, so braces, Jinja syntax or role tags inside a
question cannot break or inject into a prompt. A template declares its
fields by using them; rendering with a missing or unknown field is an error,
and so is a template whose fields a role does not provide (checked at load).

Built-in templates live next to this module as ``NAME.md``.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from pathlib import Path

from debate.errors import TemplateError
from debate.files import read_utf8

__all__ = ["Template", "load_template", "template_file"]

_FIELD = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class Template:
    """A prompt template with declared fields.

    Args:
        text: the template text, using ``{{ field }}`` placeholders.
        name: where it came from (for error messages).

    """

    def __init__(self, text: str, name: str = "<template>") -> None:
        self.text = text
        self.name = name
        # literal, field, literal, field, ..., literal: split once, joined per render
        self._parts = _FIELD.split(text)
        self.fields = frozenset(self._parts[1::2])

    def check(self, provided: set[str] | frozenset[str]) -> None:
        """Raise :class:`TemplateError` if the template uses a field not in ``provided``."""
        unknown = self.fields - set(provided)
        if unknown:
            raise TemplateError(
                f"template {self.name} uses unknown field(s) {sorted(unknown)}; "
                f"available: {sorted(provided)}"
            )

    def render(self, **values: object) -> str:
        """Insert ``values`` (as plain text) into the template in one pass."""
        missing = self.fields - values.keys()
        if missing:
            raise TemplateError(f"template {self.name} rendered without {sorted(missing)}")
        parts = self._parts[:]
        for i in range(1, len(parts), 2):
            parts[i] = str(values[parts[i]])
        return "".join(parts)

    def __repr__(self) -> str:
        return f"Template({self.name!r}, fields={sorted(self.fields)})"


def template_file(path: Path) -> Template:
    """The template in a UTF-8 text file; a file that cannot be read is a located error."""
    return Template(read_utf8(path, TemplateError).strip("\n"), str(path))


@cache
def load_template(name: str) -> Template:
    """A built-in template by name (``du_initial``) or a template file by path."""
    path = Path(name)
    if path.suffix in (".md", ".txt") and path.exists():
        return template_file(path)
    resource = resources.files(__name__).joinpath(f"{name}.md")
    if not resource.is_file():
        raise TemplateError(f"no built-in template {name!r} and no file {name!r}")
    return Template(resource.read_text(encoding="utf-8").strip("\n"), f"{name}.md")
