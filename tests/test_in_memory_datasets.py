"""Questions given in Python (Questions, dicts, a ``datasets.Dataset``) run like a file's:
read with the same field mapping and located errors, hashed into the run's identity,
recorded in ``config.json`` as their count and hash."""

import json

import pytest

from debate import ExperimentConfig, Question, arun_experiment
from debate.datasets import DatasetSpec, FieldMap, load_dataset, read_dataset
from debate.errors import ConfigError, DatasetError
from debate.experiment.identity import fingerprint
from debate.settings import check_settings

ROWS = [{"question": "1+1?", "answer": 2}, {"question": "2+2?", "answer": 4},
        {"question": "3+3?", "answer": 6}]


def questions() -> list[Question]:
    return [Question(id=f"q{i}", text=row["question"], task="numeric", gold=str(row["answer"]))
            for i, row in enumerate(ROWS)]


def config(tmp_path, dataset, **kw) -> ExperimentConfig:
    return ExperimentConfig(dataset=dataset, models=["scripted:echo"], rounds=0, agents=2,
                            output_dir=str(tmp_path / "runs"), **kw)


def test_a_list_of_questions_is_a_dataset():
    """Before: a raw validation dump. Now: the Questions are the run's, as they are."""
    cfg = ExperimentConfig(dataset=questions())
    loaded = read_dataset(cfg.dataset.source())
    assert [q.id for q in loaded.questions] == ["q0", "q1", "q2"]
    assert (loaded.task, loaded.task_source) == ("numeric", "given")


def test_a_list_of_dicts_is_read_like_a_files_rows():
    """Before: refused. Now: the default mapping reads them, the task is inferred."""
    loaded = read_dataset(ExperimentConfig(dataset=ROWS).dataset.source())
    assert [q.gold for q in loaded.questions] == ["2", "4", "6"]
    assert [q.id for q in loaded.questions] == ["memory-0", "memory-1", "memory-2"]
    assert loaded.task == "numeric"


def test_rows_in_python_take_the_field_mapping():
    """Before: DatasetSpec took a path or a Hub name. Now: rows, with fields=, as a file."""
    spec = DatasetSpec(rows=[{"q": "1+1?", "a": 2}], fields=FieldMap(question="q", answer="a"))
    assert load_dataset(spec.source(), fields=spec.fields)[0].text == "1+1?"


def test_a_bad_row_in_python_is_named_by_its_index():
    """Before: no such rows. Now: ``rows[1]: field 'question' is missing``, like ``file:2``."""
    with pytest.raises(DatasetError, match=r"^rows\[1\]: field 'question' is missing"):
        load_dataset([{"question": "a?", "answer": 1}, {"q": "b?", "answer": 2}])


def test_a_list_of_something_else_is_refused_naming_the_item():
    """Before: a raw validation dump. Now: the item, what it is, and what is allowed."""
    with pytest.raises(ConfigError, match=r"dataset.rows: rows\[1\]: expected a dict \(a row\), "
                                          r"got int \(7\)"):
        ExperimentConfig(dataset=[{"question": "a?"}, 7])
    with pytest.raises(ConfigError, match=r"dataset: int \(42\) is not a dataset: give a file "
                                          r"path, .*a list of Questions or of dicts"):
        ExperimentConfig(dataset=42)
    with pytest.raises(ConfigError, match="no rows"):
        ExperimentConfig(dataset=[])


def test_questions_take_no_field_mapping():
    """Before: not possible. Now: ``fields`` on Questions, already read, is refused."""
    with pytest.raises(ConfigError, match="these rows are Questions"):
        DatasetSpec(rows=questions(), fields=FieldMap(question="q"))


def test_questions_of_another_task_than_the_datasets_are_refused():
    """Before: not possible. Now: a Question's task disagreeing with dataset.task is named."""
    with pytest.raises(DatasetError, match=r"rows\[0\]: the Question's task is 'numeric'"):
        read_dataset(questions(), task="exact")


def test_the_same_rows_give_the_same_identity_and_other_rows_another(tmp_path):
    """Before: no in-memory data. Now: the content is hashed, row by row."""
    same = fingerprint(config(tmp_path, [dict(r) for r in ROWS])).identity
    assert fingerprint(config(tmp_path, ROWS)).identity == same
    edited = [*ROWS[:2], {"question": "3+3?", "answer": 7}]
    assert fingerprint(config(tmp_path, edited)).identity != same
    assert fingerprint(config(tmp_path, questions())).identity != same


def test_a_hf_dataset_hashes_as_the_same_rows_given_as_dicts(tmp_path):
    """Before: a datasets.Dataset could not be a config's dataset. Now: it is, hashed as rows."""
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_list(ROWS)
    cfg = config(tmp_path, ds)
    assert cfg.dataset.rows is not None and cfg.dataset.rows.kind == "datasets.Dataset"
    assert cfg.dataset.content_hash() == config(tmp_path, ROWS).dataset.content_hash()
    assert [q.gold for q in load_dataset(cfg.dataset.source())] == ["2", "4", "6"]


async def test_a_run_records_rows_by_count_and_hash_and_resumes_with_the_same_rows(tmp_path):
    """Before: no in-memory data. Now: config.json holds count and hash; a rerun resumes."""
    first = await arun_experiment(config(tmp_path, ROWS, limit=2), progress=False)
    (run,) = (tmp_path / "runs").iterdir()
    assert run.name.startswith("du-memory-")
    record = json.loads((run / "config.json").read_text())["config"]["dataset"]
    assert record["rows"] == {"in_memory": "rows", "count": 3,
                              "sha256": config(tmp_path, ROWS).dataset.content_hash()}
    second = await arun_experiment(config(tmp_path, [dict(r) for r in ROWS]), progress=False)
    assert [p.name for p in (tmp_path / "runs").iterdir()] == [run.name]
    assert (first.debates, second.debates) == (2, 3)


def test_a_recorded_dataset_validates_again_but_has_no_rows_to_read(tmp_path):
    """Before: no in-memory data. Now: the record re-validates (check_settings, a Ray shard's
    copy of the config), and reading it says the rows are not kept."""
    cfg = config(tmp_path, ROWS)
    check_settings(cfg)
    again = ExperimentConfig.model_validate(cfg.model_dump(mode="json"))
    assert again.dataset.content_hash() == cfg.dataset.content_hash()
    with pytest.raises(DatasetError, match="not kept in config.json: give them again"):
        load_dataset(again.dataset.source())


def test_a_python_copy_of_the_config_keeps_the_rows(tmp_path):
    """Before: no in-memory data. Now: only a JSON dump records; a copy still reads the rows
    (the CLI's ``--task`` over a spec with inline ``rows:`` rebuilds the dataset this way)."""
    cfg = config(tmp_path, ROWS)
    again = ExperimentConfig.model_validate(cfg.model_dump())
    copied = cfg.model_copy(update={"limit": 1}, deep=True)
    for other in (again, copied):
        assert len(load_dataset(other.dataset.source())) == 3


def test_a_ray_shard_gets_the_config_with_the_rows_record(tmp_path):
    """Before: no in-memory data. Now: the shard's copy validates and carries count and hash
    (its questions come from the driver)."""
    from debate.experiment.ray_executor import ShardRunner, _portable

    cfg = config(tmp_path, ROWS)
    payload = _portable(cfg)
    assert payload["dataset"]["rows"]["count"] == 3
    json.dumps(payload)  # it travels as JSON
    shard = ShardRunner(payload, 0, str(tmp_path), "id")
    assert shard.config.dataset.content_hash() == cfg.dataset.content_hash()


def test_rows_are_copied_and_an_object_without_stable_text_is_refused():
    """Found in review: rows were kept by reference (a row changed after the config was
    made changed the run, not its identity), and any object hashed as its repr (an
    address: a new identity every process). Rows are copied; such a value is refused."""
    import datetime

    row = {"question": "What is 2 + 3?", "answer": 5, "asked": datetime.date(2026, 1, 2)}
    config = ExperimentConfig(models=["scripted:first-number"], dataset=[row])
    row["question"] = "What is 9 + 9?"
    assert config.dataset.rows.data[0]["question"] == "What is 2 + 3?"
    with pytest.raises(ConfigError, match=r"rows\[0\]: a value of type object, which has no"):
        ExperimentConfig(models=["scripted:first-number"],
                         dataset=[{"question": "q", "answer": 1, "x": object()}])
