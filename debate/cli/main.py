"""``debate run | export | report | compare | view | serve | roles | protocols | models``.

Each command is a function in :mod:`~debate.cli.run`, :mod:`~debate.cli.export`,
:mod:`~debate.cli.runs`, :mod:`~debate.cli.serve` or :mod:`~debate.cli.catalog`,
registered here on :data:`~debate.cli.common.app` in the order ``debate --help``
lists them.
"""

from __future__ import annotations

from debate.cli import catalog, export, run, runs, serve
from debate.cli.common import app

__all__ = ["app", "main"]

app.command()(run.run)
app.command("export")(export.export_cmd)
app.command()(runs.report)
app.command()(runs.compare)
app.command()(runs.view)
app.command()(serve.serve)
app.command()(catalog.roles)
app.command()(catalog.protocols)
app.command()(catalog.models)


def main() -> None:
    """Console entry point."""
    app(prog_name="debate")


if __name__ == "__main__":  # pragma: no cover
    main()
