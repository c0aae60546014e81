"""docs/harness.md's Python example runs as written (tests/test_docs.py runs the guide pages)."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_the_harness_pages_sdk_example_runs_and_prints_the_boxed_answer(tmp_path):
    """Before: no page. Now: its ```python blocks, as one script, serve and ask a debate."""
    page = (ROOT / "docs" / "harness.md").read_text()
    code = "\n".join(re.findall(r"```python\n(.*?)```", page, flags=re.S))
    (tmp_path / "page.py").write_text(code)
    env = {**os.environ, "DEBATELAB_BLOCK_HOSTED": "1", "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "page.py"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "\\boxed{18}"
