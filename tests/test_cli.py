import json

from typer.testing import CliRunner

from debate.cli import app

runner = CliRunner()
DATA = "experiments/data/arithmetic.jsonl"


def test_run_then_report(tmp_path):
    args = ["run", "--dataset", DATA, "--model", "scripted:first-number", "--limit", "3",
            "--rounds", "1", "--out", str(tmp_path), "--name", "cli", "--no-progress"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "final accuracy" in result.output and "per round" in result.output
    assert "per debate" in result.output and "arith-02" in result.output  # one row each
    assert f"results in {tmp_path / 'cli'}/" in result.output and "traces.jsonl" in result.output
    assert "results.csv" in result.output and "accuracy.svg" in result.output
    traces = (tmp_path / "cli" / "traces.jsonl").read_text().splitlines()
    assert len(traces) == 3 and len(json.loads(traces[0])["turns"]) == 6
    report = runner.invoke(app, ["report", str(tmp_path / "cli"), "--json"])
    assert report.exit_code == 0 and json.loads(report.output)["debates"] == 3


def test_spec_file_with_flag_overrides(tmp_path):
    result = runner.invoke(app, ["run", "experiments/du-arithmetic-smollm2.yaml", "--model",
                                 "scripted:first-number", "--limit", "2", "--out",
                                 str(tmp_path), "--no-progress"])
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "du-arithmetic-smollm2" / "config.json").read_text())
    assert config["config"]["models"] == ["scripted:first-number"]
    assert config["config"]["limit"] == 2


def test_bad_input_gives_one_clear_error(tmp_path):
    result = runner.invoke(app, ["run", "--dataset", DATA, "--model", "gpt-4o", "--out",
                                 str(tmp_path)])
    assert result.exit_code == 2
    assert "invalid model spec 'gpt-4o'" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["run", "--dataset", "nope.jsonl", "--model", "scripted:echo",
                                 "--out", str(tmp_path)])
    assert result.exit_code == 2 and "no such file" in result.output
    result = runner.invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2 and "no traces.jsonl" in result.output


def test_protocols_and_models_listing(monkeypatch):
    result = runner.invoke(app, ["protocols"])
    assert result.exit_code == 0
    assert all(name in result.output for name in ("du", "single", "self-consistency"))
    result = runner.invoke(app, ["protocols", "du", "--graph"])
    assert "rounds = 2" in result.output and "graph TD" in result.output
    result = runner.invoke(app, ["models"])
    assert "llamacpp:smollm2" in result.output
    assert "backends: anthropic, llamacpp, openai, scripted, vllm" in result.output
    for script in ("scripted:echo ", "scripted:first-number ", "scripted:reply=TEXT "):
        assert script in result.output
    from debate.testing import scripted

    monkeypatch.setitem(scripted._SCRIPTS, "always-7", lambda messages, params: "7")
    assert "scripted:always-7" in runner.invoke(app, ["models"]).output


def test_roles_listing_shows_each_template_and_its_fields():
    listing = runner.invoke(app, ["roles"])
    assert listing.exit_code == 0 and "debater" in listing.output and "mad-judge" in listing.output
    shown = runner.invoke(app, ["roles", "debater"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0
    line = next(x for x in shown.output.splitlines() if x.strip().startswith("debate "))
    assert line.split()[1:] == ["format,", "majority,", "peers,", "question", "du_debate.md"]
    assert runner.invoke(app, ["roles", "nobody"]).exit_code == 2


def test_run_then_export_merging_runs(tmp_path):
    datasets = __import__("pytest").importorskip("datasets")
    for name, model in (("a", "scripted:first-number"), ("b", "scripted:reply=\\boxed{55}")):
        result = runner.invoke(app, ["run", "--dataset", DATA, "--model", model, "--limit", "6",
                                     "--rounds", "0", "--out", str(tmp_path), "--name", name,
                                     "--no-progress"])
        assert result.exit_code == 0, result.output
    out = tmp_path / "export"
    result = runner.invoke(app, ["export", str(tmp_path / "a"), str(tmp_path / "b"), "--out",
                                 str(out), "-s", "sft", "-f", "sft"])
    assert result.exit_code == 0, result.output
    assert "12 debates" in result.output
    loaded = datasets.load_dataset("json", data_files={"train": str(out / "train.jsonl")})
    assert loaded["train"].num_rows >= 1
    assert "Debate-trace dataset" in (out / "README.md").read_text()
    bad = runner.invoke(app, ["export", str(tmp_path / "nope"), "--out", str(out)])
    assert bad.exit_code == 2 and "no traces.jsonl" in bad.output


def test_a_spec_s_file_with_task_or_dataset_flags_keeps_its_default_field_map(tmp_path):
    """Found in review: `debate run spec.yaml --task numeric` failed with "fields.id maps to
    column(s) ['id'], which no row has" (every default mapping was taken as explicit);
    now the flag overrides only what it names."""
    rows = tmp_path / "d.jsonl"
    rows.write_text('{"question": "What is 2 + 3?", "answer": 5}\n', encoding="utf-8")
    spec = tmp_path / "s.yaml"
    spec.write_text(f"protocol: single\nmodels: [scripted:first-number]\ndataset: {rows}\n",
                    encoding="utf-8")
    for flags in (["--task", "numeric"], ["--dataset", str(rows)]):
        result = runner.invoke(app, ["run", str(spec), *flags, "--out", str(tmp_path / "o"),
                                     "--name", flags[0][2:], "--no-progress"])
        assert result.exit_code == 0, result.output
