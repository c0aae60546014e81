"""Reading the files a run folder keeps: damage is a located error, never a traceback.

Every JSON file debatelab reads back (``config.json``, ``summary.json``) goes
through :func:`read_json_object` or :func:`read_json_model`. A file that cannot
be read, is not UTF-8, is not JSON (a kill mid-write, a hand edit) or has the
wrong shape is a :class:`~debate.errors.ConfigError` that names the file, says
what is wrong with it (line and column for JSON, the field for a wrong shape)
and what to do about it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, Field, ValidationError

from debate.errors import ConfigError
from debate.settings import error_lines

__all__ = ["RunRecord", "check_output_file", "damaged", "read_json_model", "read_json_object",
           "read_run_record", "read_utf8"]

M = TypeVar("M", bound=BaseModel)


def damaged(path: str | Path, what: str, detail: str, fix: str) -> ConfigError:
    """``PATH: damaged WHAT (DETAIL); FIX`` as a :class:`ConfigError`."""
    return ConfigError(f"{path}: damaged {what} ({detail}); {fix}")


def read_utf8(path: str | Path, error: type[ConfigError] = ConfigError,
              fix: str = "save it as UTF-8") -> str:
    """The text in ``path``; a file that cannot be read or is not UTF-8 is ``error``.

    The message names the file (and the byte that is not UTF-8), then ``fix``.
    """
    try:
        return Path(path).read_bytes().decode("utf-8")
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); {fix}"
                    ) from exc


def read_json_object(path: str | Path, what: str, fix: str) -> dict[str, Any]:
    """The JSON object in ``path``; damage is a :func:`damaged` error with ``fix``."""
    path = Path(path)
    text = read_utf8(path, fix=f"a damaged {what}: {fix}")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        reason = "empty" if not text.strip() else (
            f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}")
        raise damaged(path, what, reason, fix) from exc
    if not isinstance(data, dict):
        raise damaged(path, what, f"a JSON {type(data).__name__}, not an object", fix)
    return data


def read_json_model(path: str | Path, model: type[M], what: str, fix: str) -> M:
    """``model`` read from the JSON object in ``path``; a wrong shape names the field."""
    data = read_json_object(path, what, fix)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        more = f" and {exc.error_count() - 1} more" if exc.error_count() > 1 else ""
        raise damaged(path, what, error_lines(exc, model)[0] + more, fix) from exc


class RunRecord(BaseModel):
    """``config.json``: the experiment a run folder holds, as the runner writes it."""

    identity: str
    """The experiment's identity hash."""
    fingerprint: dict[str, Any] | None = None
    """The hashed components, to list what changed on a re-run."""
    config: dict[str, Any] = Field(default_factory=dict)
    """The resolved config, without secrets."""
    forced: list[dict[str, Any]] = Field(default_factory=list)
    """Each ``--force`` continuation: when, from and to which identity, what changed."""


CONFIG_FIX = ("it records the experiment this folder holds (identity, config, prices): restore "
              "it from a copy; or move it away to read the traces without it, and start any "
              "further run with --name NEW_NAME")
SUMMARY_FIX = ("move it away: `debate report` and a re-run rebuild it from traces.jsonl (the wall "
               "time, requests and unfinished debates of earlier invocations go with it)")


def read_run_record(run_dir: str | Path) -> RunRecord | None:
    """The run folder's ``config.json`` (``None`` without one); damage is located."""
    path = Path(run_dir) / "config.json"
    if not path.exists():
        return None
    return read_json_model(path, RunRecord, "run record", CONFIG_FIX)


def check_output_file(path: str | Path, markers: tuple[str, ...], option: str) -> None:
    """Refuse to replace a file debatelab did not write (a :class:`ConfigError` naming it).

    ``path`` may be new, or a file whose first 4 KB hold one of ``markers`` (what
    debatelab writes into such files: the viewer's generator tag, the plots'
    ``data-generator``). A folder, a run's own file or anything else is refused.
    """
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return
    if path.is_dir():
        raise ConfigError(f"{option} {path}: is a folder; name a file")
    try:
        with path.open("rb") as file:
            head = file.read(4096)
    except OSError as exc:
        raise ConfigError(f"{option} {path}: cannot read it: {exc.strerror or exc}") from exc
    if path.is_symlink() or not any(marker.encode() in head for marker in markers):
        raise ConfigError(f"{option} {path}: exists and was not written by debatelab; it is "
                          "never replaced: name a new file, or move this one away")
