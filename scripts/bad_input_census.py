"""Class every case of the bad-input corpus on any checkout: located / other error /
traceback / silent / hang.

    python scripts/bad_input_census.py                  # this checkout
    python scripts/bad_input_census.py --code /tmp/old  # another checkout's debate/ package

Each case (``tests/test_bad_input.py``'s ``CASES``) runs in a fresh folder, as a
subprocess (``debate`` as ``python -c``) with ``--code`` first on PYTHONPATH, so a
hang is a timeout and a traceback is what a user would see. Classes:

- located: exit code 2 and the output names the file or option (the case's pattern);
- other error: refused without a traceback, but not as the case expects (another exit
  code, or a message that does not match: read it, it may still name the place);
- traceback: Python's traceback reached the user;
- silent: exit code 0, the bad input accepted;
- hang: still running after ``--timeout`` seconds.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from test_bad_input import CASES, GOOD, Case, write  # noqa: E402


def invoke(argv: tuple[str, ...], cwd: Path, code: Path, timeout: float
           ) -> subprocess.CompletedProcess[str] | None:
    env = {**os.environ, "PYTHONPATH": str(code), "DEBATELAB_BLOCK_HOSTED": "1",
           "COLUMNS": "200", "NO_COLOR": "1"}
    try:
        return subprocess.run([sys.executable, "-c", "from debate.cli import main; main()",
                               *argv], cwd=cwd,
                              env=env, capture_output=True, text=True, timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired:
        return None


def classify(case: Case, code: Path, timeout: float) -> tuple[str, str]:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write(root / "d.jsonl", GOOD)
        for name, content in case.files.items():
            write(root / name, content)
        for argv in case.prepare:
            done = invoke(argv, root, code, timeout)
            if done is None or done.returncode != 0:
                return "setup failed", "" if done is None else done.stderr[-300:]
        for name, content in case.damage.items():
            write(root / name, content)
        done = invoke(case.argv, root, code, timeout)
    if done is None:
        return "hang", ""
    output = done.stdout + done.stderr
    last = output.strip().splitlines()[-1] if output.strip() else ""
    if "Traceback" in output:
        return "traceback", last
    if done.returncode == 0:
        return "silent", last
    if done.returncode == 2 and re.search(case.expect, output):
        return "located", last
    return "other error", last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout whose debate/ runs")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds before a hang")
    parser.add_argument("-v", "--verbose", action="store_true", help="a line per case")
    args = parser.parse_args()
    counts: Counter[str] = Counter()
    for case in CASES:
        kind, last = classify(case, args.code.resolve(), args.timeout)
        counts[kind] += 1
        if args.verbose or kind != "located":
            print(f"{kind:12} {case.id:36} {last[:140]}", flush=True)
    print(f"\n{len(CASES)} cases: " + ", ".join(f"{k} {n}" for k, n in counts.most_common()))


if __name__ == "__main__":
    main()
