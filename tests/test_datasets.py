import json

import pytest

from debate.datasets import FieldMap, load_dataset
from debate.errors import DatasetError

BUNDLED = "experiments/data"


def test_bundled_datasets_load():
    arithmetic = load_dataset(f"{BUNDLED}/arithmetic.jsonl")
    assert len(arithmetic) == 50 and arithmetic[0].task == "numeric"
    assert all(q.gold is not None for q in arithmetic)
    science = load_dataset(f"{BUNDLED}/science_mc.csv",
                           fields=FieldMap(choices=["A", "B", "C", "D"]))
    assert len(science) == 30 and science[0].task == "choice"
    assert science[0].choices == ["Venus", "Mercury", "Earth", "Mars"] and science[0].gold == "B"


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_field_mapping_and_generated_ids(tmp_path):
    path = write_jsonl(tmp_path / "gsm.jsonl", [
        {"problem": "1+1?", "solution": "It is 2.\n#### 2", "level": 1},
        {"problem": "2+2?", "solution": "#### 4", "level": 2},
    ])
    questions = load_dataset(path, fields=FieldMap(question="problem", answer="solution"))
    assert [q.id for q in questions] == ["gsm-0", "gsm-1"]
    assert [q.gold for q in questions] == ["2", "4"]
    assert questions[0].metadata == {"level": 1}


def test_choices_as_list_answers_as_letter_index_or_text(tmp_path):
    path = write_jsonl(tmp_path / "mc.jsonl", [
        {"id": "a", "question": "?", "choices": ["x", "y", "z"], "answer": "C"},
        {"id": "b", "question": "?", "choices": ["x", "y", "z"], "answer": 1},
        {"id": "c", "question": "?", "choices": ["x", "y", "z"], "answer": "x"},
    ])
    assert [q.gold for q in load_dataset(path)] == ["C", "B", "A"]


def test_json_array_and_csv(tmp_path):
    (tmp_path / "d.json").write_text(json.dumps([{"question": "q", "answer": "yes"}]))
    assert load_dataset(tmp_path / "d.json", task="yesno")[0].gold == "yes"
    (tmp_path / "d.csv").write_text('question,choices,answer,context\n"Q?","[""a"", ""b""]",b,'
                                    'Some passage\n')
    question = load_dataset(tmp_path / "d.csv")[0]
    assert question.choices == ["a", "b"] and question.gold == "B"
    assert question.context == "Some passage"


def test_limit(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"question": f"{i}?", "answer": i}
                                               for i in range(10)])
    assert len(load_dataset(path, limit=3)) == 3


@pytest.mark.parametrize(("content", "message"), [
    ('{"question": "a", "answer": 1}\n{"answer": 2}\n', r"d.jsonl:2: field 'question'"),
    ('{"question": "a", "answer": 1}\nnot json\n', r"d.jsonl:2: invalid JSON"),
    ('[1, 2]\n', r"d.jsonl:1: expected a JSON object"),
    ('{"id": "x", "question": "a"}\n{"id": "x", "question": "b"}\n',
     r"d.jsonl:2: duplicate id 'x' \(first at .*d.jsonl:1\)"),
    ('{"question": "a", "answer": 1}\n{"question": "b", "answer": "lots"}\n',
     r"d.jsonl:2: field 'answer'"),
])
def test_bad_rows_are_located(tmp_path, content, message):
    path = tmp_path / "d.jsonl"
    path.write_text(content)
    with pytest.raises(DatasetError, match=message):
        load_dataset(path, task="numeric" if "lots" in content else None)


def test_bad_choice_gold_is_located(tmp_path):
    path = tmp_path / "mc.csv"
    path.write_text("question,A,B,answer\nQ1,x,y,A\nQ2,x,y,Z?\n")
    with pytest.raises(DatasetError, match=r"mc.csv:3: field 'answer'"):
        load_dataset(path, fields=FieldMap(choices=["A", "B"]))


def test_missing_and_unsupported_files(tmp_path):
    with pytest.raises(DatasetError, match="no such file"):
        load_dataset(tmp_path / "missing.jsonl")
    (tmp_path / "d.txt").write_text("x")
    with pytest.raises(DatasetError, match="unsupported file type"):
        load_dataset(tmp_path / "d.txt")


def test_hf_dataset_like_object():
    class FakeDataset(list):
        column_names = ["question", "answer"]

    questions = load_dataset(FakeDataset([{"question": "1+2?", "answer": "3"}]))
    assert questions[0].gold == "3" and questions[0].id == "dataset-0"


def test_hf_datasets_object_and_folder(tmp_path):
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_list([{"question": "1+2?", "answer": "3"}])
    assert load_dataset(ds)[0].gold == "3"
    ds.save_to_disk(str(tmp_path / "saved"))
    assert load_dataset(tmp_path / "saved")[0].gold == "3"


def test_json_lines_in_a_json_file_load(tmp_path):
    path = tmp_path / "aqua.json"
    path.write_text('{"question": "1+1?", "answer": "2"}\n{"question": "2+2?", "answer": "4"}\n')
    assert [q.gold for q in load_dataset(path, task="numeric")] == ["2", "4"]


def test_a_typo_in_a_field_mapping_key_is_an_error():
    from debate.errors import ConfigError
    from debate.experiment.config import ExperimentConfig

    with pytest.raises((ConfigError, ValueError), match="quesiton"):
        ExperimentConfig.model_validate({"dataset": {"path": "x.jsonl",
                                                     "fields": {"quesiton": "q"}}})


def test_a_mapped_column_no_row_has_is_a_located_error(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"q": "1+1?", "gold": "2"}\n')
    with pytest.raises(DatasetError, match=r"fields.answer maps to column\(s\) \['anwser'\]"):
        load_dataset(path, fields=FieldMap(question="q", answer="anwser"))
    assert load_dataset(path, fields=FieldMap(question="q", answer="gold"))[0].gold == "2"


def test_rows_without_gold_are_an_error_unless_partial_gold_then_named_in_a_warning(tmp_path):
    from debate.datasets import DatasetWarning

    path = tmp_path / "d.jsonl"
    path.write_text('{"id": "a", "question": "1+1?", "answer": "2"}\n'
                    '{"id": "b", "question": "2+2?", "answer": ""}\n'
                    '{"id": "c", "question": "3+3?"}\n')
    with pytest.raises(DatasetError, match=r"d.jsonl:2: field 'answer' is missing or empty, but "
                                           r"other rows have a gold answer \(e.g. .*d.jsonl:1\)"):
        load_dataset(path, task="numeric")
    with pytest.warns(DatasetWarning, match=r"2 of 3 questions have no gold .*\(b, c\)"):
        questions = load_dataset(path, task="numeric", partial_gold=True)
    assert [q.gold for q in questions] == ["2", None, None]


def test_choices_that_carry_their_own_letter_are_not_labelled_twice(tmp_path):
    path = tmp_path / "aqua.jsonl"
    rows = [{"question": "2+3?", "options": ["A)4", "B)5", "C) 6", "D)B)7"], "correct": "B"},
            {"question": "1+1?", "options": ["A)2", "B)3"], "correct": "A)2"},
            {"question": "Who?", "options": ["A. Lincoln", "Washington"], "correct": "B"}]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    first, second, third = load_dataset(path, fields=FieldMap(choices="options",
                                                              answer="correct"))
    assert first.choices == ["4", "5", "6", "B)7"]  # each option's own letter goes, once
    assert (first.gold, second.gold) == ("B", "A")  # "A)2": the letter with its option's text
    assert third.choices == ["A. Lincoln", "Washington"]  # not every option labelled: kept


HUB_SCRIPT = r'''
import json, os, shutil, sys
from pathlib import Path

from datasets.packaged_modules.json.json import Json

tmp = Path(sys.argv[1])
rows = tmp / "test.jsonl"
rows.write_text("".join(json.dumps({"question": f"What is {i} + 1?", "answer": f"so #### {i + 1}"})
                        + "\n" for i in range(3)))
# a cached copy of "openai/gsm8k" (config main), as datasets.load_dataset leaves it
builder = Json(cache_dir=str(tmp / "build"), dataset_name="gsm8k", config_name="main",
               data_files={"test": str(rows)}, hash="0123abcd")
builder.download_and_prepare()
(built,) = (tmp / "build" / "gsm8k").iterdir()
(tmp / "cache" / "openai___gsm8k").mkdir(parents=True)
shutil.move(str(built), str(tmp / "cache" / "openai___gsm8k" / "main"))

from debate import ExperimentConfig, run_experiment
from debate.errors import DatasetError
from debate.experiment.identity import fingerprint

cfg = ExperimentConfig(protocol="single", models=["scripted:first-number"],
                       dataset={"hub": "openai/gsm8k", "config": "main", "split": "test"},
                       output_dir=str(tmp / "runs"))
summary = run_experiment(cfg, progress=False)
errors = []
for split in ("train", None):
    for config in ("socratic", "main"):
        try:
            fingerprint(ExperimentConfig(
                models=["scripted:echo"], output_dir=str(tmp / "runs"),
                dataset={"hub": "openai/gsm8k", "config": config, "split": split}))
        except DatasetError as exc:
            errors.append(str(exc))
print(json.dumps({"run": Path(summary.run).name, "debates": summary.debates,
                  "accuracy": summary.accuracy, "identity": fingerprint(cfg).identity,
                  "errors": errors}))
'''


def test_a_hub_dataset_by_name_from_a_locally_cached_copy_offline(tmp_path):
    pytest.importorskip("datasets")
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1",
           "HF_DATASETS_CACHE": str(tmp_path / "cache"), "HF_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-c", HUB_SCRIPT, str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # first-number answers the question's first number, i; the gold is i + 1
    assert result["debates"] == 3 and result["accuracy"] == 0.0
    assert result["run"].startswith("single-gsm8k-main-")
    # (train, socratic), (train, main), (default split, socratic) fail; the default split is test
    socratic, train, socratic_again = result["errors"]
    assert socratic.startswith("Hub dataset 'openai/gsm8k' (config 'socratic'): ")
    assert "Available configs in the cache: ['main']" in socratic and socratic_again == socratic
    assert train.startswith("Hub dataset 'openai/gsm8k' (config 'main'): ") and "train" in train


def test_a_dataset_is_a_path_or_a_hub_name():
    from debate.datasets import DatasetSpec

    with pytest.raises(ValueError, match="one of them"):
        DatasetSpec(path="a.jsonl", hub="openai/gsm8k")
    with pytest.raises(ValueError, match="one of them"):
        DatasetSpec()
    with pytest.raises(ValueError, match="go with `hub`"):
        DatasetSpec(path="a.jsonl", split="test")
    assert DatasetSpec(hub="openai/gsm8k", config="main").label == "gsm8k-main"


@pytest.mark.parametrize(("golds", "task", "why"), [
    ([True, False, False], "yesno", "every gold answer is a boolean (true/false)"),  # StrategyQA
    (["Yes", "no", "NO"], "yesno", "every gold answer is yes or no"),
    (["yes", "no", "maybe"], "exact", "not every gold answer is a number, yes/no or a boolean"),
    ([18, "1,000", "#### 7"], "numeric", "every gold answer is a number"),
    ([1, 0, True], "exact", "not every gold answer is a number, yes/no or a boolean"),
])
def test_the_task_is_inferred_from_the_golds_and_says_why(tmp_path, golds, task, why):
    from debate.datasets import read_dataset

    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps({"question": f"q{i}?", "answer": g}) + "\n"
                            for i, g in enumerate(golds)))
    loaded = read_dataset(path)
    assert (loaded.task, loaded.task_source) == (task, f"inferred: {why}")
    if task == "yesno":
        assert [q.gold for q in loaded.questions] == [
            "yes" if str(g).lower() in ("true", "yes") else "no" for g in golds]
    assert read_dataset(path, task="exact").task_source == "given"


async def test_boolean_golds_score_boxed_yes_no_answers_and_the_summary_says_so(tmp_path):
    from debate import ExperimentConfig, arun_experiment

    path = tmp_path / "strategyqa.jsonl"
    path.write_text("".join(json.dumps({"id": f"s{i}", "question": f"Is {i} odd?",
                                        "answer": False}) + "\n" for i in range(4)))
    config = ExperimentConfig(protocol="single", models=["scripted:reply=\\boxed{no}"],
                              dataset=str(path), output_dir=str(tmp_path), name="run")
    summary = await arun_experiment(config, progress=False)
    assert summary.accuracy == 1.0  # before: task exact, gold "false", 0% without a word
    assert summary.task == "yesno"
    assert summary.task_source == "inferred: every gold answer is a boolean (true/false)"
    report = (tmp_path / "run" / "report.md").read_text()
    assert "yesno (inferred: every gold answer is a boolean (true/false); set dataset.task" \
        in report


async def test_a_numeric_tolerance_travels_with_each_question_and_scores_the_run(tmp_path):
    from debate import ExperimentConfig, arun_experiment, load_run_summary
    from debate.trace import read_traces

    path = tmp_path / "measures.jsonl"
    path.write_text(json.dumps({"id": "m", "question": "g?", "answer": "9.81"}) + "\n")

    def run(name, **dataset):
        config = ExperimentConfig(protocol="single", models=["scripted:reply=\\boxed{9.8}"],
                                  dataset={"path": str(path), **dataset},
                                  output_dir=str(tmp_path), name=name)
        return arun_experiment(config, progress=False)

    assert (await run("exact")).accuracy == 0.0  # 9.8 is not 9.81
    summary = await run("tolerant", numeric_tolerance={"absolute": 0.05})
    assert summary.accuracy == 1.0
    (trace,) = read_traces(tmp_path / "tolerant" / "traces.jsonl")
    assert trace.question.numeric_tolerance.absolute == 0.05
    assert load_run_summary(tmp_path / "tolerant").accuracy == 1.0  # read back the same
    line = (tmp_path / "exact" / "traces.jsonl").read_text()
    assert "numeric_tolerance" not in line  # written only when set


async def test_a_resume_refuses_to_score_its_debates_two_ways(tmp_path):
    """A run folder whose finished debates were scored as exact "false" (an older debatelab
    inferred that from boolean golds) is not resumed as yesno without a word."""
    from debate import ExperimentConfig, arun_experiment
    from debate.errors import ConfigError

    path = tmp_path / "strategyqa.jsonl"
    path.write_text("".join(json.dumps({"id": f"s{i}", "question": f"Is {i} odd?",
                                        "answer": False}) + "\n" for i in range(4)))

    def config(limit):
        return ExperimentConfig(protocol="single", models=["scripted:reply=\\boxed{no}"],
                                dataset=str(path), output_dir=str(tmp_path), name="run",
                                limit=limit)

    await arun_experiment(config(2), progress=False)
    traces = tmp_path / "run" / "traces.jsonl"
    old = traces.read_text().replace('"task":"yesno"', '"task":"exact"').replace(
        '"gold":"no"', '"gold":"false"')
    assert old.count('"gold":"false"') == 2
    traces.write_text(old)
    with pytest.raises(ConfigError, match=r"(?s)2 finished debates were scored as their questions "
                       r"no longer read.*s0: task 'exact' -> 'yesno', gold 'false' -> 'no'"):
        await arun_experiment(config(4), progress=False)
    summary = await arun_experiment(config(4), progress=False, force=True)
    assert (summary.debates, summary.correct) == (4, 2)  # each keeps its own scoring


async def test_old_traces_are_scored_by_todays_rules(tmp_path):
    """A trace recorded correct=true for 70001 against 70000 (the old relative tolerance)."""
    from debate.analysis.metrics import summarize
    from debate.analysis.results import result_row
    from debate.trace import DebateTrace, FinalAnswer, Question

    trace = DebateTrace(id="t", protocol="single", agents=[], turns=[],
                        question=Question(id="q", text="?", task="numeric", gold="70000"),
                        final=FinalAnswer(answer="70001", method="single"),
                        stop_reason="done", correct=True)
    assert summarize([trace]).accuracy == 0.0
    assert result_row(trace).correct is False


def test_a_numeric_tolerance_on_answers_that_are_not_numbers_is_an_error(tmp_path):
    from debate.datasets import read_dataset
    from debate.scoring.numbers import NumericTolerance

    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"question": "q?", "answer": True}) + "\n")
    with pytest.raises(DatasetError, match=r"numeric_tolerance applies to numeric answers; "
                       r"this dataset's task is yesno \(inferred: every gold answer is a "
                       r"boolean"):
        read_dataset(path, numeric_tolerance=NumericTolerance(relative=0.1))


def test_a_summary_written_before_failed_debates_were_counted_gives_no_bound():
    from debate.analysis.metrics import Summary
    from debate.analysis.report import markdown_report

    old = Summary.model_validate({"debates": 9, "scored": 9, "correct": 9,
                                  "failed": {"q7": "RetryableError: gave up"}})
    assert old.accuracy_bound is None  # not 9/9: the failed one may have had gold
    assert "unknown (the summary predates the count" in markdown_report(old)
    assert Summary(scored=4, correct=2).accuracy_bound == 0.5  # none failed: the accuracy


def test_reordered_options_under_the_same_gold_letter_are_another_scoring():
    from debate.experiment.run_folder import scoring_change
    from debate.trace import Question

    then = Question(id="q", text="?", task="choice", gold="A", choices=["Paris", "Rome"])
    now = then.model_copy(update={"choices": ["Rome", "Paris"]})
    assert scoring_change(then, then) is None
    assert scoring_change(then, now) == "choices ['Paris', 'Rome'] -> ['Rome', 'Paris']"
