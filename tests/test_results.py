"""results.csv and load_results against cells worked out by hand."""

import csv
import json
import sys

import pytest
from test_metrics import PRICES, Fixed  # the metrics tests' fixed-usage model and prices

from debate import ExperimentConfig, arun_experiment
from debate.agents import Debater
from debate.analysis.results import COLUMNS, load_results, result_rows, write_results
from debate.errors import ConfigError, MissingDependencyError
from debate.protocols import DuProtocol
from debate.testing import register_script
from debate.trace import DebateTrace, Question

# Three debates of three agents, one debate round (du, rounds=1); each agent's replies
# for round 0 and round 1:
SCRIPT = {
    # gold 4. Round 0: 4, 5, none -> 4 and 5 tie, the first in agent order wins: 4
    # (right). Round 1: 5, 4, 4 -> final 4, right. Changes: agent-0 4->5 right->wrong;
    # agent-1 5->4 and agent-2 none->4 (an unparsed answer is never right) wrong->right.
    "q1": ("4", [["\\boxed{4}", "\\boxed{5}"], ["\\boxed{5}", "\\boxed{4}"],
                 ["no idea", "\\boxed{4}"]]),
    # gold 6. Round 0: 6, 6, 7 -> 6 (right). Round 1: 7, 7, 7 -> final 7, wrong.
    # agent-0 and agent-1 6->7: two right->wrong; agent-2 7->7 no change.
    "q2": ("6", [["\\boxed{6}", "\\boxed{7}"], ["\\boxed{6}", "\\boxed{7}"],
                 ["\\boxed{7}", "\\boxed{7}"]]),
    # no gold; nobody gives a readable answer: no vote, no final answer, six unparsed,
    # correctness unknown (empty), no flips without gold.
    "q3": (None, [["hmm", "still hmm"]] * 3),
}
# every debate: 6 calls x (10 + 2) tokens = 72; $ (6 x 10 x 1 + 6 x 2 x 2) / 1e6 = 84e-6
EXPECTED = [
    ["q1", "du", "fixed:m", "4", "4", "true", "4", "true", "1", "6", "72", "8.4e-05",
     "max_rounds", "1", "2", "1", "finished", ""],
    ["q2", "du", "fixed:m", "6", "7", "false", "6", "true", "1", "6", "72", "8.4e-05",
     "max_rounds", "2", "0", "0", "finished", ""],
    ["q3", "du", "fixed:m", "", "", "", "", "", "1", "6", "72", "8.4e-05",
     "max_rounds", "0", "0", "6", "finished", ""],
]


async def scripted_traces() -> list[DebateTrace]:
    traces = []
    for qid, (gold, replies) in SCRIPT.items():
        agents = [Debater(f"agent-{k}", Fixed(r)) for k, r in enumerate(replies)]
        question = Question(id=qid, text=f"{qid}?", task="numeric", gold=gold)
        traces.append(await DuProtocol(rounds=1).run(question, agents))
    return traces


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


async def test_every_cell_of_results_csv_by_hand(tmp_path):
    traces = await scripted_traces()
    write_results(tmp_path / "results.csv", result_rows(traces, PRICES))
    header, *rows = read_csv(tmp_path / "results.csv")
    assert header == list(COLUMNS) == [
        "id", "protocol", "models", "gold", "final_answer", "correct", "round0_majority",
        "round0_correct", "rounds", "calls", "tokens", "cost", "stop_reason",
        "flips_right_to_wrong", "flips_wrong_to_right", "unparsed", "status", "error"]
    assert rows == EXPECTED
    # the same flips the summary counts: round 1 has 3 right->wrong and 2 wrong->right
    from debate.analysis.metrics import summarize

    r1 = summarize(traces, PRICES).rounds[1]
    assert (r1.right_to_wrong, r1.wrong_to_right) == (3, 2)


async def test_unknown_price_leaves_cost_empty_and_models_are_listed_once_in_order(tmp_path):
    traces = await scripted_traces()
    trace = traces[0]
    # agent-1 on another, unpriced model: models "fixed:m;other:x", cost unknown
    trace.agents[1].model = "other:x"
    for turn in trace.turns:
        if turn.agent == "agent-1":
            turn.model = "other:x"
    (row,) = result_rows([trace], PRICES)
    assert (row.models, row.cost) == (("fixed:m", "other:x"), None)
    write_results(tmp_path / "r.csv", [row])
    cells = dict(zip(COLUMNS, read_csv(tmp_path / "r.csv")[1], strict=True))
    assert (cells["models"], cells["cost"]) == ("fixed:m;other:x", "")


def test_a_text_answer_with_commas_quotes_and_newlines_survives_the_csv(tmp_path):
    from debate.trace import FinalAnswer

    text = 'say "yes", then\nno'
    trace = DebateTrace(id="t", protocol="x", question=Question(id="q,1", text="?", gold=text),
                        agents=[], turns=[], final=FinalAnswer(answer=text, method="x"),
                        stop_reason="done", correct=True)
    write_results(tmp_path / "r.csv", result_rows([trace]))
    cells = dict(zip(COLUMNS, read_csv(tmp_path / "r.csv")[1], strict=True))
    # no answer rounds: no vote, round 0 (the default), no calls, cost $0 of nothing
    assert (cells["id"], cells["gold"], cells["final_answer"], cells["round0_majority"],
            cells["rounds"], cells["calls"], cells["cost"]) == ("q,1", text, text, "", "0",
                                                                  "0", "0.0")


def resume_script(messages, params):
    """Round 0: agent-0 says 6, the others 7; round 1: all 6 (q1: 3 + 3, gold 6)."""
    question = messages[0].content if len(messages) > 1 else messages[-1].content
    if "9 + 9" in question:
        raise ValueError("broken on q3")
    if len(messages) > 1:
        return "\\boxed{6}"
    return "\\boxed{6}" if params.sampler == "agent-0" else "\\boxed{7}"


async def test_results_csv_holds_the_debates_the_summary_counts_once_per_question(
        tmp_path, restored_registries):
    # q1 and q2 (3 + 3, gold 6): round 0 6, 7, 7 -> vote 7 (wrong); round 1 6, 6, 6 ->
    # final 6 (right); agent-1 and agent-2 7->6: two wrong->right. q3 fails: a failed row.
    register_script("results-resume", resume_script)
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"id": f"q{i}", "question": f"What is {a} + {a}?",
                                        "answer": str(2 * a)}) + "\n"
                            for i, a in ((1, 3), (2, 3), (3, 9))))

    def config(limit):
        return ExperimentConfig(protocol="du", rounds=1, models=["scripted:results-resume"],
                                dataset={"path": str(data), "task": "numeric"}, limit=limit,
                                output_dir=str(tmp_path), name="run")

    await arun_experiment(config(1), progress=False)
    run = tmp_path / "run"
    assert [r[0] for r in read_csv(run / "results.csv")[1:]] == ["q1"]
    # a duplicate of q1's debate with another final answer: the first one is kept
    first = (run / "traces.jsonl").read_text()
    duplicate = json.loads(first)
    duplicate["final"]["answer"] = "99"
    (run / "traces.jsonl").write_text(first + json.dumps(duplicate) + "\n")
    await arun_experiment(config(3), progress=False)  # resumes: q2 runs, q3 fails
    header, *rows = read_csv(run / "results.csv")
    cells = [dict(zip(header, row, strict=True)) for row in rows]
    assert [c["id"] for c in cells] == ["q1", "q2", "q3"]
    failed = cells.pop()
    assert (failed["status"], failed["correct"], failed["final_answer"], failed["error"]) == (
        "failed", "false", "", "ValueError: broken on q3")
    for c in cells:
        assert (c["final_answer"], c["correct"], c["round0_majority"], c["round0_correct"],
                c["flips_right_to_wrong"], c["flips_wrong_to_right"], c["calls"],
                c["cost"], c["models"]) == ("6", "true", "7", "false", "0", "2", "6", "0.0",
                                            "scripted:results-resume")
    assert not list(run.glob(".results.csv.*"))  # the temporary file was renamed
    # a resume on fewer questions: the rows are the debates summary.json counts, no more
    summary = await arun_experiment(config(1), progress=False)
    assert [r[0] for r in read_csv(run / "results.csv")[1:]] == ["q1"]
    assert (summary.debates, summary.accuracy) == (1, 1.0)
    # the report shows its plot, written next to it
    assert "![accuracy per round](accuracy.svg)" in (run / "report.md").read_text()
    assert (run / "accuracy.svg").read_text().startswith("<svg")


async def test_load_results_types_each_column(tmp_path):
    pd = pytest.importorskip("pandas")
    write_results(tmp_path / "results.csv", result_rows(await scripted_traces(), PRICES))
    frame = load_results(tmp_path)
    assert list(frame.columns) == list(COLUMNS)
    assert str(frame["correct"].dtype) == "boolean" == str(frame["round0_correct"].dtype)
    assert str(frame["calls"].dtype) == "Int64" and str(frame["cost"].dtype) == "Float64"
    assert str(frame["gold"].dtype) == "string"  # "4" stays text, not the number 4
    assert frame["correct"].tolist() == [True, False, pd.NA]
    assert frame["gold"].tolist() == ["4", "6", pd.NA]
    assert frame["flips_right_to_wrong"].sum() == 3 and frame["cost"].sum() == pytest.approx(
        3 * 84e-6)
    # the CSV file itself works too
    assert load_results(tmp_path / "results.csv")["id"].tolist() == ["q1", "q2", "q3"]


def test_load_results_warns_when_traces_were_written_after_results_csv(tmp_path):
    """A killed invocation leaves traces results.csv does not hold: say so, still read."""
    pytest.importorskip("pandas")
    import os
    import warnings

    write_results(tmp_path / "results.csv", [])
    (tmp_path / "traces.jsonl").write_text("")
    csv_time = (tmp_path / "results.csv").stat().st_mtime
    os.utime(tmp_path / "traces.jsonl", (csv_time + 5, csv_time + 5))
    with pytest.warns(UserWarning, match="older than traces.jsonl: an invocation did not"):
        assert len(load_results(tmp_path)) == 0
    os.utime(tmp_path / "traces.jsonl", (csv_time - 5, csv_time - 5))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_results(tmp_path)  # up to date: no warning


async def test_load_results_of_a_run_without_results_csv_reads_its_traces(tmp_path):
    pytest.importorskip("pandas")
    lines = "".join(t.model_dump_json() + "\n" for t in await scripted_traces())
    (tmp_path / "traces.jsonl").write_text(lines)
    frame = load_results(tmp_path)
    assert frame["final_answer"].tolist()[:2] == ["4", "7"] and not (
        tmp_path / "results.csv").exists()
    # no run's prices: fixed:m has none, so the cost is unknown
    assert frame["cost"].isna().all()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match="empty: no results.csv or traces.jsonl"):
        load_results(empty)


def test_load_results_without_pandas_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas raises ImportError
    with pytest.raises(MissingDependencyError, match=r"pip install pandas"):
        load_results(tmp_path)


def test_a_run_with_no_finished_debate_has_the_header_only(tmp_path):
    write_results(tmp_path / "results.csv", [])
    assert (tmp_path / "results.csv").read_text() == ",".join(COLUMNS) + "\n"


@pytest.mark.parametrize("content", [b"id,correct\n\xff\xfe\n", b"", b'id,"broken\n'])
def test_a_damaged_results_csv_is_a_located_error(tmp_path, content):
    pytest.importorskip("pandas")
    (tmp_path / "results.csv").write_bytes(content)
    with pytest.raises(ConfigError, match=r"results.csv: damaged results table \(.*\); move it "
                                          r"away"):
        load_results(tmp_path)


def test_a_failed_debate_is_a_row_counted_wrong_where_it_has_gold(tmp_path):
    from debate.analysis.results import failed_row

    rows = [failed_row(Question(id="q9", text="?", gold="3"), "du", ["m:a", "m:b", "m:a"],
                       "RetryableError: gave up after 6 attempts (HTTP 500)"),
            failed_row(Question(id="q10", text="?"), "du", ["m:a"], "ValueError: x")]
    write_results(tmp_path / "results.csv", rows)
    _, with_gold, without = read_csv(tmp_path / "results.csv")
    assert with_gold == ["q9", "du", "m:a;m:b", "3", "", "false", "", "", "0", "0", "0", "",
                         "failed", "0", "0", "0", "failed",
                         "RetryableError: gave up after 6 attempts (HTTP 500)"]
    assert without[5] == "" and without[-2:] == ["failed", "ValueError: x"]  # not scored
    frame = load_results(tmp_path)
    assert frame["status"].tolist() == ["failed", "failed"]
    assert frame["correct"].isna().tolist() == [False, True]


async def test_a_results_csv_written_before_failed_rows_reads_as_finished(tmp_path):
    traces = await scripted_traces()
    write_results(tmp_path / "results.csv", result_rows(traces, PRICES))
    lines = (tmp_path / "results.csv").read_text().splitlines()
    old = [line.rsplit(",", 2)[0] for line in lines]  # without status and error
    (tmp_path / "results.csv").write_text("\n".join(old) + "\n")
    frame = load_results(tmp_path)
    assert frame["status"].tolist() == ["finished"] * 3 and frame["error"].isna().all()
