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
