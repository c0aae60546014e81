"""`debate export` never deletes what it did not write.

An export replaces its whole output folder, so it writes only into a new or empty
folder, or (with --overwrite) over an earlier export whose manifest lists every file
there. Anything else is refused before any work: exit 2, one line naming the path,
no traceback, every file as it was.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from debate.agents import Debater
from debate.cli.main import app
from debate.errors import ConfigError
from debate.export.writers import write_export
from debate.protocols import DuProtocol
from debate.testing import ScriptedModel
from debate.trace import Question, TraceWriter

runner = CliRunner()
MANIFEST = "debatelab-export.json"
ROWS = [{"question_id": f"q{i}", "prompt": f"p{i}", "completion": f"c{i}",
         "metadata": {"models": ["scripted:m"], "protocol": "du", "strategy": "sft"}}
        for i in range(4)]


async def du_trace(qid: str):
    """A one-round du debate: agent-0 right, agent-1 wrong (one gold pair)."""
    q = Question(id=qid, text=f"What is 3 * 4? ({qid})", task="numeric", gold="12")
    agents = [Debater(f"agent-{i}", ScriptedModel([reply], name=f"m{i}"))
              for i, reply in enumerate(["right \\boxed{12}", "wrong \\boxed{13}"])]
    return await DuProtocol(agents=2, rounds=0).run(q, agents)


async def make_run(folder: Path) -> Path:
    """A run folder as `debate run` leaves it: traces, config, cache, summary."""
    with TraceWriter(folder / "traces.jsonl") as writer:
        for i in range(3):
            writer.write(await du_trace(f"q{i}"))
    (folder / "config.json").write_text('{"identity": "0123abcd", "config": {"name": "r"}}')
    (folder / "cache.sqlite").write_bytes(b"SQLite format 3\x00 pretend")
    (folder / "summary.json").write_text("{}")
    return folder


def export(*args: str | Path):
    """`debate export ARGS` (JSONL only, so the tests need no pyarrow/datasets)."""
    return runner.invoke(app, ["export", *map(str, args), "--writer", "jsonl"])


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file's bytes and every folder (None) under root."""
    return {p.relative_to(root).as_posix(): None if p.is_dir() else p.read_bytes()
            for p in sorted(root.rglob("*"))}


def assert_refused(result, named: str, *why: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "error:" in result.output and named in result.output, result.output
    for words in why:
        assert words in result.output, result.output


@pytest.fixture
async def run_dir(tmp_path) -> Path:
    return await make_run(tmp_path / "runs" / "r")


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
async def test_the_run_folder_itself_is_refused_even_with_overwrite(tmp_path, run_dir,
                                                                    overwrite):
    before = snapshot(tmp_path)
    result = export(run_dir, "--out", run_dir, *overwrite)
    assert_refused(result, str(run_dir), "is a run folder (traces.jsonl",
                   "not even with --overwrite")
    assert snapshot(tmp_path) == before


async def test_another_run_folder_is_refused_even_with_overwrite(tmp_path, run_dir):
    other = await make_run(tmp_path / "runs" / "other")
    before = snapshot(tmp_path)
    result = export(run_dir, "--out", other, "--overwrite")
    assert_refused(result, str(other), "run folder", "traces.jsonl")
    assert snapshot(tmp_path) == before


async def test_a_folder_holding_the_sources_is_refused(tmp_path, run_dir):
    before = snapshot(tmp_path)
    assert_refused(export(run_dir, "--out", tmp_path / "runs", "--overwrite"),
                   str(tmp_path / "runs"), "traces being exported")
    assert snapshot(tmp_path) == before


async def test_a_folder_with_a_user_file_is_refused(tmp_path, run_dir):
    mine = tmp_path / "mydata"
    mine.mkdir()
    (mine / "notes.txt").write_text("my notes")
    before = snapshot(tmp_path)
    for overwrite in ([], ["--overwrite"]):
        assert_refused(export(run_dir, "--out", mine, *overwrite), str(mine),
                       "not an earlier debatelab export")
    assert snapshot(tmp_path) == before


async def test_a_plain_file_is_refused(tmp_path, run_dir):
    target = tmp_path / "data.jsonl"
    target.write_text('{"keep": "me"}\n')
    before = snapshot(tmp_path)
    for overwrite in ([], ["--overwrite"]):
        assert_refused(export(run_dir, "--out", target, *overwrite), str(target), "a file")
    assert snapshot(tmp_path) == before


async def test_the_current_folder_is_refused(tmp_path, run_dir, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path)
    for overwrite in ([], ["--overwrite"]):
        assert_refused(export("runs/r", "--out", ".", *overwrite), str(tmp_path),
                       "current folder")
    assert snapshot(tmp_path) == before


async def test_the_current_folder_is_refused_even_when_empty(tmp_path, run_dir, monkeypatch):
    here = tmp_path / "empty"
    here.mkdir()
    monkeypatch.chdir(here)
    before = snapshot(tmp_path)
    assert_refused(export(run_dir, "--out", "."), str(here), "current folder")
    assert_refused(export(run_dir, "--out", ".."), str(tmp_path), "current folder")
    assert snapshot(tmp_path) == before


async def test_an_earlier_export_is_refused_without_overwrite(tmp_path, run_dir):
    out = tmp_path / "exports" / "dpo"
    assert export(run_dir, "--out", out).exit_code == 0
    before = snapshot(tmp_path)
    assert_refused(export(run_dir, "--out", out, "-f", "kto"), str(out),
                   "pass --overwrite to replace this earlier export")
    assert snapshot(tmp_path) == before


async def test_an_earlier_export_with_a_user_file_added_is_refused(tmp_path, run_dir):
    out = tmp_path / "exports" / "dpo"
    assert export(run_dir, "--out", out).exit_code == 0
    (out / "notes").mkdir()
    (out / "notes" / "todo.txt").write_text("mine")
    before = snapshot(tmp_path)
    assert_refused(export(run_dir, "--out", out, "--overwrite"), str(out),
                   "notes/todo.txt", "did not write")
    assert snapshot(tmp_path) == before


async def test_overwrite_replaces_an_earlier_export_and_only_it(tmp_path, run_dir):
    out = tmp_path / "exports" / "dpo"
    assert export(run_dir, "--out", out, "-f", "sharegpt").exit_code == 0
    assert (out / "dataset_info.json").exists()
    runs_before = snapshot(tmp_path / "runs")
    result = export(run_dir, "--out", out, "-f", "kto", "--overwrite")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["README.md", MANIFEST, "train.jsonl"]
    assert "label" in json.loads((out / "train.jsonl").read_text().splitlines()[0])
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["format"] == "kto" and manifest["files"] == ["README.md", "train.jsonl"]
    assert manifest["sources"] == [str(run_dir / "traces.jsonl")]
    assert manifest["counts"] == {"train": 6}
    assert snapshot(tmp_path / "runs") == runs_before
    assert sorted(p.name for p in out.parent.iterdir()) == ["dpo"]  # no staging left


async def test_an_empty_folder_may_be_used(tmp_path, run_dir):
    out = tmp_path / "empty"
    out.mkdir()
    assert export(run_dir, "--out", out).exit_code == 0
    assert (out / "train.jsonl").exists() and (out / MANIFEST).exists()


def test_the_python_api_refuses_alike_before_writing(tmp_path):
    mine = tmp_path / "mydata"
    mine.mkdir()
    (mine / "notes.txt").write_text("my notes")
    with pytest.raises(ConfigError, match="not an earlier debatelab export"):
        write_export(ROWS, mine, fmt="sft-prompt-completion", strategies=["sft"],
                     fractions=[1.0], writers=("jsonl",), overwrite=True)
    out = tmp_path / "out"
    write_export(ROWS, out, fmt="sft-prompt-completion", strategies=["sft"], fractions=[1.0],
                 writers=("jsonl",))
    with pytest.raises(ConfigError, match="overwrite"):
        write_export(ROWS, out, fmt="sft-prompt-completion", strategies=["sft"],
                     fractions=[1.0], writers=("jsonl",))
    assert write_export(ROWS[:1], out, fmt="sft-prompt-completion", strategies=["sft"],
                        fractions=[1.0], writers=("jsonl",), overwrite=True) == {"train": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mydata", "out"]


async def test_the_refusal_comes_before_any_trace_is_read(tmp_path, run_dir, monkeypatch):
    mine = tmp_path / "mydata"
    mine.mkdir()
    (mine / "notes.txt").write_text("my notes")

    def unread(*args, **kwargs):
        raise AssertionError("traces read before the refusal")

    monkeypatch.setattr("debate.trace.read_traces", unread)
    assert_refused(export(run_dir, "--out", mine), str(mine), "not an earlier")


async def test_an_earlier_export_with_an_empty_folder_or_a_link_added_is_refused(tmp_path,
                                                                                 run_dir):
    out = tmp_path / "out"
    assert export(run_dir, "--out", out).exit_code == 0
    (out / "checkpoints").mkdir()
    before = snapshot(tmp_path)
    assert_refused(export(run_dir, "--out", out, "--overwrite"), str(out), "checkpoints")
    (out / "checkpoints").rmdir()
    (out / "latest").symlink_to(run_dir)
    before = snapshot(tmp_path)
    assert_refused(export(run_dir, "--out", out, "--overwrite"), str(out), "latest (a link)")
    assert snapshot(tmp_path) == before and (run_dir / "traces.jsonl").exists()


def test_a_link_as_out_is_refused(tmp_path):
    out = tmp_path / "out"
    write_export(ROWS, out, fmt="sft-prompt-completion", strategies=["sft"], fractions=[1.0],
                 writers=("jsonl",))
    (tmp_path / "latest").symlink_to(out)
    with pytest.raises(ConfigError, match="is a link"):
        write_export(ROWS, tmp_path / "latest", fmt="sft-prompt-completion",
                     strategies=["sft"], fractions=[1.0], writers=("jsonl",), overwrite=True)


def test_a_file_added_while_exporting_is_kept(tmp_path, monkeypatch):
    out = tmp_path / "out"
    write_export(ROWS, out, fmt="sft-prompt-completion", strategies=["sft"], fractions=[1.0],
                 writers=("jsonl",))
    from debate.export import writers

    card = writers.dataset_card

    def card_and_a_user_file(*args, **kwargs):
        (out / "notes.txt").write_text("added meanwhile")
        return card(*args, **kwargs)

    monkeypatch.setattr(writers, "dataset_card", card_and_a_user_file)
    with pytest.raises(ConfigError, match="notes.txt"):
        write_export(ROWS[:1], out, fmt="sft-prompt-completion", strategies=["sft"],
                     fractions=[1.0], writers=("jsonl",), overwrite=True)
    assert (out / "notes.txt").read_text() == "added meanwhile"
    assert len((out / "train.jsonl").read_text().splitlines()) == 4  # the earlier export
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging left


def test_an_interrupted_swap_puts_the_earlier_export_back(tmp_path, monkeypatch):
    out = tmp_path / "out"
    write_export(ROWS, out, fmt="sft-prompt-completion", strategies=["sft"], fractions=[1.0],
                 writers=("jsonl",))
    before = snapshot(tmp_path)
    rename = Path.rename

    def interrupted(self, target):
        if self.name.startswith(".out.") and ".old." not in self.name:  # the new export
            raise KeyboardInterrupt
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_export(ROWS[:1], out, fmt="sft-prompt-completion", strategies=["sft"],
                     fractions=[1.0], writers=("jsonl",), overwrite=True)
    assert snapshot(tmp_path) == before
