"""A run never mixes two configurations: its identity is the resolved content, not paths."""

import json
import shutil

import pytest
from typer.testing import CliRunner

from debate import ExperimentConfig, arun_experiment
from debate.cli import app
from debate.errors import ConfigError
from debate.experiment.identity import changes, fingerprint

DATA = "experiments/data/arithmetic.jsonl"


def spec(tmp_path, preset="rounds: 1", card=None, data=None):
    (tmp_path / "preset.yaml").write_text(f"protocol: du\noptions:\n  {preset}\n")
    data = data or tmp_path / "data.jsonl"
    if not data.exists():
        shutil.copy(DATA, data)
    roles = {}
    if card is not None:
        (tmp_path / "card.yaml").write_text(f"name: c\ntemplates:\n  debate: '{card}'\n")
        roles = {"roles": [f"agent-2={tmp_path / 'card.yaml'}"]}
    return ExperimentConfig(protocol=str(tmp_path / "preset.yaml"), models=["scripted:echo"],
                            dataset={"path": str(data), "task": "numeric"}, limit=2,
                            output_dir=str(tmp_path / "runs"), name="run", **roles)


async def test_editing_a_preset_between_runs_is_refused_with_what_changed(tmp_path):
    await arun_experiment(spec(tmp_path), progress=False)
    with pytest.raises(ConfigError) as error:
        await arun_experiment(spec(tmp_path, "rounds: 2"), progress=False)
    message = str(error.value)
    assert "protocol.options.rounds: 1 -> 2" in message
    assert "--name" in message and "--force" in message


async def test_force_continues_and_records_the_change(tmp_path):
    await arun_experiment(spec(tmp_path), progress=False)
    summary = await arun_experiment(spec(tmp_path, "rounds: 2"), progress=False, force=True)
    assert summary.debates == 2  # the finished debates stay as they were made
    record = json.loads((tmp_path / "runs" / "run" / "config.json").read_text())
    (forced,) = record["forced"]
    assert forced["changed"] == ["protocol.options.rounds: 1 -> 2"]
    assert record["identity"] == forced["to"] != forced["from"]
    await arun_experiment(spec(tmp_path, "rounds: 2"), progress=False)  # now the same again


async def test_the_dataset_counts_by_content_not_by_path(tmp_path):
    moved = tmp_path / "elsewhere.jsonl"
    shutil.copy(DATA, moved)
    assert fingerprint(spec(tmp_path)).identity == fingerprint(spec(tmp_path, data=moved)).identity
    await arun_experiment(spec(tmp_path), progress=False)
    with (tmp_path / "data.jsonl").open("a") as f:
        f.write('{"id": "extra", "question": "What is 1 + 1?", "answer": 2}\n')
    with pytest.raises(ConfigError, match="dataset.sha256"):
        await arun_experiment(spec(tmp_path), progress=False)


async def test_a_role_card_template_edit_is_named(tmp_path):
    await arun_experiment(spec(tmp_path, card="Peers: {{ peers }} {{ question }}"),
                          progress=False)
    with pytest.raises(ConfigError, match="agents.agent-2.templates.debate"):
        await arun_experiment(spec(tmp_path, card="Others: {{ peers }} {{ question }}"),
                              progress=False)


async def test_execution_settings_resume_the_same_run(tmp_path):
    await arun_experiment(spec(tmp_path), progress=False)
    config = spec(tmp_path).model_copy(update={"limit": 3, "concurrency": 1})
    summary = await arun_experiment(config, progress=False)
    assert summary.debates == 3


def test_what_changes_the_identity(tmp_path):
    base = fingerprint(spec(tmp_path))
    for change, where in [({"temperature": 0.1}, "sampling.temperature"),
                          ({"models": ["scripted:first-number"]}, "models.positional"),
                          ({"strict_parsing": True}, "sampling.strict_parsing"),
                          ({"protocol_options": {"agents": 2}}, "protocol.options.agents")]:
        other = fingerprint(spec(tmp_path).model_copy(update=change))
        assert other.identity != base.identity
        assert any(line.startswith(where) for line in changes(base.components,
                                                              other.components)), where
    served = spec(tmp_path).model_copy(update={"models": ["scripted:echo@http://x:1/v1"]})
    assert fingerprint(served).identity == base.identity  # where a model is served


def test_cli_force_flag(tmp_path):
    runner = CliRunner()
    args = ["run", "--dataset", DATA, "--task", "numeric", "--model", "scripted:echo",
            "--limit", "1", "--name", "r", "--out", str(tmp_path), "--no-progress"]
    assert runner.invoke(app, [*args, "--rounds", "1"]).exit_code == 0
    refused = runner.invoke(app, [*args, "--rounds", "2"])
    assert refused.exit_code == 2 and "rounds: 1 -> 2" in refused.output
    assert runner.invoke(app, [*args, "--rounds", "2", "--force"]).exit_code == 0
