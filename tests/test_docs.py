"""The guide's examples run as written, and do what the guide says.

The protocol guide's protocol is run from its file by the CLI (below). Every
other guide page (``docs/concepts.md``, ``docs/extending/*.md``) is one script:
its ```` ```python ```` blocks, in order, run in a fresh interpreter in an empty
folder (so what a page registers stays out of this process), with hosted
backends blocked. Blocks a page shows but does not run use another fence
(``bash``, ``yaml``, ``toml``).
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from debate.cli.main import app

ROOT = Path(__file__).parent.parent
GUIDE = ROOT / "protocols" / "writing-a-protocol.md"
PAGES = [ROOT / "docs" / "concepts.md", *sorted((ROOT / "docs" / "extending").glob("*.md"))]


def guide_code() -> str:
    (code,) = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), flags=re.S)
    return code


def test_the_guides_protocol_runs_from_its_file_as_the_guide_says(tmp_path):
    (tmp_path / "challenge.py").write_text(guide_code())
    result = CliRunner().invoke(app, [
        "run", "--protocol", f"{tmp_path}/challenge.py:Challenge", "-m", "scripted:first-number",
        "--dataset", "experiments/data/arithmetic.jsonl", "--limit", "2",
        "--out", str(tmp_path / "runs"), "--name", "guide", "--no-progress"])
    assert result.exit_code == 0, result.output
    lines = (tmp_path / "runs" / "guide" / "traces.jsonl").read_text().splitlines()
    for trace in map(json.loads, lines):
        turns = trace["turns"]
        # 2 answers, then the skeptic's critique and 2 revisions; majority needs no call
        assert [(t["agent"], t["kind"], t["round"]) for t in turns] == [
            ("agent-0", "answer", 0), ("agent-1", "answer", 0), ("skeptic", "critique", 1),
            ("agent-0", "answer", 1), ("agent-1", "answer", 1)]
        first, _, critique, revised, _ = turns
        assert critique["saw"] == [turns[0]["id"], turns[1]["id"]]  # both first answers
        # a debater's second call continues its first chat, then reads the critique
        assert revised["messages"][:len(first["messages"])] == first["messages"]
        # (on disk a turn's messages index the debate's table of [role, content] pairs)
        assert trace["messages"][revised["messages"][len(first["messages"])]] == [
            "assistant", first["raw"]]
        assert trace["final"]["method"] == "majority" and trace["final"]["answer"] is not None


def test_the_guides_call_count_is_what_a_debate_makes(tmp_path):
    import asyncio

    from debate import Question, run_debate
    from debate.experiment.plugins import protocol_from_file

    (tmp_path / "challenge.py").write_text(guide_code())
    cls = protocol_from_file(f"{tmp_path}/challenge.py:Challenge")
    for rounds in (1, 2):
        trace = asyncio.run(run_debate(Question(id="q", text="What is 2 + 3?", task="numeric"),
                                       protocol=cls(rounds=rounds),
                                       models="scripted:first-number"))
        assert len(trace.turns) == cls(rounds=rounds).max_calls() == 2 + 3 * rounds


def page_code(page: Path) -> str:
    """A page's ```` ```python ```` blocks, in order, as one script."""
    return "\n".join(re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_each_guide_pages_examples_run_as_one_script(page, tmp_path):
    code = page_code(page)
    assert code, f"{page} has no ```python block"
    (tmp_path / "page.py").write_text(code)
    env = {**os.environ, "DEBATELAB_BLOCK_HOSTED": "1", "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "page.py"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{page.name}:\n{result.stdout}\n{result.stderr}"


def test_every_guide_page_is_run_and_linked_from_the_readme():
    readme = (ROOT / "README.md").read_text()
    for page in PAGES:
        assert str(page.relative_to(ROOT)) in readme, f"README.md does not link {page.name}"
