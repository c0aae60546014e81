"""Every file a command writes gets the same permissions: what a plain ``open(path, "w")``
gives (0666 less the umask), as ``summary.json`` and ``traces.jsonl`` have."""

import json
import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from debate.cli import app

runner = CliRunner()


@pytest.fixture
def umask_022():
    before = os.umask(0o022)
    try:
        yield 0o644
    finally:
        os.umask(before)


def run(root: Path, name: str) -> Path:
    data = root / "questions.jsonl"
    data.write_text(json.dumps({"id": "q1", "question": "1 + 1?", "answer": 2}) + "\n")
    result = runner.invoke(app, ["run", "--dataset", str(data), "--task", "numeric",
                                 "-m", "scripted:reply=\\boxed{2}", "--rounds", "0",
                                 "--out", str(root), "--name", name, "--no-progress"])
    assert result.exit_code == 0, result.output
    return root / name


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_compare_svg_and_every_output_have_the_mode_of_summary_json(tmp_path, umask_022):
    """Before: compare.svg (and every file written atomically) was 0600, summary.json 0644;
    now all are 0644 under umask 022."""
    a, b = run(tmp_path, "a"), run(tmp_path, "b")
    plot = tmp_path / "compare.svg"
    result = runner.invoke(app, ["compare", str(a), str(b), "--plot", str(plot)])
    assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["view", str(a)]).exit_code == 0
    assert mode(a / "summary.json") == umask_022
    written = [plot, a / "view.html", a / "accuracy.svg", a / "results.csv", a / "report.md"]
    assert {str(path.name): oct(mode(path)) for path in written} == \
        {str(path.name): oct(umask_022) for path in written}
