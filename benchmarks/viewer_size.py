"""`debate view` on a large run: file size, build time, first paint, filtering and opening.

Runs N scripted du debates (3 agents, initial answers + 2 debate rounds: 9 calls each;
some answers wrong, some unparsed, some changed), builds the viewer and opens it in
headless Chromium through Playwright (the system browser, never a download).

    python benchmarks/viewer_size.py            # 10 000 debates
    python benchmarks/viewer_size.py 2000 --keep runs/viewer-bench

Playwright is not a dependency of debatelab: without it the browser timings are left out.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import tempfile
import time
from pathlib import Path

from debate import ExperimentConfig, run_experiment
from debate.testing import register_script
from debate.viewer import build_viewer


def noisy(messages, params):  # type: ignore[no-untyped-def]
    """Mostly the right sum; sometimes off by one, sometimes no number at all."""
    a, b = map(int, re.findall(r"What is (\d+) \+ (\d+)\?", messages[0].content)[0])
    roll = hashlib.blake2b("".join(m.content for m in messages).encode(), digest_size=2)
    luck = int.from_bytes(roll.digest()) % 10
    if luck == 0:
        return "Hard to say; I would rather not commit."
    answer = a + b + (1 if luck < 4 else 0)
    return f"Adding {a} and {b} step by step gives {answer}. The answer is \\boxed{{{answer}}}."


def make_run(root: Path, debates: int) -> Path:
    data = root / "sums.jsonl"
    with data.open("w") as f:
        for i in range(debates):
            a, b = 17 * i % 997, 31 * i % 89
            f.write(json.dumps({"id": f"sum-{i:05d}", "question": f"What is {a} + {b}?",
                                "answer": a + b}) + "\n")
    register_script("noisy", noisy)
    config = ExperimentConfig(name="viewer-bench", models=["scripted:noisy"], agents=3, rounds=2,
                              dataset={"path": str(data), "task": "numeric"},
                              output_dir=str(root), concurrency=64, cache=False)
    run_experiment(config, progress=False)
    return root / "viewer-bench"


def browser_timings(page_file: Path) -> dict[str, float] | None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        started = time.perf_counter()
        page.goto(page_file.resolve().as_uri(), timeout=120_000)
        page.wait_for_selector("body[data-ready='1']", timeout=120_000)
        wall = time.perf_counter() - started
        paint = page.evaluate("""() => ({
            fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime,
            drawn: performance.getEntriesByName('debate-view-painted')[0].startTime})""")
        page.evaluate("location.hash = '#view=debates'")
        page.wait_for_selector("#debate-rows tr")
        filter_ms = page.evaluate("""() => {
            const select = document.getElementById('filter-change');
            const t = performance.now();
            select.value = 'up'; select.dispatchEvent(new Event('change'));
            return performance.now() - t; }""")
        search_ms = page.evaluate("""() => new Promise((done) => {
            const box = document.getElementById('filter-q');
            box.value = '+ 1?'; box.dispatchEvent(new Event('input'));
            setTimeout(() => {  // after the 120 ms debounce
                const t = performance.now();
                box.dispatchEvent(new Event('input'));
                setTimeout(() => done(performance.now() - t - 120), 120); }, 200); })""")
        last = page.evaluate("JSON.parse(document.getElementById('data').textContent)"
                             ".debates.at(-1).id")
        open_ms = page.evaluate("""(id) => new Promise((done) => {
            const t = performance.now();
            location.hash = '#debate=' + encodeURIComponent(id);
            const poll = () => document.getElementById('grid')
                ? done(performance.now() - t) : requestAnimationFrame(poll);
            poll(); })""", last)
        browser.close()
    if errors:
        raise RuntimeError(f"page errors: {errors}")
    return {"load_to_ready_s": wall, "first_contentful_paint_ms": paint["fcp"],
            "drawn_ms": paint["drawn"], "filter_ms": filter_ms, "search_ms": search_ms,
            "open_last_debate_ms": open_ms}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("debates", type=int, nargs="?", default=10_000)
    parser.add_argument("--keep", type=Path, help="Folder to keep the run and view.html in.")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="viewer-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    run = make_run(root, args.debates)
    ran = time.perf_counter() - started
    started = time.perf_counter()
    page_file = build_viewer([run], run / "view.html")
    built = time.perf_counter() - started
    traces_mb = (run / "traces.jsonl").stat().st_size / 1e6
    result = {"debates": args.debates, "run_s": round(ran, 1), "build_s": round(built, 2),
              "traces_jsonl_mb": round(traces_mb, 1),
              "view_html_mb": round(page_file.stat().st_size / 1e6, 2)}
    timings = browser_timings(page_file)
    if timings:
        result |= {k: round(v, 1) for k, v in timings.items()}
    print(json.dumps(result, indent=2))
    if args.keep is None:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
