"""``debate roles | protocols | models``: what is registered, with options and graphs."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from debate.cli.common import Opt, err, fail, out
from debate.errors import DebateError


def roles(
    name: Annotated[str | None, typer.Argument(help="Show one role.")] = None,
) -> None:
    """List registered roles, or show one role's templates and the fields each may use."""
    from rich.table import Table

    from debate.agents.base import ROLES, get_role

    try:
        for role_name in [name] if name else ROLES.names():
            cls = get_role(role_name)
            doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
            out.print(f"[bold]{role_name}[/bold]  {escape(doc)}", highlight=False)
            if name:
                table = Table("template", "fields it may use", "default (debate/prompts/)",
                              box=None)
                for key, default in cls.default_templates.items():
                    fields = ", ".join(sorted(cls.template_fields.get(key, ()))) or "(none)"
                    table.add_row(key, fields, f"{default}.md")
                out.print(table)
    except (DebateError, OSError) as exc:
        fail(exc)


def protocols(
    name: Annotated[str | None, typer.Argument(help="Show one protocol.")] = None,
    graph: Annotated[bool, Opt("--graph", help="Print the protocol's graph (mermaid).")] = False,
) -> None:
    """List registered protocols, or show one protocol's options and graph."""
    from debate.protocols.base import PROTOCOLS, get_protocol

    try:
        names = [name] if name else PROTOCOLS.names()
        for proto_name in names:
            cls = get_protocol(proto_name)
            doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
            out.print(f"[bold]{proto_name}[/bold]  {escape(doc)}", highlight=False)
            if cls.paper:
                out.print(f"  paper: {cls.paper}", markup=False, highlight=False)
            if name:
                for field, info in cls.config_class.model_fields.items():
                    default = info.get_default(call_default_factory=True)
                    out.print(f"  {field} = {default!r}  {info.description or ''}",
                              markup=False, highlight=False)
            if graph:
                out.print(cls().mermaid(), markup=False, highlight=False)
        for plugin, error in PROTOCOLS.plugin_errors.items():
            err.print(f"plug-in {plugin!r} failed to load: {error}", markup=False)
    except (DebateError, OSError) as exc:
        fail(exc)


def models() -> None:
    """Show the model spec forms, the registered backends and the scripted models' names."""
    from debate.models.backends_registry import BACKENDS
    from debate.models.spec import SPEC_FORMS
    from debate.testing.scripted import script_names

    lines = [SPEC_FORMS.rstrip("\n"), "", f"  backends: {', '.join(BACKENDS.names())}", "",
             "  scripted models (no network, no weights):"]
    lines += [f"    {'scripted:' + name:<33} {what}" for name, what in script_names().items()]
    out.print("\n".join(lines), markup=False, highlight=False, soft_wrap=True)
