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

import pytest
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
    assert (record.calls_paid, record.answer_calls_paid) == (48, 48)
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


def test_a_cache_already_there_is_never_overwritten(tmp_path):
    """Before: none. Now: the seed copies only into a folder without a cache file."""
    source, target = tmp_path / "a", tmp_path / "b"
    for folder, rows_ in ((source, [("k", "from a")]), (target, [("k", "mine")])):
        folder.mkdir()
        with sqlite3.connect(folder / "cache.sqlite") as db:
            db.execute("CREATE TABLE calls (key TEXT PRIMARY KEY, completion TEXT)")
            db.executemany("INSERT INTO calls VALUES (?, ?)", rows_)
        db.close()
    assert seed_cache(source, target) is False
    with sqlite3.connect(target / "cache.sqlite") as db:
        assert db.execute("SELECT completion FROM calls").fetchall() == [("mine",)]
    db.close()
    assert seed_cache(source, tmp_path / "c") is True
    with sqlite3.connect(tmp_path / "c" / "cache.sqlite") as db:
        assert db.execute("SELECT completion FROM calls").fetchall() == [("from a",)]
    db.close()
    assert [p.name for p in (tmp_path / "c").iterdir()] == ["cache.sqlite"]


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
    the line; with ``--rounds`` beside it, an error naming both; under 2, typer's range error."""
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows()), encoding="utf-8")
    args = ["run", "--dataset", str(data), "--task", "numeric", "--model",
            "scripted:stabilising", "--agents", "3", "--out", str(tmp_path / "runs"),
            "--name", "cli", "--no-progress"]
    runner = CliRunner()
    both = runner.invoke(app, [*args, "--adaptive-stop", "3", "--rounds", "2"])
    assert both.exit_code == 2 and "--adaptive-stop MAX_ROUNDS and --rounds" in both.output
    low = runner.invoke(app, [*args, "--adaptive-stop", "1"])
    assert low.exit_code == 2 and not (tmp_path / "runs").exists()
    result = runner.invoke(app, [*args, "--adaptive-stop", "2"])
    assert result.exit_code == 0, result.output
    assert ("adaptive stopping (Hu et al. 2025): no stop (no 2 consecutive rounds with a KS "
            "distance below 0.05 in rounds 0..2); majority-vote accuracy 75.0% at round 2; "
            "36 answer calls paid of the 36 a fixed 2-round run makes (1 run folder)"
            ) in " ".join(result.output.split())
    record = json.loads((tmp_path / "runs" / "cli.adaptive.json").read_text(encoding="utf-8"))
    assert record["stop_round"] is None and record["runs"][0]["run"] == str(
        tmp_path / "runs" / "cli-r2")
