"""``debate view``: the data it embeds, its escaping, and the page in a real browser.

The browser test drives the system Chromium (Debian's ``chromium``) with Playwright,
never a downloaded browser. Without Chromium or Playwright it is skipped, except
under ``CI=true``, where it fails: CI must run it.
"""

import base64
import gzip
import json
import os
import re
import shutil
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from debate.cli import app
from debate.testing import register_script
from debate.trace import read_traces
from debate.viewer import build_viewer, json_for_html
from debate.viewer.data import CHANGED, DOWN, UNPARSED, UP, viewer_data

runner = CliRunner()

NASTY = "</script><script>window.pwned = 1</script> <b>bold</b> {{ x }} {% if %}<!-- \u2028"
QUESTIONS = [{"id": "esc-1", "question": "What is 2 + 2? " + NASTY, "answer": 4},
             {"id": "plain-2", "question": "What is 1 + 3?", "answer": 4}]
FIRST = "I think \\boxed{3}. <b>bold</b> </script><!--"
SECOND = "Now \\boxed{4} {{ x }}"


def flip_up(messages, params):
    """Wrong (3) first, right (4) once it has seen the others."""
    return FIRST if len(messages) == 1 else SECOND


def mute(messages, params):
    """Never a number: always unparsed."""
    return "no idea {% if %}"


def make_run(tmp_path: Path, name: str = "esc") -> Path:
    data = tmp_path / "questions.jsonl"
    data.write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS))
    register_script("flip-up", flip_up)
    register_script("mute", mute)
    result = runner.invoke(app, ["run", "--dataset", str(data), "--task", "numeric",
                                 "-m", "scripted:flip-up", "-m", "scripted:flip-up",
                                 "-m", "scripted:mute", "--rounds", "1", "--out", str(tmp_path),
                                 "--name", name, "--no-progress"])
    assert result.exit_code == 0, result.output
    return tmp_path / name


def embedded(html: str, element_id: str):
    found = re.search(f'<script type="application/json" id="{element_id}">(.*?)</script>', html,
                      re.S)
    assert found, element_id
    return json.loads(found.group(1))


def unpacked(html: str, k: int):
    found = re.search(f'<script [^>]*id="chunk-{k}">(.*?)</script>', html, re.S)
    assert found, k
    return json.loads(gzip.decompress(base64.b64decode(found.group(1))))


def test_json_for_html_cannot_end_its_script_element_and_round_trips():
    value = {"q": NASTY + " & > \u2029", "n": [1, None, 2.5]}
    text = json_for_html(value)
    assert not set("<>&\u2028\u2029") & set(text)
    assert "\\u003c/script\\u003e" in text and "\\u2028" in text
    assert json.loads(text) == value


def test_nan_and_infinity_reach_the_page_as_strings_not_a_crash():
    from debate.viewer import pack

    value = {"logprobs": [float("-inf"), -0.5], "confidence": float("nan")}
    assert json.loads(json_for_html(value)) == {"logprobs": ["-Infinity", -0.5],
                                                "confidence": "NaN"}
    packed = json.loads(gzip.decompress(base64.b64decode(pack(value))))
    assert packed["logprobs"] == ["-Infinity", -0.5]


def test_page_numbers_equal_summary_json_and_turns_give_back_the_trace(tmp_path):
    run = make_run(tmp_path)
    html = build_viewer([run], tmp_path / "view.html").read_text()
    index = embedded(html, "data")
    summary = json.loads((run / "summary.json").read_text())
    shown = index["runs"][0]["summary"]
    assert {k: shown[k] for k in summary} == summary
    assert shown["vote_accuracy"] == summary["rounds"][0]["majority_accuracy"]
    chunk = unpacked(html, 0)
    strings = chunk["strings"]
    assert len(strings) == len(set(strings))  # each distinct string once
    traces = list(read_traces(run / "traces.jsonl"))
    assert [row["qid"] for row in index["debates"]] == [t.question.id for t in traces]
    for trace, detail in zip(traces, chunk["debates"], strict=True):
        for turn, record in zip(trace.turns, detail["turns"], strict=True):
            assert [[role, strings[s]] for role, s in record["m"]] == \
                [[m.role, m.content] for m in turn.messages]
            assert strings[record["raw"]] == turn.raw
    # every turn's chat repeats earlier ones: far more references than strings
    refs = sum(len(t["m"]) + 1 for d in chunk["debates"] for t in d["turns"])
    assert refs > 2 * len(strings)


def test_after_a_resume_on_fewer_questions_the_page_shows_what_summary_json_counts(tmp_path):
    """A run resumed with ``--limit 1`` counts one debate; the page, results.csv and
    summary.json must agree on it, though traces.jsonl still holds the others."""
    run = make_run(tmp_path)
    assert len(list(read_traces(run / "traces.jsonl"))) == len(QUESTIONS) > 1
    data = tmp_path / "questions.jsonl"
    result = runner.invoke(app, ["run", "--dataset", str(data), "--task", "numeric",
                                 "-m", "scripted:flip-up", "-m", "scripted:flip-up",
                                 "-m", "scripted:mute", "--rounds", "1", "--out", str(tmp_path),
                                 "--name", "esc", "--limit", "1", "--no-progress"])
    assert result.exit_code == 0, result.output
    summary = json.loads((run / "summary.json").read_text())
    index = viewer_data([run]).index
    assert summary["debates"] == 1 == len(index["debates"])
    assert index["debates"][0]["qid"] == QUESTIONS[0]["id"]
    assert index["runs"][0]["summary"]["accuracy"] == summary["accuracy"]


def test_answers_are_scored_and_flagged_as_the_metrics_count_them(tmp_path):
    data = viewer_data([make_run(tmp_path)])
    row = data.index["debates"][0]
    # agents 0 and 1 go 3 -> 4 (gold 4): changed, wrong->right; agent 2 never parses
    assert row["agents"] == ["agent-0", "agent-1", "agent-2"]
    assert row["flags"] == [CHANGED | UP, CHANGED | UP, UNPARSED]
    assert (row["vote0"], row["final"], row["ok"], row["rounds"], row["calls"]) == \
        ("3", "4", True, 1, 6)  # rounds: the last round's number, as in results.csv
    turns = {t["id"]: t for t in data.chunks[0]["debates"][0]["turns"]}
    first, second = turns["r0/agent-0/answer"], turns["r1/agent-0/answer"]
    assert (first["ok"], first["changed"], first["dir"], first["prev"]) == \
        (False, False, None, None)
    assert (second["ok"], second["changed"], second["dir"], second["prev"]) == \
        (True, True, "up", "r0/agent-0/answer")
    unparsed = turns["r1/agent-2/answer"]
    assert (unparsed.get("answer"), unparsed["ok"], unparsed["changed"]) == (None, False, False)
    summary = data.index["runs"][0]["summary"]
    assert sum(r["wrong_to_right"] for r in summary["rounds"]) == 4  # 2 agents x 2 debates
    assert not any(bits & DOWN for d in data.index["debates"] for bits in d["flags"])


def test_user_text_in_the_frame_is_escaped_and_in_the_data_cannot_break_out(tmp_path):
    run = make_run(tmp_path, name="<b>run&{{ x }}")
    html = build_viewer([run], tmp_path / "view.html").read_text()
    assert "&lt;b&gt;run&amp;{{ x }}" in html and "<b>run" not in html
    assert "<b>bold" not in html and "<!--" not in html
    # the only </script> are the page's own: data, one chunk, the script
    assert html.count("</script>") == 3
    assert embedded(html, "data")["debates"][0]["text"] == QUESTIONS[0]["question"]


def test_cli_writes_next_to_one_run_or_here_for_several(tmp_path, monkeypatch):
    run = make_run(tmp_path)
    result = runner.invoke(app, ["view", str(run)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(run / "view.html") and (run / "view.html").exists()
    other = make_run(tmp_path, name="other")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["view", str(run), str(other)])
    assert result.exit_code == 0 and result.output.strip() == "view.html"
    assert len(embedded((tmp_path / "view.html").read_text(), "data")["runs"]) == 2
    result = runner.invoke(app, ["view", str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and "nowhere: no traces.jsonl here" in result.output


# ---- in a real browser ---------------------------------------------------------------


def watched_page(browser: Any, problems: list[str]) -> Any:
    """A 1280x900 page whose console errors and warnings and page errors go to ``problems``."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    return page

def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and Path("/usr/bin/chromium").exists():
        found = "/usr/bin/chromium"
    missing = None
    if found is None:
        missing = "no chromium on PATH (apt-get install -y chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "playwright is not installed (pip install playwright; no browser download)"
    if missing is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the browser test must run in CI: {missing}")
        pytest.skip(missing)
    return str(found)


def test_the_page_in_headless_chromium(tmp_path):
    chromium = _chromium()
    from playwright.sync_api import expect, sync_playwright

    run = make_run(tmp_path)
    page_file = build_viewer([run], tmp_path / "view.html")
    summary = json.loads((run / "summary.json").read_text())
    trace = next(read_traces(run / "traces.jsonl"))
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium)
        try:
            page = watched_page(browser, problems)
            page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
            page.on("request", lambda r: None if r.url.startswith("file:")
                    else problems.append(f"request: {r.url}"))
            url = page_file.resolve().as_uri()
            page.goto(url)
            page.wait_for_selector("body[data-ready='1']")
            # the overview, drawn by the script, shows summary.json's numbers
            overview = page.inner_text("#app")
            assert f"{100 * summary['accuracy']:.1f}%" in overview
            assert page.locator("#run-0 svg circle").count() == 4  # 2 rounds x 2 series
            # the list: one row per debate; a filter narrows it
            page.goto(url + "#view=debates")
            page.wait_for_selector("#debate-rows tr")
            assert page.locator("#debate-rows tr").count() == 2
            page.select_option("#filter-change", "down")
            assert page.locator("#debate-rows tr").count() == 0
            page.select_option("#filter-change", "up")
            assert page.locator("#debate-rows tr").count() == 2  # agents 0 and 1: 3 -> 4
            # per agent: agent-2 never parses, so it never moved toward gold
            page.select_option("#filter-agent", "agent-2")
            assert page.locator("#debate-rows tr").count() == 0
            page.select_option("#filter-agent", "agent-0")
            assert page.locator("#debate-rows tr").count() == 2
            page.select_option("#filter-agent", "")
            page.select_option("#filter-unparsed", "no")  # agent-2 is unparsed in both
            assert page.locator("#debate-rows tr").count() == 0
            page.select_option("#filter-unparsed", "yes")
            page.select_option("#filter-outcome", "correct")  # both end on 4, the gold
            page.select_option("#filter-stop", "max_rounds")
            assert page.locator("#debate-rows tr").count() == 2
            page.select_option("#filter-outcome", "")
            page.fill("#filter-q", "script")
            expect(page.locator("#debate-rows tr")).to_have_count(1)
            # one debate: the grid comes from the script; a click shows what the call sent
            page.click("#debate-rows tr")
            page.wait_for_selector("#grid")
            assert page.locator("#grid [data-turn]").count() == len(trace.turns)
            assert page.text_content("#question") == QUESTIONS[0]["question"]
            assert page.text_content("[data-turn='r1/agent-2/answer']") == "unparsed"
            page.click("[data-turn='r1/agent-0/answer']")
            page.wait_for_selector("#messages")
            sent = next(t for t in trace.turns if t.id == "r1/agent-0/answer").messages
            assert page.locator("#messages pre").all_text_contents() == [m.content for m in sent]
            assert page.text_content("#raw") == SECOND
            assert "turn=r1%2Fagent-0%2Fanswer" in page.url  # the link opens this cell
            # user text stayed text: no element or script came out of it
            assert page.evaluate("window.pwned") is None
            assert page.locator("#app b").count() == 0
            assert page.locator("script").count() == 3
            page.screenshot(path=str(tmp_path / "viewer.png"), full_page=True)
            # blind reading hides answers and gold
            page.check("#blind")
            page.wait_for_url(re.compile("blind=1"))
            # the page redraws after the address changes: wait for the redraw (it unpacks)
            expect(page.locator("#grid [data-turn]")).to_have_text(["answer"] * len(trace.turns))
            assert page.locator("#app .hidden-value").count() >= 4  # gold, final, correct, votes
            page.check("#anon")
            page.wait_for_url(re.compile("anon=1"))
            expect(page.locator("#grid")).to_contain_text("Agent A")
            assert "agent-0" not in page.inner_text("#app")
            # a cell opened while anonymised: the address names no agent, the turn still opens
            page.locator('#grid [data-turn="r1/agent-1/answer"]').click()
            expect(page).to_have_url(re.compile(r"turn=r1%2FAgent\+B%2Fanswer"))
            assert "agent-" not in urllib.parse.unquote(page.url)
            expect(page.locator("#turn-detail")).to_contain_text("r1/Agent B/answer")
            assert not [h for h in page.locator("#grid a").evaluate_all(
                "links => links.map(a => decodeURIComponent(a.getAttribute('href')))")
                if "agent-" in h]
            # no filter reveals correctness while reading blind: both debates are right,
            # so "incorrect" lists none, and blind it is ignored (and greyed out)
            page.uncheck("#blind")
            page.goto(url + "#view=debates")
            listed = page.locator("#debate-rows tr").count()  # with the filters set above
            assert listed >= 1
            page.select_option("#filter-outcome", "incorrect")
            expect(page.locator("#debate-rows tr")).to_have_count(0)
            page.check("#blind")
            expect(page.locator("#debate-rows tr")).to_have_count(listed)
            assert page.locator("#filter-outcome option[value=incorrect]").is_disabled()
        finally:
            browser.close()
    assert problems == []
    assert (tmp_path / "viewer.png").stat().st_size > 10_000


# ---- reading a debate: transcript, links, order, several runs -------------------------

def by_question(messages, params):
    """3 then 4 on a question asking to flip, else always 4."""
    asked = messages[0].content
    return "\\boxed{3}" if "flip" in asked and len(messages) == 1 else "\\boxed{4}"


SORTABLE = [{"id": "s-1", "question": "Say four.", "answer": 4},
            {"id": "s-2", "question": "Say four, flip first.", "answer": 4},
            {"id": "s-3", "question": "Say five.", "answer": 5}]


def make_sortable_run(tmp_path: Path) -> Path:
    """s-1 right, no flip; s-2 right after its 3 agents flip 3 -> 4; s-3 wrong."""
    data = tmp_path / "sortable.jsonl"
    data.write_text("".join(json.dumps(q) + "\n" for q in SORTABLE))
    register_script("by-question", by_question)
    result = runner.invoke(app, ["run", "--dataset", str(data), "--task", "numeric",
                                 "-m", "scripted:by-question", "--rounds", "1", "--out",
                                 str(tmp_path), "--name", "sortable", "--no-progress"])
    assert result.exit_code == 0, result.output
    return tmp_path / "sortable"


def add_confidence_turn(run: Path) -> None:
    """Append a stated confidence (a private turn) to the first debate of ``run``."""
    lines = (run / "traces.jsonl").read_text().rstrip("\n").split("\n")  # U+2028 in a line
    first = json.loads(lines[0])
    first["turns"].append({"id": "r1/agent-0/confidence", "round": 1, "agent": "agent-0",
                           "role": "debater", "kind": "confidence", "raw": "70%",
                           "confidence": 0.7, "saw": [],
                           "messages": [0]})  # an index into the trace's messages table
    lines[0] = json.dumps(first)
    (run / "traces.jsonl").write_text("\n".join(lines) + "\n")


def test_flips_count_each_debates_changed_answers(tmp_path):
    """Before: the list had only change marks; now each row counts its answer flips."""
    rows = viewer_data([make_sortable_run(tmp_path)]).index["debates"]
    assert {row["qid"]: row["flips"] for row in rows} == {"s-1": 0, "s-2": 3, "s-3": 0}


def test_reading_debates_in_headless_chromium(tmp_path):
    """Before: a debate was read cell by cell, linked by trace id, listed unsorted, and
    several runs shared one colour; now a transcript reads it in order with private turns
    marked, ``#debate=QID`` opens it, the list sorts, and each run has its colour."""
    chromium = _chromium()
    from playwright.sync_api import expect, sync_playwright

    long_name = "a-run-with-a-very-long-name-" + "x" * 60
    run = make_run(tmp_path, name=long_name)
    add_confidence_turn(run)
    sortable = make_sortable_run(tmp_path)
    one = build_viewer([run], tmp_path / "one.html").resolve().as_uri()
    sorted_page = build_viewer([sortable], tmp_path / "sort.html").resolve().as_uri()
    both = build_viewer([run, sortable], tmp_path / "both.html").resolve().as_uri()
    trace = next(read_traces(run / "traces.jsonl"))
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium)
        try:
            page = watched_page(browser, problems)
            # a link by question id opens that debate
            page.goto(one + "#debate=plain-2")
            expect(page.locator("#app h2")).to_have_text("Debate plain-2")
            # the transcript: every turn in order, with agent, round, answer and what it saw
            page.click("#mode-transcript")
            expect(page).to_have_url(re.compile("debate=plain-2.*mode=transcript"))
            page.goto(one + "#debate=esc-1&mode=transcript")
            turns = page.locator("#transcript li.turn")
            expect(turns).to_have_count(len(trace.turns))
            assert turns.evaluate_all("items => items.map(li => li.dataset.id)") == \
                [t.id for t in trace.turns]
            first_answer = turns.nth(0)
            assert "agent-0" in first_answer.inner_text() and "round 0" in first_answer.inner_text()
            expect(first_answer.locator(".saw")).to_contain_text("no other turn")
            expect(first_answer.locator(".chip").first).to_have_text("3")
            revised = page.locator("#transcript li[data-id='r1/agent-0/answer']")
            assert revised.locator(".saw-link").all_text_contents() == \
                ["r0/agent-1/answer", "r0/agent-2/answer"]
            expect(revised.locator("pre.reply")).to_have_text(SECOND)
            # the stated confidence is marked private, and only it
            expect(page.locator("#transcript li.private")).to_have_count(1)
            private = page.locator("#transcript li.private")
            assert private.get_attribute("data-id") == "r1/agent-0/confidence"
            expect(private).to_contain_text("stated confidence")
            # back to the grid; opening a debate from the list puts its question id in the URL
            page.click("#mode-grid")
            page.wait_for_selector("#grid")
            assert "mode=" not in page.url
            page.goto(one + "#view=debates")
            page.locator("#debate-rows tr", has_text="plain-2").click()
            expect(page).to_have_url(re.compile(r"#debate=plain-2$"))
            # the list: in the run's order, sortable by flips, correctness, calls
            page.goto(sorted_page + "#view=debates")
            qids = page.locator("#debate-rows tr td:first-child")
            order = [t.question.id for t in read_traces(sortable / "traces.jsonl")]
            expect(qids).to_have_text(order)
            page.select_option("#sort", "flips")
            expect(qids.first).to_have_text("s-2")
            page.select_option("#sort", "wrong")
            expect(qids.first).to_have_text("s-3")
            page.select_option("#sort", "qid")
            expect(qids).to_have_text(["s-1", "s-2", "s-3"])
            page.check("#blind")  # reading blind: no sort by correctness
            expect(page.locator("#sort option[value=wrong]")).to_be_disabled()
            page.uncheck("#blind")
            # several runs: one colour each, names that fit, round tick values
            page.goto(both)
            page.wait_for_selector("#compute-chart circle")
            fills = page.locator("#compute-chart circle").evaluate_all(
                "dots => dots.map(d => d.getAttribute('fill'))")
            assert len(fills) == 2 and len(set(fills)) == 2
            assert page.locator("#compute-chart .xtick").all_text_contents() == \
                ["0", "2", "4", "6", "8"]  # 6 calls per debate: the axis ends at 8
            overflow = page.evaluate("""() => {
                const out = [];
                const chart = document.getElementById('compute-chart');
                const box = chart.getBoundingClientRect();
                for (const t of chart.querySelectorAll('text')) {
                  const r = t.getBoundingClientRect();
                  if (r.left < box.left - 1 || r.right > box.right + 1
                      || r.top < box.top - 1 || r.bottom > box.bottom + 1) out.push(t.textContent);
                }
                const boxes = document.querySelectorAll('.runs-legend, #compare table, .run h2');
                for (const e of boxes)
                  if (e.scrollWidth > e.parentElement.clientWidth + 1) out.push(e.className);
                return out;
            }""")
            assert overflow == []
            expect(page.locator(".runs-legend")).to_contain_text(long_name)
        finally:
            browser.close()
    assert problems == []
