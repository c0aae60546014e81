"""The ``debate`` command: thin over the Python API."""

from debate.cli.main import app, main

__all__ = ["app", "main"]
