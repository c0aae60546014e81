"""``debate roles | protocols | models``: what is registered, with options and graphs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from debate.cli.common import Opt, err, fail, out
from debate.errors import DebateError

if TYPE_CHECKING:
    from debate.protocols.base import DebateProtocol

_PLUGIN = Opt("--plugin", help="Python file or module to import first (what it registers is "
              "listed); repeatable.")


def roles(
    name: Annotated[str | None, typer.Argument(help="Show one role.")] = None,
    plugin: Annotated[list[str] | None, _PLUGIN] = None,
) -> None:
    """List registered roles, or show one role's templates and the fields each may use."""
    from rich.table import Table

    from debate.agents.base import ROLES, get_role

    try:
        _load_plugins(plugin or [])
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
    name: Annotated[str | None, typer.Argument(
        help="Show one protocol: a registered name or path/to/file.py:ClassName.")] = None,
    graph: Annotated[bool, Opt("--graph", help="Print the protocol's graph (mermaid).")] = False,
    plugin: Annotated[list[str] | None, _PLUGIN] = None,
) -> None:
    """List registered protocols, or show one protocol's options and graph."""
    from debate.experiment.plugins import protocol_from_file, split_file_ref
    from debate.protocols.base import PROTOCOLS, get_protocol

    try:
        _load_plugins(plugin or [])
        for proto_name in [name] if name else PROTOCOLS.names():
            cls = (protocol_from_file(proto_name) if split_file_ref(proto_name)
                   else get_protocol(proto_name))
            _show_protocol(proto_name, cls, detail=name is not None, graph=graph)
        for failed, error in PROTOCOLS.plugin_errors.items():
            err.print(f"plug-in {failed!r} failed to load: {error}", markup=False)
    except (DebateError, OSError) as exc:
        fail(exc)


def _show_protocol(name: str, cls: type[DebateProtocol], detail: bool, graph: bool) -> None:
    """One protocol's line; with ``detail`` its options (and what ``rounds`` counts)."""
    doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
    out.print(f"[bold]{escape(name)}[/bold]  {escape(doc)}", highlight=False)
    if cls.paper:
        out.print(f"  paper: {cls.paper}", markup=False, highlight=False)
    if detail:
        for field, info in cls.config_class.model_fields.items():
            default = info.get_default(call_default_factory=True)
            out.print(f"  {field} = {default!r}  {info.description or ''}",
                      markup=False, highlight=False)
        if "rounds" in cls.config_class.model_fields:
            out.print(f"  rounds counts: {cls.rounds_meaning}", markup=False, highlight=False)
    if graph:
        out.print(cls().mermaid(), markup=False, highlight=False)


def _load_plugins(refs: list[str]) -> None:
    """Import each ``--plugin`` file or module, so what it registers is listed."""
    from debate.experiment.plugins import load_plugin

    for ref in refs:
        load_plugin(ref)


def models() -> None:
    """Show the model spec forms, the registered backends and the scripted models' names."""
    from debate.models.backends_registry import BACKENDS
    from debate.models.spec import SPEC_FORMS
    from debate.testing.scripted import script_names

    lines = [SPEC_FORMS.rstrip("\n"), "", f"  backends: {', '.join(BACKENDS.names())}", "",
             "  scripted models (no network, no weights):"]
    lines += [f"    {'scripted:' + name:<33} {what}" for name, what in script_names().items()]
    out.print("\n".join(lines), markup=False, highlight=False, soft_wrap=True)
