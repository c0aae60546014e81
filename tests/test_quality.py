"""QuALITY in its own format, the papers' filters and distractors, and the distractor column.

The fixture (tests/fixtures/quality_sample.jsonl) is invented text in QuALITY's format: four
question sets on three articles, eleven questions, each with three untimed and five speed
annotations, built so that each of Khan et al.'s filters drops one question.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from debate.agents.oversight import answer_pair
from debate.datasets import DatasetSpec, FieldMap, load_dataset
from debate.datasets.quality import QualityOptions, QualitySource, best_distractor
from debate.errors import DatasetError
from debate.experiment.identity import fingerprint

FIXTURE = Path("tests/fixtures/quality_sample.jsonl")
ALL = ["vey-A-1", "vey-A-2", "vey-A-3", "vey-B-1", "archive-A_1", "archive-A_2", "glass-A-1",
       "glass-A-2", "glass-A-3", "glass-A-4", "glass-A-5"]
KHAN = {"hard": True, "sources": ["Gutenberg"], "max_answerability": 1.0,
        "min_untimed_accuracy": 1.0, "max_speed_accuracy": 0.5, "min_context_required": 1.5,
        "skip_conflicting_labels": True, "skip_catch_all_options": True, "max_per_article": 1}
"""Khan et al.'s settings (ucl-dark/llm_debate, core/config/config.yaml)."""


def quality(source=FIXTURE, **options):
    return load_dataset(QualitySource(source, QualityOptions(**options)))


def ids(questions):
    return [q.id for q in questions]


def test_each_question_becomes_a_multiple_choice_question_on_its_article():
    questions = {q.id: q for q in quality()}
    assert list(questions) == ALL
    lamp = questions["vey-A-1"]
    assert lamp.task == "choice" and lamp.gold == "C"  # gold_label 3, 1-based
    assert lamp.text == "Why did Bastien light the lamp outside the widow's cottage?"
    assert lamp.choices == ["She paid the lamp tax", "The council ordered it",
                            "She had once mended his coat", "Her cottage was on the hill road"]
    assert lamp.context.startswith("Every evening at dusk, old Bastien")
    meta = lamp.metadata
    assert (meta["article_id"], meta["set_unique_id"], meta["title"], meta["source"]) == (
        "90001", "vey-A", "The Lamplighter of Vey", "Gutenberg")
    assert (meta["difficult"], meta["gold_label"], meta["writer_label"]) == (1, 3, 3)
    assert [v["untimed_answer"] for v in meta["validation"]] == [3, 3, 3]
    assert [v["speed_answer"] for v in meta["speed_validation"]] == [3, 1, 1, 4, 3]
    assert meta["untimed_accuracy"] == 1.0 and meta["speed_accuracy"] == 0.4
    assert meta["answerability"] == 1.0 and meta["context_required"] == pytest.approx(7 / 3)
    assert meta["distractor"] == "She paid the lamp tax"
    # a line separator (U+2028) inside an article is text, not the end of a JSON line
    assert "chapel wall.\u2028The year Ilse" in questions["glass-A-5"].context


def test_ids_are_question_unique_id_else_the_set_id_and_the_question_number():
    questions = quality()
    assert ids(questions)[4:6] == ["archive-A_1", "archive-A_2"]


def test_a_file_named_as_quality_ships_it_reads_as_json_lines(tmp_path):
    shipped = tmp_path / "QuALITY.v1.0.1.htmlstripped.dev"
    shutil.copy(FIXTURE, shipped)
    spec = DatasetSpec(path=str(shipped), quality={})
    assert ids(load_dataset(spec.source())) == ALL
    with pytest.raises(DatasetError, match=r"unsupported file type '\.dev'"):
        load_dataset(shipped)  # read as QuALITY only when asked
    with pytest.raises(DatasetError, match=r"QuALITY.v1.0.1.htmlstripped.train: no such file "
                                           r"or folder \(QuALITY is not shipped: download"):
        quality(tmp_path / "QuALITY.v1.0.1.htmlstripped.train")


def test_hard_keeps_quality_s_difficult_subset():
    assert ids(quality(hard=True)) == [q for q in ALL if q not in ("vey-A-3", "archive-A_2")]


@pytest.mark.parametrize(("option", "value", "dropped"), [
    ("sources", ["Gutenberg"], ["archive-A_1", "archive-A_2"]),
    ("max_answerability", 1.0, ["glass-A-3"]),  # one annotator rated it 2: mean 4/3
    ("min_untimed_accuracy", 1.0, ["vey-A-2"]),  # 2 of 3 untimed annotators right
    ("max_speed_accuracy", 0.5, ["vey-A-3", "archive-A_2"]),  # 4 of 5: Khan et al.'s value
    ("max_speed_accuracy", 0.3, ["vey-A-1", "vey-A-3", "archive-A_2", "glass-A-4"]),  # 2 of 5
    ("min_context_required", 1.5, ["vey-A-2", "archive-A_2", "glass-A-4"]),  # 4/3, 1, 1
    ("skip_conflicting_labels", True, ["glass-A-1"]),  # writer_label 3, gold_label 2
    ("skip_catch_all_options", True, ["glass-A-2"]),  # its best distractor: None of the above
    ("max_per_article", 1, ["vey-A-2", "vey-A-3", "vey-B-1", "archive-A_2", "glass-A-2",
                            "glass-A-3", "glass-A-4", "glass-A-5"]),
])
def test_each_filter_drops_what_it_rejects(option, value, dropped):
    assert ids(quality(**{option: value})) == [q for q in ALL if q not in dropped]


def test_khan_et_al_s_filters_together_and_the_example_spec_that_sets_them():
    from debate.experiment.config import load_experiment

    assert ids(quality(**KHAN)) == ["vey-A-1", "glass-A-5"]
    config = load_experiment("experiments/quality/debate-qa-quality.yaml")
    assert config.dataset.quality == QualityOptions(**KHAN, distractor="best")
    spec = config.dataset.model_copy(update={"path": str(FIXTURE)})
    assert ids(load_dataset(spec.source())) == ["vey-A-1", "glass-A-5"]


def test_the_best_distractor_by_each_paper_s_rule_and_their_ties():
    # vey-A-2, gold 3: the untimed annotators answered 3, 3, 4 and named 4, 2, 3 best distractor
    best = {q.id: q for q in quality(distractor="best")}["vey-A-2"]
    assert best.metadata["distractor"] == "Forty-three"  # 4 and 2 tie (3 is the gold): lowest
    chosen = {q.id: q for q in quality(distractor="most-chosen")}["vey-A-2"]
    assert chosen.metadata["distractor"] == "Forty-one"  # 4 (named), 2 (named), 4 (chosen)
    drawn = {q.id: q for q in quality(distractor="none")}["vey-A-2"]
    assert "distractor" not in drawn.metadata
    correct, wrong = answer_pair(drawn)  # the protocols draw another option
    assert correct == "Forty-two" and wrong in ("Forty", "Forty-three", "Forty-one")
    assert answer_pair(best) == ("Forty-two", "Forty-three")
    assert best_distractor([4, 2, 3], 3) == 2 and best_distractor([4, 2, 3], 3,
                                                                   lowest_first=False) == 4
    assert best_distractor([2, 4, 4, 2], 1, lowest_first=False) == 2  # the first voted of a tie
    assert best_distractor([3, 3], 3) is None and best_distractor([], 1) is None


def write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def rows() -> list[dict]:
    # split at newlines only: str.splitlines() also splits at the U+2028 inside an article
    return [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").split("\n") if line]


def test_a_distractor_with_the_gold_s_text_drops_its_question(tmp_path):
    data = rows()
    data[0]["questions"][0]["options"][0] = "She had once mended his coat"  # as the gold, 3
    path = write(tmp_path / "q.jsonl", data)
    assert "vey-A-1" not in ids(quality(path))
    assert "vey-A-1" in ids(quality(path, distractor="none"))


def test_filters_that_keep_nothing_are_an_error_that_counts_what_each_dropped():
    with pytest.raises(DatasetError, match=r"quality_sample: the QuALITY filters kept none of "
                                           r"its 11 questions \(dropped by: sources 9, "
                                           r"max_speed_accuracy 1, hard 1\); loosen"):
        quality(sources=["Slate"], hard=True, max_speed_accuracy=0.1)


def _set(row_path: str, value):
    """Set ``value`` at a dotted path (``questions.0.gold_label``) of line 2's row."""
    def change(data: list[dict]) -> None:
        *parents, last = row_path.split(".")
        node = data[1]
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if value is _DELETE:
            del node[int(last) if isinstance(node, list) else last]
        elif isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return change


_DELETE = object()


@pytest.mark.parametrize(("change", "message"), [
    (_set("questions.0.gold_label", 5),
     r"q.jsonl:2: field 'questions\[0\].gold_label' is 5, not an option number \(1-4\)"),
    (_set("questions.0.gold_label", True),
     r"q.jsonl:2: field 'questions\[0\].gold_label' is True, not an option number"),
    (_set("questions.0.options", "The clerk"),
     r"q.jsonl:2: field 'questions\[0\].options' must be a list of at least two texts"),
    (_set("questions.0.question", ""), r"q.jsonl:2: field 'questions\[0\].question' must be"),
    (_set("questions.0.validation.1.untimed_answer", _DELETE),
     r"q.jsonl:2: field 'questions\[0\].validation\[1\].untimed_answer' is missing"),
    (_set("questions.0.validation.2.untimed_best_distractor", "x"),
     r"q.jsonl:2: field 'questions\[0\].validation\[2\].untimed_best_distractor' is 'x'"),
    (_set("questions.0.validation.0.untimed_eval2_context", 5),
     r"q.jsonl:2: field 'questions\[0\].validation\[0\].untimed_eval2_context' is 5, not an "
     r"option number \(1-4\)"),
    (_set("questions.0.speed_validation", {"speed_answer": 1}),
     r"q.jsonl:2: field 'questions\[0\].speed_validation' must be a list of objects"),
    (_set("questions.0.difficult", 2), r"q.jsonl:2: field 'questions\[0\].difficult' is 2"),
    (_set("questions", {"question": "?"}), r"q.jsonl:2: field 'questions' must be a list"),
    (_set("article", None), r"q.jsonl:2: field 'article' must be the article's text"),
])
def test_a_damaged_row_is_an_error_naming_its_line_and_field(tmp_path, change, message):
    data = rows()
    change(data)
    with pytest.raises(DatasetError, match=message):
        quality(write(tmp_path / "q.jsonl", data))


def test_a_line_that_is_not_json_is_located(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text(FIXTURE.read_text(encoding="utf-8") + "{not json\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"q.jsonl:5: invalid JSON"):
        quality(path)


def test_the_test_split_loads_unscored_and_its_filters_say_what_it_lacks(tmp_path):
    from debate.datasets import DatasetWarning

    data = rows()
    for row in data:  # as QuALITY's test split: no labels, annotations or difficulty
        for question in row["questions"]:
            for key in ("gold_label", "writer_label", "validation", "speed_validation",
                        "difficult"):
                question.pop(key)
    path = write(tmp_path / "test.jsonl", data)
    with pytest.warns(DatasetWarning, match="no question has a gold answer"):
        questions = quality(path)
    assert len(questions) == 11 and all(q.gold is None for q in questions)
    assert all("distractor" not in q.metadata for q in questions)
    with pytest.raises(DatasetError, match=r"test.jsonl:1: field 'questions\[0\].difficult' is "
                                           r"missing or empty, .*use train or dev"):
        quality(path, hard=True)
    with pytest.raises(DatasetError, match=r"field 'questions\[0\].validation' is missing"):
        quality(path, min_untimed_accuracy=1.0)


def test_rows_with_one_question_each_as_the_hub_copy_stores_them(tmp_path):
    flat = [{**{k: v for k, v in row.items() if k != "questions"}, **question}
            for row in rows() for question in row["questions"]]
    for row in flat:
        row["article_id"] = int(row["article_id"])  # tasksource/QuALITY stores a number
    path = write(tmp_path / "flat.jsonl", flat)
    questions = quality(path, **KHAN)
    assert ids(questions) == ["vey-A-1", "glass-A-5"]
    assert questions[0].metadata["article_id"] == "90001"


def test_the_options_are_settings_with_ranges_and_a_spec_refuses_what_does_not_apply():
    with pytest.raises(ValueError, match="max_speed_accuracy"):
        QualityOptions(max_speed_accuracy=1.5)
    with pytest.raises(ValueError, match="distractor"):
        QualityOptions(distractor="random")
    with pytest.raises(ValueError, match="fields"):
        DatasetSpec(path="q.jsonl", quality={}, fields={"question": "q"})
    with pytest.raises(ValueError, match="multiple-choice"):
        DatasetSpec(path="q.jsonl", quality={}, task="exact")
    hashes = {DatasetSpec(path=str(FIXTURE), quality=q).content_hash()
              for q in ({}, {"hard": True}, {"distractor": "most-chosen"})}
    assert len(hashes) == 3  # the filters and the rule are part of the data's identity
    assert DatasetSpec(path=str(FIXTURE)).content_hash() not in hashes


# -- the distractor column, for any dataset -------------------------------------------------


def test_a_distractor_column_is_the_wrong_answer_the_oversight_protocols_defend(tmp_path):
    path = write(tmp_path / "d.jsonl", [
        {"id": "a", "question": "Who?", "answer": "Mira", "distractor": " Tomas ", "context": "P"},
        {"id": "b", "question": "Who?", "answer": "Mira", "context": "P"},
    ])
    first, second = load_dataset(path, task="exact")
    assert first.metadata == {"distractor": "Tomas"} and second.metadata == {}
    assert answer_pair(first) == ("Mira", "Tomas")
    mapped = write(tmp_path / "m.jsonl", [
        {"question": "Who?", "answer": "Mira", "wrong": "Tomas", "distractor": "ignored"}])
    (question,) = load_dataset(mapped, task="exact", fields=FieldMap(distractor="wrong"))
    assert question.metadata == {"distractor": "Tomas"}
    (unmapped,) = load_dataset(write(tmp_path / "e.jsonl", [
        {"question": "Who?", "answer": "Mira", "wrong": "", "distractor": "Tomas"}]),
        task="exact", fields=FieldMap(distractor="wrong"))
    assert unmapped.metadata == {}  # the mapped column is the only wrong answer
    with pytest.raises(DatasetError, match=r"fields.distractor maps to column\(s\) \['wrnog'\]"):
        load_dataset(mapped, task="exact", fields=FieldMap(distractor="wrnog"))


def test_a_multiple_choice_distractor_is_written_like_the_gold_and_shown_as_its_option(tmp_path):
    path = write(tmp_path / "mc.jsonl", [
        {"id": str(i), "question": "?", "choices": ["x", "y", "z"], "answer": "A",
         "distractor": wrong} for i, wrong in enumerate(["C", 1, "z"])])
    assert [q.metadata["distractor"] for q in load_dataset(path)] == ["z", "y", "z"]


@pytest.mark.parametrize(("row", "message"), [
    ({"choices": ["x", "y"], "answer": "A", "distractor": "x"},
     r"d.jsonl:2: field 'distractor' is the gold answer \(A\)"),
    ({"choices": ["x", "y"], "answer": "A", "distractor": "w"},
     r"d.jsonl:2: field 'distractor': 'w' is not a letter, an index or one of the choices"),
    ({"answer": "Mira", "distractor": "mira."},
     r"d.jsonl:2: field 'distractor' \('mira.'\) is the gold answer"),
    ({"answer": "Mira", "distractor": ["Tomas"]},
     r"d.jsonl:2: field 'distractor' \(the wrong answer\) must be text or a number, not list"),
])
def test_a_bad_distractor_is_an_error_naming_its_row(tmp_path, row, message):
    good = {"question": "Q?", "answer": "Mira", "distractor": "Tomas"}
    if "choices" in row:
        good = {"question": "Q?", "choices": ["x", "y"], "answer": "A", "distractor": "y"}
    path = write(tmp_path / "d.jsonl", [good, {"question": "Q?", **row}])
    with pytest.raises(DatasetError, match=message):
        load_dataset(path)


def test_the_default_distractor_column_leaves_the_field_map_and_runs_identities_as_they_were():
    assert FieldMap().model_dump() == {"question": "question", "answer": "answer", "id": "id",
                                       "choices": "choices", "context": "context"}
    assert FieldMap(distractor="wrong").model_dump()["distractor"] == "wrong"


# -- end to end ------------------------------------------------------------------------------


async def test_debate_qa_runs_on_quality_with_the_best_distractor(tmp_path):
    from debate.experiment.config import ExperimentConfig
    from debate.experiment.runner import arun_experiment
    from debate.testing import register_script
    from debate.trace import read_traces

    register_script("quality-speaker", lambda m, p: "<quote>Bastien</quote> I am right.")
    register_script("quality-judge", lambda m, p: '{"A": 0.6, "B": 0.4}')
    config = ExperimentConfig(
        protocol="debate-qa", output_dir=str(tmp_path),
        models=["qa-debater=scripted:quality-speaker", "qa-judge=scripted:quality-judge"],
        dataset={"path": str(FIXTURE), "quality": KHAN}, protocol_options={"rounds": 1})
    summary = await arun_experiment(config, progress=False)
    assert summary.debates == 2 and not summary.failed
    run_dir = tmp_path / config.run_name(fingerprint(config).identity)
    traces = {t.question.id: t for t in read_traces(run_dir / "traces.jsonl")}
    assert set(traces) == {"vey-A-1", "glass-A-5"}
    lamp = traces["vey-A-1"]
    defended = {t.fields["defends"] for t in lamp.turns if t.kind == "argument"}
    assert defended == {"She had once mended his coat", "She paid the lamp tax"}
    for turn in lamp.turns:
        if turn.kind == "argument":
            assert lamp.question.context in turn.messages[1].content
        if turn.agent == "judge":  # the judge never sees the article
            assert all("forty-one lamps" not in m.content for m in turn.messages)
    assert lamp.question.metadata["difficult"] == 1


HUB_SCRIPT = r'''
import json, shutil, sys
from pathlib import Path

from datasets.packaged_modules.json.json import Json

tmp, fixture = Path(sys.argv[1]), Path(sys.argv[2])
rows = tmp / "validation.jsonl"
with rows.open("w") as out:  # as tasksource/QuALITY stores it: one question per row
    for line in fixture.read_text(encoding="utf-8").split("\n")[:-1]:
        article = json.loads(line)
        for i, question in enumerate(article.pop("questions")):
            question.setdefault("question_unique_id", f"{article['set_unique_id']}_{i + 1}")
            out.write(json.dumps({**article, "article_id": int(article["article_id"]),
                                  **question}) + "\n")
# a cached copy of "tasksource/QuALITY", as datasets.load_dataset leaves it
builder = Json(cache_dir=str(tmp / "build"), dataset_name="qu_ality", config_name="default",
               data_files={"validation": str(rows), "train": str(rows)}, hash="0123abcd")
builder.download_and_prepare()
(built,) = (tmp / "build" / "qu_ality").iterdir()
(tmp / "cache" / "tasksource___qu_ality").mkdir(parents=True)
shutil.move(str(built), str(tmp / "cache" / "tasksource___qu_ality" / "default"))

from debate import ExperimentConfig
from debate.experiment.identity import fingerprint
from debate.datasets import load_dataset
from debate.errors import DatasetError

hub = {"hub": "tasksource/QuALITY", "split": "validation", "quality": {"hard": True}}
cfg = ExperimentConfig(protocol="debate-qa", models=["scripted:echo"], dataset=hub,
                       output_dir=str(tmp / "runs"))
questions = load_dataset(cfg.dataset.source())
try:
    fingerprint(ExperimentConfig(protocol="debate-qa", models=["scripted:echo"],
                                 output_dir=str(tmp), dataset={**hub, "split": None}))
    error = ""
except DatasetError as exc:
    error = str(exc)
print(json.dumps({"ids": [q.id for q in questions], "gold": questions[0].gold,
                  "distractor": questions[0].metadata["distractor"],
                  "run": cfg.run_name(fingerprint(cfg).identity), "error": error}))
'''


def test_quality_by_hub_name_from_a_locally_cached_copy_offline(tmp_path):
    pytest.importorskip("datasets")
    import os
    import subprocess
    import sys

    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1",
           "HF_DATASETS_CACHE": str(tmp_path / "cache"), "HF_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-c", HUB_SCRIPT, str(tmp_path),
                           str(FIXTURE.resolve())], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["ids"] == [q for q in ALL if q not in ("vey-A-3", "archive-A_2")]
    assert result["gold"] == "C" and result["distractor"] == "She paid the lamp tax"
    assert result["run"].startswith("debate-qa-QuALITY-")
    assert "has splits ['train', 'validation']: name one with `split`" in result["error"]
