"""Screenshot a run's `debate view` page in headless Chromium (docs/viewer.png).

    debate run experiments/du-sums-smollm2.yaml
    python scripts/viewer_screenshot.py runs/du-sums-smollm2 docs/viewer.png

Opens the first debate in which an agent changed its answer (else the first), clicks
its first round-1 cell, and shoots the top of the page. Needs Playwright and the
system Chromium (`chromium` on PATH); it never downloads a browser.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from urllib.parse import quote

from debate.trace import read_traces
from debate.viewer import build_viewer


def main() -> None:
    run, png = Path(sys.argv[1]), Path(sys.argv[2])
    page_file = build_viewer([run], run / "view.html")
    traces = list(read_traces(run / "traces.jsonl"))
    changed = [t for t in traces if len({(x.agent, x.answer) for x in t.turns})
               > len({x.agent for x in t.turns})]
    trace = (changed or traces)[0]
    cell = next((t.id for t in trace.turns if t.round == 1), trace.turns[0].id)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium")
        page = browser.new_page(viewport={"width": 1200, "height": 1100})
        page.goto(f"{page_file.resolve().as_uri()}#debate={quote(trace.id)}&turn={quote(cell)}")
        page.wait_for_selector("#messages")
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(png))
        browser.close()
    print(png)


if __name__ == "__main__":
    main()
