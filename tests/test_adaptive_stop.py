"""Adaptive stopping as a run mode (Hu et al. 2025): rounds 2, 3, ... until the data set is stable.

The data set of :data:`COUNTS` is the hand-worked run of ``tests/test_stability.py``: correct
agents (of 3) per question, round 0: 0, 1, 0, 0 (counts 3 / 1 / 0 / 0); from round 1 on:
3, 2, 3, 0 (counts 1 / 0 / 1 / 2). Rounds 1, 2, 3... have the same counts, so the same seeded
fit: KS 0 from round 2 on, and round 1's KS (its fit's weight) is above 0.05. The test of
rounds 0..2 has one stable round (2); that of rounds 0..3 has two (2, 3): it stops at round 3.
Majority vote: round 0 none right (q2's 5, 5, 4 votes 5); from round 1 on q1, q2, q3: 3/4.
"""

import json
import re
import sqlite3
from collections import Counter
from contextlib import closing
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from debate import ExperimentConfig, arun_experiment
from debate.cli import app
from debate.errors import ConfigError
from debate.experiment.adaptive import (
    AdaptiveRecord,
    arun_adaptive,
    round_config,
    run_folder,
    seed_cache,
)
from debate.testing import register_script

COUNTS = {"Q1": [0, 3], "Q2": [1, 2], "Q3": [0, 3], "Q4": [0, 0]}
"""Correct agents per question at round 0, then at every later round (the last value stays)."""
CALLS: Counter[str] = Counter()
"""Calls the scripted model answered (paid calls), by question, agent and round."""


def stabilising(messages, params):
    """Agent i answers 4 (right) while i < the question's count at this round, else 5.

    du's chat memory: the agent's n-th answer (round n - 1) follows its n-th user message.
    """
    users = [m.content for m in messages if m.role == "user"]
    round_ = len(users) - 1
    agent = int(params.sampler.removeprefix("agent-"))
    question = re.match(r"Q\d", users[0])[0]
    counts = COUNTS[question]
    CALLS[f"{question}/{params.sampler}/r{round_}"] += 1
    right = agent < counts[min(round_, len(counts) - 1)]
    return f"The answer is \\boxed{{{4 if right else 5}}}."


@pytest.fixture(autouse=True)
def script(restored_registries):
    register_script("stabilising", stabilising)
    CALLS.clear()


def rows(gold=True):
    return [{"id": q.lower(), "question": f"{q}: what is 2 + 2?", **({"answer": 4} if gold else {})}
            for q in COUNTS]


def config(tmp_path, **kw) -> ExperimentConfig:
    base = {"dataset": {"rows": rows(), "task": "numeric"}, "models": ["scripted:stabilising"],
            "agents": 3, "output_dir": str(tmp_path), "name": "arith", "concurrency": 4}
    return ExperimentConfig(**(base | kw))


async def test_the_data_set_stops_at_its_second_stable_round_each_round_paid_once(tmp_path):
    """Before: the test only described a finished run. Now: rounds=2 runs (one stable round,
    no stop), rounds=3 runs on round 2's cache and stops at round 3; rounds=4 never runs.
    Run 2 pays 4 questions x 3 agents x 3 rounds = 36 answer calls; run 3 replays those 36
    and pays round 3's 12: 48 in all, against the 60 of a fixed 4-round run."""
    record = await arun_adaptive(config(tmp_path), 4, progress=False)
    assert record.stop_round == 3 and record.why_no_stop is None and record.finished
    assert [r.rounds for r in record.runs] == [2, 3]
    assert [r.run for r in record.runs] == [str(tmp_path / "arith-r2"), str(tmp_path / "arith-r3")]
    assert not (tmp_path / "arith-r4").exists()
    assert [r.stop for r in record.runs] == [None, 3]
    assert record.runs[1].seeded_from == str(tmp_path / "arith-r2")
    # each round paid once: the cached calls of run 3 are the answer calls of rounds 0..2
    assert [(r.answer_calls, r.answer_calls_paid) for r in record.runs] == [(36, 36), (48, 12)]
    assert [(r.calls, r.calls_paid) for r in record.runs] == [(36, 36), (48, 12)]
    assert sum(CALLS.values()) == 48 and set(CALLS.values()) == {1}  # no call made twice
    assert (record.calls_paid, record.answer_calls_paid, record.other_calls_paid) == (48, 48, 0)
    assert [(r.replayed, r.why_not_replayed, r.k) for r in record.runs] == [(None, None, 3),
                                                                            (True, None, 3)]
    assert (record.fixed_run_answer_calls, record.fixed_run_answer_calls_exact) == (60, False)
    ks = [r.ks for r in record.ks]
    assert [r.round for r in record.ks] == [0, 1, 2, 3]
    assert ks[0] is None and ks[1] > 0.05 and ks[2:] == [0.0, 0.0]
    assert record.ks[0].counts == [3, 1, 0, 0]
    assert {tuple(r.counts) for r in record.ks[1:]} == {(1, 0, 1, 2)}
    assert [r.majority_accuracy for r in record.ks] == [0.0, 0.75, 0.75, 0.75]
    assert (record.accuracy_at_stop, record.accuracy_at_max) == (0.75, None)
    assert (record.questions, record.without_gold) == (4, 0)
    saved = AdaptiveRecord.model_validate_json(
        (tmp_path / "arith.adaptive.json").read_text(encoding="utf-8"))
    assert saved == record
    assert record.summary_line() == (
        "adaptive stopping (Hu et al. 2025): stopped at round 3 (max 4); majority-vote "
        "accuracy 75.0% there; 48 answer calls paid of at most 60 a fixed 4-round run makes "
        "(2 run folders)")


async def test_without_a_stop_it_runs_to_max_rounds_and_says_why(tmp_path):
    """Before: none. Now: max 2 runs rounds 0..2 only: one stable round, no stop; the record
    says why, the accuracy at round 2 (3/4) and the fixed run's calls exactly (36)."""
    record = await arun_adaptive(config(tmp_path), 2, progress=False)
    assert record.stop_round is None and [r.rounds for r in record.runs] == [2]
    assert record.why_no_stop == ("no 2 consecutive rounds with a KS distance below 0.05 in "
                                  "rounds 0..2")
    assert (record.accuracy_at_stop, record.accuracy_at_max) == (None, 0.75)
    assert (record.fixed_run_answer_calls, record.fixed_run_answer_calls_exact) == (36, True)
    data = json.loads((tmp_path / "arith.adaptive.json").read_text(encoding="utf-8"))
    assert data["stop_round"] is None and data["runs"][0]["run"] == str(tmp_path / "arith-r2")


async def test_a_rerun_resumes_and_pays_nothing(tmp_path):
    """Before: none. Now: the same call again replays its run folder: no call is paid."""
    first = await arun_adaptive(config(tmp_path), 2, progress=False)
    CALLS.clear()
    again = await arun_adaptive(config(tmp_path), 2, progress=False)
    assert sum(CALLS.values()) == 0
    assert again.runs[0].answer_calls_paid == first.runs[0].answer_calls_paid == 36
    assert again.why_no_stop == first.why_no_stop


async def test_an_unnamed_experiment_gets_an_identity_named_folder_per_round(tmp_path):
    """Before: none. Now: without a name, each round's folder is named by its identity (the
    rounds option changes it), and the record after the fixed max_rounds run's folder."""
    cfg = config(tmp_path, name=None)
    folders = [run_folder(round_config(cfg, r)) for r in (2, 3)]
    assert folders[0] != folders[1] and all(f.name.startswith("du-memory-") for f in folders)
    record = await arun_adaptive(cfg, 2, progress=False)
    assert [r.run for r in record.runs] == [str(folders[0])]
    assert record.experiment == folders[0].name  # max 2: run 2's folder name
    assert (tmp_path / f"{folders[0].name}.adaptive.json").exists()


def split(messages, params):
    """agent-0 answers 5, the others 4, in ReConcile's JSON and in a box (du-sparse's)."""
    a = 5 if params.sampler == "agent-0" else 4
    return f'{{"reasoning": "2 + 2", "answer": "{a}", "confidence": 0.9}} \\boxed{{{a}}}'


@pytest.mark.parametrize(("protocol", "agents"), [("reconcile", 3), ("du-sparse", 6)])
async def test_the_other_protocols_replay_every_earlier_round_from_the_seeded_cache(
        tmp_path, protocol, agents):
    """Before: none. Now: their answer prompts do not depend on the rounds option either, so
    the rounds=3 run on rounds=2's cache pays round 3 alone (2 questions x N agents)."""
    register_script("split", split)
    cfg = config(tmp_path, protocol=protocol, agents=None, models=["scripted:split"],
                 dataset={"rows": rows()[:2], "task": "numeric"})
    two, three = round_config(cfg, 2), round_config(cfg, 3)
    first = await arun_experiment(two, progress=False)
    assert seed_cache(run_folder(two), run_folder(three))
    second = await arun_experiment(three, progress=False)
    assert (first.calls, first.cached_calls) == (2 * agents * 3, 0)
    assert (second.calls, second.cached_calls) == (2 * agents * 4, 2 * agents * 3)


PAID: list[str] = []
"""Positions (``q1/r3/agent-0/answer``...) the :func:`split_voting` model answered."""


def split_voting(messages, params):
    """Agent i answers 4 + i (no majority: no consensus stop), in ReConcile's JSON and in a
    box; a ballot for solution 0 when asked to vote; its position noted."""
    from debate.models.cache import call_position

    PAID.append(call_position.get())
    if call_position.get().endswith("/vote"):
        return "0"
    a = 4 + int(params.sampler.removeprefix("agent-")) if params.sampler.startswith("agent-") \
        else 4
    return f'{{"reasoning": "2 + 2", "answer": "{a}", "confidence": 0.9}} \\boxed{{{a}}}'


@pytest.mark.parametrize("options", [
    {"prompting": "rcr"}, {"summarize_peers": True}, {"topology": "ring", "agents": 5},
    {"stop_on_consensus": True}, {"uncertainty": "mean-nll"}, {"judge": "llm"},
    {"decision": "simple-voting"}, {"decision": "majority-consensus"},
    {"decision": "hybrid-consensus"}, {"top_two_groups": True}])
async def test_every_du_and_reconcile_variant_pays_only_round_3_on_round_2_s_seed(
        tmp_path, options):
    """Before: none. Now: for du's variants (and ReConcile's top two groups), the rounds=3 run
    seeded from rounds=2's folder pays calls at round 3's positions alone: every answer of
    round 3 (2 questions x its agents), and its final decision (a judge, votes), if any."""
    register_script("split-voting", split_voting)
    protocol = "reconcile" if "top_two_groups" in options else "du"
    cfg = config(tmp_path, protocol=protocol, agents=None, models=["scripted:split-voting"],
                 protocol_options=options, dataset={"rows": rows()[:2], "task": "numeric"})
    two, three = round_config(cfg, 2), round_config(cfg, 3)
    await arun_experiment(two, progress=False)
    PAID.clear()
    assert seed_cache(run_folder(two), run_folder(three))
    await arun_experiment(three, progress=False)
    agents = options.get("agents", 3)
    assert {p.split("/")[1] for p in PAID} == {"r3"}
    assert len([p for p in PAID if p.endswith(("/answer", "/revision"))]) == 2 * agents


def cache_file(path, rows_, *, wal=False):
    """A response cache file holding ``rows_`` (key, completion); ``wal``: left open in WAL
    mode, its rows not checkpointed into the file (the connection is returned)."""
    db = sqlite3.connect(path)
    if wal:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA wal_autocheckpoint=0")
    db.execute("CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, completion TEXT)")
    db.executemany("INSERT INTO calls VALUES (?, ?)", rows_)
    db.commit()
    if wal:
        return db
    db.close()
    return None


def completions(path):
    with closing(sqlite3.connect(path)) as db:
        return sorted(db.execute("SELECT key, completion FROM calls").fetchall())


def test_the_seed_is_a_file_of_its_own_rebuilt_each_time_and_the_cache_is_never_touched(
        tmp_path):
    """Before: the seed went into cache.sqlite, only when the folder had no cache file. Now:
    every call rebuilds cache-seed.sqlite from all of the source's cache files (its own seed
    and an un-checkpointed write-ahead log included); the target's cache.sqlite keeps its
    bytes."""
    source, target = tmp_path / "a", tmp_path / "b"
    source.mkdir()
    target.mkdir()
    live = cache_file(source / "cache.sqlite", [("k1", "from a")], wal=True)
    cache_file(source / "cache-seed.sqlite", [("k0", "from a's seed"), ("k1", "older")])
    cache_file(target / "cache.sqlite", [("k1", "mine")])
    mine = (target / "cache.sqlite").read_bytes()
    assert seed_cache(source, target) is True
    seed = target / "cache-seed.sqlite"
    assert completions(seed) == [("k0", "from a's seed"), ("k1", "from a")]  # its own first
    assert (target / "cache.sqlite").read_bytes() == mine
    live.execute("INSERT INTO calls VALUES ('k2', 'added later')")  # a larger --limit
    live.commit()
    assert seed_cache(source, target) is True  # rebuilt, not kept
    assert completions(seed) == [("k0", "from a's seed"), ("k1", "from a"),
                                 ("k2", "added later")]
    live.close()
    assert (target / "cache.sqlite").read_bytes() == mine
    with closing(sqlite3.connect(seed)) as db:  # read without leaving a -wal beside it
        assert db.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    assert sorted(p.name for p in target.iterdir()) == ["cache-seed.sqlite", "cache.sqlite"]
    assert seed_cache(tmp_path / "none", tmp_path / "c") is False
    assert not (tmp_path / "c").exists()


def test_a_killed_run_s_temporary_seed_copies_are_removed_and_nothing_else(tmp_path):
    """Before: a run killed while seeding left its .seed-*.tmp copy (and SQLite's journal
    beside it) for good. Now: the next seed_cache removes the target's leftovers of that
    name pattern; any other file, however like them, stays."""
    source, target = tmp_path / "a", tmp_path / "b"
    source.mkdir()
    target.mkdir()
    cache_file(source / "cache.sqlite", [("k1", "from a")])
    leftovers = [".seed-k2j4_x9q.tmp", ".seed-k2j4_x9q.tmp-journal", ".seed-ab12cd34.tmp-wal"]
    kept = [".seed-notes.txt", "seed-ab12cd34.tmp", ".seed-.tmp", ".seed-ab12cd34.tmp.bak"]
    for name in leftovers + kept:
        (target / name).write_bytes(b"left")
    assert seed_cache(source, target) is True
    assert sorted(p.name for p in target.iterdir()) == sorted([*kept, "cache-seed.sqlite"])


@pytest.mark.parametrize(("update", "max_rounds", "message"), [
    ({}, 1, r"max_rounds is 1; it is at least 2"),
    ({"protocol": "mad", "agents": None}, 3,
     r"protocol 'mad' does not qualify: its rounds are not rounds in which every agent answers"),
    ({"protocol": "single", "agents": None}, 3, r"protocol 'single' does not qualify: it has no "
                                                r"rounds option"),
    ({"agents": 1}, 3, r"protocol 'du' has 1 agent"),
    ({"rounds": 5}, 3, r"the experiment sets rounds 5: remove it"),
    ({"protocol_options": {"rounds": 4}}, 3, r"the experiment sets rounds 4: remove it"),
    ({"cache": False}, 3, r"needs cache: true"),
    ({"dataset": {"rows": rows(gold=False), "task": "numeric"}}, 3,
     r"needs gold answers: none of the 4 questions has one"),
])
@pytest.mark.filterwarnings("ignore:no question has a gold answer")
async def test_what_the_mode_cannot_run_is_refused_before_anything_is_paid(
        tmp_path, update, max_rounds, message):
    """Before: none. Now: each refusal names why, and no folder is made, no call paid."""
    with pytest.raises(ConfigError, match=message):
        await arun_adaptive(config(tmp_path, **update), max_rounds, progress=False)
    assert list(tmp_path.iterdir()) == [] and not CALLS


def test_the_cli_flag_runs_the_mode_and_refuses_rounds_beside_it(tmp_path):
    """Before: no flag. Now: ``--adaptive-stop 2`` runs rounds 0..2 (no stop there) and prints
    the line and the record's path; with ``--rounds`` beside it, an error naming both; under
    2, typer's range error; -o rounds=N beside it, or a spec that sets rounds, refused."""
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows()), encoding="utf-8")
    args = ["run", "--dataset", str(data), "--task", "numeric", "--model",
            "scripted:stabilising", "--agents", "3", "--out", str(tmp_path / "runs"),
            "--name", "cli", "--no-progress"]
    runner = CliRunner()
    both = runner.invoke(app, [*args, "--adaptive-stop", "3", "--rounds", "2"])
    assert both.exit_code == 2 and "--adaptive-stop MAX_ROUNDS and --rounds" in both.output
    option = runner.invoke(app, [*args, "--adaptive-stop", "3", "-o", "rounds=2"])
    assert option.exit_code == 2 and "--adaptive-stop MAX_ROUNDS and --rounds (or -o rounds=N)" \
        in " ".join(option.output.split())
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"dataset: {{path: {data}, task: numeric}}\nmodels: [scripted:stabilising]\n"
                    "agents: 3\nrounds: 4\n", encoding="utf-8")
    in_spec = runner.invoke(app, ["run", str(spec), "--out", str(tmp_path / "runs"),
                                  "--no-progress", "--adaptive-stop", "3"])
    assert in_spec.exit_code == 2
    assert "and the experiment sets rounds 4: remove it" in " ".join(in_spec.output.split())
    low = runner.invoke(app, [*args, "--adaptive-stop", "1"])
    assert low.exit_code == 2 and not (tmp_path / "runs").exists()
    result = runner.invoke(app, [*args, "--adaptive-stop", "2"])
    assert result.exit_code == 0, result.output
    assert ("adaptive stopping (Hu et al. 2025): no stop (no 2 consecutive rounds with a KS "
            "distance below 0.05 in rounds 0..2); majority-vote accuracy 75.0% at round 2; "
            "36 answer calls paid of the 36 a fixed 2-round run makes (1 run folder)"
            ) in " ".join(result.output.split())
    path = tmp_path / "runs" / "cli.adaptive.json"
    assert f"adaptive stopping record: {path}\n" in result.output
    record = json.loads(path.read_text(encoding="utf-8"))
    assert record["stop_round"] is None and record["runs"][0]["run"] == str(
        tmp_path / "runs" / "cli-r2")
    seeded = runner.invoke(app, [*args, "--adaptive-stop", "3"])  # round 3, on round 2's seed
    assert seeded.exit_code == 0, seeded.output
    assert ("cache-seed.sqlite: adaptive stopping: the previous round's replies, read, never "
            "written (rebuilt before each run)") in " ".join(seeded.output.split())


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


async def test_a_larger_limit_pays_each_new_question_s_rounds_once(tmp_path):
    """Before: run 3's folder had a cache, so it was not seeded again: q3 and q4's rounds
    0..2 were paid twice. Now: the seed is rebuilt before every run. limit 2: q1, q2 stop at
    round 3 (run 2: 2 x 3 agents x 3 rounds = 18, run 3: round 3's 6); limit 4: the same
    for q3, q4: 24 more, no position paid twice."""
    first = await arun_adaptive(config(tmp_path, limit=2), 4, progress=False)
    assert first.stop_round == 3 and first.answer_calls_paid == 24 and sum(CALLS.values()) == 24
    second = await arun_adaptive(config(tmp_path, limit=4), 4, progress=False)
    assert second.stop_round == 3 and [r.rounds for r in second.runs] == [2, 3]
    assert sum(CALLS.values()) == 48 and set(CALLS.values()) == {1}
    assert [r.answer_calls_paid for r in second.runs] == [36, 12]  # the folders' whole cost
    assert [r.replayed for r in second.runs] == [None, True]


async def test_a_folder_of_another_experiment_is_left_as_it_is_and_refused(tmp_path):
    """Before: round 3's seed was written into another experiment's arith-r3 before the run
    refused it, and the record was left unfinished. Now: that folder keeps every byte, the
    refusal is the run's (the --force hint), and the record says why it stopped."""
    other = config(tmp_path, name="arith-r3", rounds=1, cache=False,
                   dataset={"rows": rows()[:2], "task": "numeric"})
    await arun_experiment(other, progress=False)
    before = files(tmp_path / "arith-r3")
    with pytest.raises(ConfigError, match=r"--force"):
        await arun_adaptive(config(tmp_path), 4, progress=False)
    assert files(tmp_path / "arith-r3") == before
    record = AdaptiveRecord.model_validate_json(
        (tmp_path / "arith.adaptive.json").read_text(encoding="utf-8"))
    assert record.finished and record.why_no_stop.startswith(
        "the run with rounds=3 was refused: ")
    assert [r.rounds for r in record.runs] == [2]


async def test_force_seeds_another_experiment_s_folder_and_pays_only_its_new_round(tmp_path):
    """Before: --force continued round 3's folder of another experiment unseeded, paying
    rounds 0..2 again. Now: under --force it is seeded too. That folder holds q1's debate of
    the other experiment (2 agents, rounds 0..3, no cache), which --force keeps as it was
    made; q2..q4 replay rounds 0..2 from the seed and pay round 3 alone: 3 x 3 = 9 calls after
    run 2's 36, no position paid twice. q1's 6 answers of rounds 0..2 were paid in that
    folder, not replayed: replayed false, with why, and a warning."""
    other = config(tmp_path, name="arith-r3", cache=False, limit=1, rounds=3,
                   dataset={"rows": rows(), "task": "numeric"}, agents=2)
    await arun_experiment(other, progress=False)
    CALLS.clear()
    console = Console(record=True, width=400)
    record = await arun_adaptive(config(tmp_path), 4, progress=False, force=True,
                                 console=console)
    three = record.runs[1]
    assert three.seeded_from == str(tmp_path / "arith-r2")
    assert sum(CALLS.values()) == 36 + 9 and set(CALLS.values()) == {1}
    assert not [k for k in CALLS if k.startswith("Q1/") and k.endswith("/r3")]  # q1 kept
    assert (three.answer_calls, three.answer_calls_paid) == (8 + 3 * 12, 8 + 9)
    assert three.replayed is False and three.why_not_replayed == (
        "6 answer call(s) of rounds 0..2 were paid in this folder, not replayed from the seed "
        "(a run without the seed, e.g. under --force, or prompts that depend on rounds)")
    assert "did not replay the rounds before: 6 answer call(s)" in console.export_text()


async def test_a_folder_another_run_holds_is_refused_before_its_seed_and_recorded(tmp_path):
    """Before: a refusal while seeding (round 3's folder locked by another run) left the
    record unfinished. Now: the lock's refusal (naming the holder's pid) goes on, and the
    record is finished, its why_no_stop naming the refusal; no seed is written."""
    import os

    fcntl = pytest.importorskip("fcntl")  # RunLock's (no lock on Windows)
    (tmp_path / "arith-r3").mkdir()
    with (tmp_path / "arith-r3" / ".lock").open("a+", encoding="utf-8") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as RunLock does, for another pid
        held.write(f"{os.getppid()}\n")
        held.flush()
        with pytest.raises(ConfigError, match=rf"in use by another run \(pid {os.getppid()}\)"):
            await arun_adaptive(config(tmp_path), 4, progress=False)
    record = AdaptiveRecord.model_validate_json(
        (tmp_path / "arith.adaptive.json").read_text(encoding="utf-8"))
    assert record.finished and record.stop_round is None
    assert record.why_no_stop == (
        f"the run with rounds=3 was refused: run folder {tmp_path / 'arith-r3'} is in use by "
        f"another run (pid {os.getppid()}); wait for it to finish, or give this run another "
        "--name")
    assert [r.rounds for r in record.runs] == [2]
    assert not (tmp_path / "arith-r3" / "cache-seed.sqlite").exists()


async def test_an_interrupted_rerun_leaves_its_own_unfinished_record_not_the_previous(
        tmp_path, monkeypatch):
    """Before: a re-run stopped in its first run left the previous, finished record in
    place. Now: the record is written as soon as the mode starts: the file says max 5,
    unfinished, no run yet."""
    import debate.experiment.adaptive as adaptive

    await arun_adaptive(config(tmp_path), 4, progress=False)

    async def interrupted(*args, **kwargs):
        raise RuntimeError("interrupted")

    monkeypatch.setattr(adaptive, "arun_experiment", interrupted)
    with pytest.raises(RuntimeError, match="interrupted"):
        await arun_adaptive(config(tmp_path), 5, progress=False)
    record = AdaptiveRecord.model_validate_json(
        (tmp_path / "arith.adaptive.json").read_text(encoding="utf-8"))
    assert record == AdaptiveRecord(experiment="arith", protocol="du", max_rounds=5)


PARSED_FROM_3 = {"Q1": [0, 2, 2, 2], "Q2": [1, 1, 2, 2], "Q3": [0, 2, 2, 2], "Q4": [0, 0, 0, 0],
                 "Q5": [1, 2, 2, 3]}
"""Correct agents per question, rounds 0..3; agent-2's answers cannot be parsed before round 3."""


def late_parser(messages, params):
    """As :func:`stabilising` over :data:`PARSED_FROM_3`; agent-2 gives no answer before round 3."""
    users = [m.content for m in messages if m.role == "user"]
    round_, agent = len(users) - 1, int(params.sampler.removeprefix("agent-"))
    if agent == 2 and round_ < 3:
        return "I cannot tell."
    right = agent < PARSED_FROM_3[re.match(r"Q\d", users[0])[0]][round_]
    return f"The answer is \\boxed{{{4 if right else 5}}}."


async def test_k_is_the_most_answers_parsed_in_the_rounds_run_so_far(tmp_path):
    """Before: k was not recorded. Now: run 2 has at most 2 answers parsed per question
    (k = 2: counts 0..2), run 3 parses agent-2's round-3 answers (k = 3), so it refits rounds
    0..2 with 4 count bins: round 0 (0, 1, 0, 0, 1 right) gives (3, 2, 0, 0), round 1
    (2, 1, 2, 0, 2) (1, 1, 3, 0), round 2 (2, 2, 2, 0, 2) (1, 0, 4, 0), round 3 (2, 2, 2, 0,
    3) (1, 0, 3, 1)."""
    register_script("late", late_parser)
    qs = [{"id": q.lower(), "question": f"{q}: what is 2 + 2?", "answer": 4}
          for q in PARSED_FROM_3]
    cfg = config(tmp_path, models=["scripted:late"], strict_parsing=True,
                 dataset={"rows": qs, "task": "numeric"})
    record = await arun_adaptive(cfg, 3, progress=False)
    assert [r.k for r in record.runs] == [2, 3]
    assert [r.counts for r in record.ks] == [[3, 2, 0, 0], [1, 1, 3, 0], [1, 0, 4, 0],
                                             [1, 0, 3, 1]]
    saved = json.loads((tmp_path / "arith.adaptive.json").read_text(encoding="utf-8"))
    assert [r["k"] for r in saved["runs"]] == [2, 3]


FAIL = {"at": None}
"""The position (``q1/r3/agent-2``...) whose call raises while set."""


def failing(messages, params):
    """:func:`stabilising`, raising at the call ``FAIL["at"]`` names."""
    users = [m.content for m in messages if m.role == "user"]
    question = re.match(r"Q\d", users[0])[0]
    here = f"{question}/{params.sampler}/r{len(users) - 1}"
    if here == FAIL["at"]:
        raise RuntimeError("the backend is down")
    return stabilising(messages, params)


async def test_a_failed_debate_resumed_counts_the_calls_its_failed_attempt_paid(tmp_path):
    """Before: Q1's round-3 calls paid before agent-2's failed were cached when it resumed,
    so the record counted fewer than were paid. Now: a round after the previous run's counts
    as paid: run 3 fails Q1 (why_no_stop set, no fixed-run count); the re-run resumes it:
    36 + 12 = 48 answer calls, each paid once, as the scripted model counted."""
    register_script("failing", failing)
    FAIL["at"] = "Q1/agent-2/r3"
    cfg = config(tmp_path, models=["scripted:failing"])
    broken = await arun_adaptive(cfg, 4, progress=False)
    assert broken.stop_round is None and broken.runs[-1].failed == 1
    assert broken.why_no_stop == ("the run with rounds=3 left 1 debate(s) unfinished; re-run "
                                  "the same command to resume")
    assert broken.fixed_run_answer_calls is None
    FAIL["at"] = None
    record = await arun_adaptive(cfg, 4, progress=False)
    assert record.stop_round == 3
    assert [r.answer_calls_paid for r in record.runs] == [36, 12]
    assert record.answer_calls_paid == sum(CALLS.values()) == 48 and set(CALLS.values()) == {1}


def voting(messages, params):
    """:func:`stabilising`, and a simple-voting ballot for solution 0."""
    from debate.models.cache import call_position

    if call_position.get().endswith("/vote"):
        return "0"
    return stabilising(messages, params)


async def test_a_final_vote_is_paid_in_every_run_and_counted_apart(tmp_path):
    """Before: the votes were in calls_paid only. Now: each run's 4 questions x 3 voters
    (at its last round) are other_calls_paid: 12 + 12, in the record and its line."""
    register_script("voting", voting)
    cfg = config(tmp_path, models=["scripted:voting"],
                 protocol_options={"decision": "simple-voting"})
    record = await arun_adaptive(cfg, 4, progress=False)
    assert record.stop_round == 3
    assert [(r.answer_calls_paid, r.other_calls_paid, r.calls_paid) for r in record.runs] == [
        (36, 12, 48), (12, 12, 24)]
    assert (record.answer_calls_paid, record.other_calls_paid, record.calls_paid) == (48, 24, 72)
    assert "; 24 other calls paid (a judge, votes, summaries: each run pays its own) (2 run " \
           "folders)" in record.summary_line()


async def test_earlier_rounds_paid_again_are_recorded_and_warned(tmp_path):
    """Before: unreported. Now: with round 2's cache emptied, run 3's seed holds none of
    rounds 0..2 (as when a protocol's earlier prompts depend on rounds): its 36 answer calls
    of those rounds are paid again, replayed: false says so, and a warning."""
    await arun_adaptive(config(tmp_path), 2, progress=False)
    (tmp_path / "arith-r2" / "cache.sqlite").unlink()
    cache_file(tmp_path / "arith-r2" / "cache.sqlite", [])
    console = Console(record=True, width=400)
    record = await arun_adaptive(config(tmp_path), 3, progress=False, console=console)
    three = record.runs[1]
    assert three.seeded_from == str(tmp_path / "arith-r2") and three.replayed is False
    assert three.why_not_replayed == (
        "36 answer call(s) of rounds 0..2 were paid in this folder, not replayed from the seed "
        "(a run without the seed, e.g. under --force, or prompts that depend on rounds)")
    assert three.answer_calls_paid == 48
    assert "did not replay the rounds before: 36 answer call(s)" in console.export_text()


async def test_the_same_call_again_after_a_stop_pays_nothing_and_keeps_each_cache(tmp_path):
    """Before: none. Now: re-running max 4 after the stop at round 3 rebuilds round 3's seed,
    replays both folders (no call paid), records the same outcome and leaves each folder's
    own cache.sqlite byte for byte as it was."""
    first = await arun_adaptive(config(tmp_path), 4, progress=False)
    caches = {r: (tmp_path / f"arith-r{r}" / "cache.sqlite").read_bytes() for r in (2, 3)}
    CALLS.clear()
    again = await arun_adaptive(config(tmp_path), 4, progress=False)
    assert not CALLS and again.stop_round == first.stop_round == 3
    assert again.runs == first.runs and again.answer_calls_paid == 48
    assert {r: (tmp_path / f"arith-r{r}" / "cache.sqlite").read_bytes() for r in (2, 3)} == caches
    assert (tmp_path / "arith-r3" / "cache-seed.sqlite").exists()
    assert not (tmp_path / "arith-r2" / "cache-seed.sqlite").exists()  # the first run's: none


def agreeing(messages, params):
    """Q1: every agent answers 4 (a consensus at round 0); Q2: agent i answers 4 + i."""
    users = [m.content for m in messages if m.role == "user"]
    agent = int(params.sampler.removeprefix("agent-"))
    return f"The answer is \\boxed{{{4 if users[0].startswith('Q1') else 4 + agent}}}."


async def test_a_fixed_run_s_answer_calls_keep_a_consensus_stop_where_it_was(tmp_path):
    """Before: untested. Now: from a rounds=2 run with stop_on_consensus, Q1 (3 agents
    agreeing at round 0: 3 answers) ends there in the longer run too; Q2 (never agreeing:
    rounds 0..2, 9 answers) answers 3 more times in each of rounds 3..5: to rounds=5,
    3 + 9 + 9 = 21."""
    from debate.experiment.adaptive import _fixed_run_answers, _run_traces

    register_script("agreeing", agreeing)
    cfg = round_config(config(tmp_path, models=["scripted:agreeing"],
                              protocol_options={"stop_on_consensus": True},
                              dataset={"rows": rows()[:2], "task": "numeric"}), 2)
    await arun_experiment(cfg, progress=False)
    traces = _run_traces(run_folder(cfg), {"q1", "q2"})
    by_id = {t.question.id: t for t in traces}
    assert by_id["q1"].stop_reason == "consensus" and by_id["q2"].stop_reason == "max_rounds"
    assert [len(r) for r in by_id["q1"].rounds()] == [3]
    assert [len(r) for r in by_id["q2"].rounds()] == [3, 3, 3]
    assert _fixed_run_answers(traces, 2, 5) == 3 + 9 + 9
