"""``debate view``: one self-contained HTML file to read runs and their debates.

The page needs no server and no network (it opens from ``file://``, can be mailed):
CSS and JavaScript are inlined, and the data travels in ``<script>`` data blocks:
the index (runs and one row per debate) as JSON escaped by :func:`json_for_html`,
so no user text (a question holding ``</script>``) can end the element, and each
chunk of debate details (messages, raw replies) as gzip-compressed JSON in base64
(:func:`pack`), unpacked when one of its debates is opened: transcripts repeat
their prompt templates, and compressed they take about a twentieth of the room. Jinja2, with
autoescaping, renders only the static frame and the runs' names; the script
builds everything else with ``textContent`` and ``createElement``, never HTML
strings, so user text always shows as text.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, StrictUndefined
from markupsafe import Markup

from debate.trace import spell_non_finite
from debate.viewer.data import ViewerData, viewer_data

__all__ = ["build_viewer", "json_for_html", "pack", "render_viewer"]

_HTML_UNSAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                              "\u2028": "\\u2028", "\u2029": "\\u2029"})


def json_for_html(value: Any) -> str:
    r"""``value`` as JSON that is safe inside a ``<script>`` element.

    ``<``, ``>``, ``&`` and the JavaScript line separators U+2028/U+2029 become
    ``\u`` escapes; they can only occur inside JSON strings, where the escape
    means the same character, so ``JSON.parse`` gives back ``value`` exactly.
    """
    return _json(value).translate(_HTML_UNSAFE)


def pack(value: Any) -> str:
    """``value`` as gzip-compressed JSON in base64.

    The page unpacks it with ``DecompressionStream``; base64 holds no character that
    could end a ``<script>`` element.
    """
    raw = _json(value)
    return base64.b64encode(gzip.compress(raw.encode("utf-8"), 6, mtime=0)).decode("ascii")


def _json(value: Any) -> str:
    """Compact JSON; a NaN or an infinity (a ``-inf`` logprob) spelled as a string.

    The trace file has them so, and ``JSON.parse`` knows no NaN.
    """
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError:
        return json.dumps(spell_non_finite(value), ensure_ascii=False, separators=(",", ":"),
                          allow_nan=False)


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def _inline(name: str) -> Markup:
    """A packaged script or style sheet, to inline verbatim (it is ours, not user text)."""
    text = _asset(name)
    if "</" in text.replace("<\\/", ""):  # would end its <script>/<style> element early
        raise ValueError(f"debate/viewer/{name} contains '</'; write '<\\/' instead")
    return Markup(text)


def render_viewer(data: ViewerData, title: str = "debate view") -> str:
    """The page for ``data``, as one HTML string."""
    env = Environment(autoescape=True, undefined=StrictUndefined, keep_trailing_newline=True)
    template = env.from_string(_asset("template.html.j2"))
    return template.render(
        title=title, runs=[run["name"] for run in data.index["runs"]],
        debates=len(data.index["debates"]),
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        css=_inline("viewer.css"), js=_inline("charts.js") + "\n" + _inline("viewer.js"),
        data=Markup(json_for_html(data.index)),
        chunks=[pack(chunk) for chunk in data.chunks])


def build_viewer(run_dirs: Sequence[Path], out: Path) -> Path:
    """Write the viewer of ``run_dirs`` (run folders) to ``out``; return ``out``.

    Raises :class:`debate.errors.ConfigError` naming a folder without ``traces.jsonl``,
    or an ``out`` that exists and is not a page ``debate view`` wrote (never replaced).
    The page is written whole or not at all.
    """
    from debate.analysis.results import write_text_atomic
    from debate.files import check_output_file

    out = Path(out)
    check_output_file(out, (GENERATOR,), "--out")
    run_dirs = [Path(run_dir) for run_dir in run_dirs]
    data = viewer_data(run_dirs)
    title = "debate view: " + ", ".join(run_dir.name for run_dir in run_dirs)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, render_viewer(data, title))
    return out


GENERATOR = '<meta name="generator" content="debatelab debate view">'
"""The tag every page ``debate view`` writes carries (and the check for replacing one)."""
