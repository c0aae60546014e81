"""Export strategies, filters, splits and formats on debates with known outcomes."""

import json

import pytest

from debate.agents import Debater
from debate.export import Filters, examples, export, format_rows, split_by_question
from debate.export.writers import write_export
from debate.protocols import DuProtocol, MadProtocol
from debate.testing import ScriptedModel
from debate.trace import Question


async def du_trace(replies, qid="q1", gold="12", rounds=None):
    """A du debate whose agent i replies replies[i][r] in round r."""
    rounds = len(replies[0]) - 1 if rounds is None else rounds
    q = Question(id=qid, text=f"What is 3 * 4? ({qid})", task="numeric", gold=gold)
    agents = [Debater(f"agent-{i}", ScriptedModel(list(r), name=f"m{i}"))
              for i, r in enumerate(replies)]
    return await DuProtocol(agents=len(replies), rounds=rounds).run(q, agents)


R, W, U = "right \\boxed{12}", "wrong \\boxed{13}", "no idea"


async def test_gold_pairs_round_zero():
    trace = await du_trace([[R, R], [W, R], [U, R]])
    found = examples([trace], "gold")
    assert [(e.chosen, e.rejected) for e in found] == [(R, W), (R, U)]  # unparseable: rejected
    assert all(e.prompt == trace.turns[0].messages for e in found)
    meta = found[0].metadata
    assert (meta.strategy, meta.round, meta.question_id, meta.agents) == ("gold", 0, "q1",
                                                                          ["agent-0", "agent-1"])
    assert meta.schema_version == 3 and len(meta.config_hash) == 12


async def test_gold_no_pairs_when_all_right_or_all_wrong_and_never_empty():
    assert examples([await du_trace([[R], [R], [R]])], "gold") == []
    assert examples([await du_trace([[W], [U], [W]])], "gold") == []
    assert examples([await du_trace([[R], [""], [R]])], "gold") == []  # empty never used
    assert examples([await du_trace([[R], [W]], gold=None)], "gold") == []  # no label


async def test_gold_later_rounds_only_when_asked_with_their_own_prompt():
    trace = await du_trace([[R, R], [W, W], [R, W + "!"]])
    assert {e.metadata.round for e in examples([trace], "gold")} == {0}
    later = examples([trace], "gold", options={"rounds": [1]})
    assert len(later) == 2 and all(e.metadata.round == 1 for e in later)
    assert later[0].prompt == trace.turns[3].messages  # the chosen turn's own multi-turn prompt
    assert len(later[0].prompt) == 3


async def test_duplicate_responses_are_deduped():
    trace = await du_trace([[R], [W], [W]])
    assert len(examples([trace], "gold")) == 1
    assert len(examples([trace], "gold", filters={"dedupe": False})) == 2


async def test_consensus_pairs_and_margin():
    trace = await du_trace([[W, R], [R, R], [U, W]], gold=None)
    found = examples([trace], "consensus")
    assert [(e.chosen, e.rejected) for e in found] == [(R, W), (R, U)]
    assert found[0].answer == "12" and found[0].score_chosen == pytest.approx(2 / 3)
    assert found[0].score_rejected == pytest.approx(1 / 3) and found[1].score_rejected == 0
    assert examples([trace], "consensus", options={"min_margin": 0.5}) == []
    tie = await du_trace([[R], [W]], gold=None)
    assert examples([tie], "consensus") == []


async def test_revision_pairs_with_and_without_gold():
    trace = await du_trace([[W, R], [R, R], [W, W]])
    (pair,) = examples([trace], "revision")
    assert (pair.chosen, pair.rejected) == (R, W) and pair.metadata.agents == ["agent-0"] * 2
    assert pair.prompt == trace.turns[0].messages  # the original question
    unlabeled = await du_trace([[W, R], [R, R], [R, R]], gold=None)
    assert len(examples([unlabeled], "revision")) == 1  # minority -> majority


async def test_judge_pairs_keep_the_rationale():
    from debate.agents.mad import Affirmative, MadJudge, Moderator, Negative

    q = Question(id="m", text="2+2?", task="numeric", gold="4")
    verdict = json.dumps({"preference": "yes", "supported_side": "negative",
                          "reason": "2+2 is 4", "debate_answer": "4"})
    agents = [Affirmative("affirmative", ScriptedModel("\\boxed{5}")),
              Negative("negative", ScriptedModel("\\boxed{4}")),
              Moderator("moderator", ScriptedModel(verdict)),
              MadJudge("judge", ScriptedModel("x"))]
    trace = await MadProtocol().run(q, agents)
    (pair,) = examples([trace], "judge")
    assert (pair.chosen, pair.rejected) == ("\\boxed{4}", "\\boxed{5}")
    assert pair.metadata.agents == ["negative", "affirmative"]
    assert json.loads(pair.metadata.extra)["method"] == "moderator"


async def test_sft_and_critique_examples():
    right = await du_trace([[R, R], [W, R], [R, R]], qid="a")
    wrong = await du_trace([[W, W], [W, W], [R, W]], qid="b")
    found = examples([right, wrong], "sft")
    assert len(found) == 3 and {e.completion for e in found} == {R}  # one per agent
    assert {e.metadata.question_id for e in found} == {"a"}  # only the correct debate
    rows = format_rows(found, "sft")
    assert rows[0]["messages"][-1] == {"role": "assistant", "content": R}


async def test_filters_cap_length_and_balance():
    traces = [await du_trace([[R], [W], [U]], qid=f"q{i}") for i in range(4)]
    assert len(examples(traces, "gold")) == 8
    capped = examples(traces, "gold", filters={"max_per_question": 1, "seed": 3})
    assert len(capped) == 4 and len({e.metadata.question_id for e in capped}) == 4
    assert capped == examples(traces, "gold", filters=Filters(max_per_question=1, seed=3))
    assert examples(traces, "gold", filters={"min_length": 10}) == examples(
        traces, "gold", filters={"min_length": 10})
    assert all(len(e.rejected) >= 10 for e in examples(traces, "gold", filters={"min_length": 10}))
    rows = export(traces, "gold", "kto")
    assert sum(r["label"] for r in rows) == 4 and len(rows) == 12  # one desirable per question


async def test_split_keeps_questions_whole():
    traces = [await du_trace([[R], [W], [U]], qid=f"q{i}") for i in range(20)]
    rows = export(traces, "gold", "dpo")
    splits = split_by_question(rows, [0.7, 0.2, 0.1], seed=1)
    ids = [{r["question_id"] for r in split} for split in splits.values()]
    assert sum(len(s) for s in ids) == 20 and not (ids[0] & ids[1] or ids[0] & ids[2]
                                                   or ids[1] & ids[2])
    assert list(splits) == ["train", "validation", "test"] and len(ids[0]) == 14
    assert split_by_question(rows, [0.7, 0.2, 0.1], seed=1) == splits


FORMAT_COLUMNS = {
    "dpo": {"prompt", "chosen", "rejected"},
    "dpo-standard": {"prompt", "chosen", "rejected"},
    "reward": {"prompt", "chosen", "rejected"},
    "reward-standard": {"prompt", "chosen", "rejected"},
    "kto": {"prompt", "completion", "label"},
    "kto-standard": {"prompt", "completion", "label"},
    "sft": {"messages"},
    "sft-standard": {"text"},
    "sft-prompt-completion": {"prompt", "completion"},
    "sft-prompt-completion-standard": {"prompt", "completion"},
    "grpo": {"prompt", "answer"},
    "sharegpt": {"conversations", "system", "chosen", "rejected"},
}

@pytest.mark.parametrize("fmt", sorted(FORMAT_COLUMNS))
async def test_every_format_loads_with_datasets(fmt, tmp_path):
    datasets = pytest.importorskip("datasets")
    traces = [await du_trace([[W, R], [R, W], [U, R]], qid=f"q{i}") for i in range(4)]
    rows = export(traces, "gold", fmt, options={"rounds": [0, 1]})
    counts = write_export(rows, tmp_path, fmt=fmt, strategies=["gold"], fractions=[0.5, 0.5])
    assert sum(counts.values()) == len(rows)
    loaded = datasets.load_dataset("json", data_files=str(tmp_path / "train.jsonl"),
                                   split="train")
    assert FORMAT_COLUMNS[fmt] <= set(loaded.column_names)
    assert {"metadata", "question_id"} <= set(loaded.column_names)
    parquet = datasets.Dataset.from_parquet(str(tmp_path / "train.parquet"))
    assert parquet.column_names == loaded.column_names
    assert datasets.load_from_disk(str(tmp_path / "hf"))["train"].num_rows == counts["train"]
    if fmt.startswith(("dpo", "reward", "sharegpt")):
        assert {"margin", "score_chosen", "score_rejected"} <= set(loaded.column_names)
    if fmt == "dpo":
        multi = [r for r in loaded if r["metadata"]["round"] == 1]
        assert multi and [m["role"] for m in multi[0]["prompt"]] == ["user", "assistant", "user"]
        assert set(multi[0]["prompt"][0]) == {"role", "content"}
        assert multi[0]["chosen"] == [{"role": "assistant", "content": R}]
    if fmt.endswith("-standard"):
        assert all(isinstance(loaded[0][c], str) for c in FORMAT_COLUMNS[fmt] - {"label"})
    if fmt == "sharegpt":
        info = json.loads((tmp_path / "dataset_info.json").read_text())
        assert info["debatelab_train"]["ranking"] is True
        assert loaded[0]["conversations"][0]["from"] == "human"
    assert "Load it" in (tmp_path / "README.md").read_text()


async def test_format_names_say_conversational_or_standard():
    traces = [await du_trace([[W, R], [R, W], [U, R]], qid=f"q{i}") for i in range(2)]
    pairs, singles = (["dpo", "reward"], ["kto", "sft-prompt-completion"])
    for fmt in pairs + singles:
        strategy = "gold" if fmt in pairs else "sft"
        plain = export(traces, strategy, fmt, options={"rounds": [0, 1]})
        standard = export(traces, strategy, f"{fmt}-standard", options={"rounds": [0, 1]})
        assert len(plain) == len(standard) > 0
        assert isinstance(plain[0]["prompt"], list) and isinstance(standard[0]["prompt"], str)
        last = standard[-1]["prompt"]
        assert plain[-1]["prompt"][-1]["content"] in last
    text = export(traces, "sft", "sft-standard")[0]["text"]
    assert text.startswith("User: ") and text.endswith("Assistant: " + R)
    # the older names are aliases of the conversational formats
    assert export(traces, "gold", "dpo-conversational") == export(traces, "gold", "dpo")
    assert export(traces, "gold", "reward-conversational") == export(traces, "gold", "reward")


async def test_pair_format_rejects_single_examples():
    from debate.errors import ConfigError

    trace = await du_trace([[R], [R], [R]])
    with pytest.raises(ConfigError, match="does not take single completions"):
        export([trace], "sft", "dpo")


async def test_grpo_rows_and_reference_reward():
    from debate.export.rewards import answer_reward

    trace = await du_trace([[R, R], [R, R], [W, R]], gold=None)
    rows = export([trace], "sft", "grpo")
    assert rows[0]["answer"] == "12" and rows[0]["prompt"][-1]["role"] == "user"
    reward = answer_reward("numeric", format_bonus=0.1)
    completions = [[{"role": "assistant", "content": "so \\boxed{12}"}], "it is 13", "hmm"]
    assert reward(completions, answer=["12", "12", "12"]) == [1.1, 0.1, 0.0]


async def test_correctness_filter_drops_wrong_consensus():
    trace = await du_trace([[W, W], [W, W], [R, R]])  # the majority is wrong
    assert len(examples([trace], "consensus")) == 1
    assert examples([trace], "consensus", filters={"correct": True}) == []


async def test_the_reward_target_is_the_gold_whenever_there_is_one():
    # consensus is 13 (wrong), gold is 12: consensus pairs still prefer the majority, but
    # the row's answer (the GRPO reward target) is the gold, and says so
    trace = await du_trace([[W], [W], [R]])
    for strategy in ("consensus", "gold"):
        for row in export([trace], strategy, "grpo"):
            assert row["answer"] == "12" and row["metadata"]["answer_source"] == "gold"
    no_gold = await du_trace([[W], [W], [R]], gold=None)
    rows = export([no_gold], "consensus", "grpo")
    assert rows and all(r["answer"] == "13" for r in rows)
    assert all(r["metadata"]["answer_source"] == "consensus" for r in rows)


async def test_fallback_parsed_turns_decide_no_label_unless_allowed():
    guessed = "I get 13"  # read by the last-number fallback
    trace = await du_trace([[R], [guessed], [W]])
    assert trace.turns[1].is_fallback
    pairs = examples([trace], "gold")
    assert [(e.chosen, e.rejected) for e in pairs] == [(R, W)]  # the guess is left out
    allowed = examples([trace], "gold", options={"allow_fallback": True})
    assert [(e.chosen, e.rejected) for e in allowed] == [(R, guessed), (R, W)]
    assert allowed[0].metadata.answers_from == ["explicit", "fallback"]
    consensus = examples([await du_trace([[guessed], [guessed], [R]])], "consensus")
    assert consensus == []  # only one labelled answer left: 12 vs nothing


async def test_every_row_says_how_its_answers_were_parsed():
    trace = await du_trace([[R], [W], [U]])
    for row in export([trace], "gold", "dpo"):
        assert row["metadata"]["answers_from"][0] == "explicit"
        assert row["metadata"]["answers_from"][1] in ("explicit", None)


ROWS = [{"question_id": f"q{i}", "prompt": f"p{i}", "completion": f"c{i}",
         "metadata": {"models": ["scripted:m"], "protocol": "du", "strategy": "sft"}}
        for i in range(4)]


def test_without_datasets_the_default_export_is_jsonl_and_parquet(tmp_path, monkeypatch):
    import importlib.util
    import sys

    find_spec = importlib.util.find_spec
    monkeypatch.setitem(sys.modules, "datasets", None)  # `import datasets` fails
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "datasets" else find_spec(name, *a))
    counts = write_export(ROWS, tmp_path / "out", fmt="sft-prompt-completion",
                          strategies=["sft"], fractions=[1.0])
    assert counts == {"train": 4}
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "README.md", "debatelab-export.json", "train.jsonl", "train.parquet"]
    from debate.errors import MissingDependencyError

    with pytest.raises(MissingDependencyError, match=r"debatelab\[export\].*datasets"):
        write_export(ROWS, tmp_path / "hf", fmt="sft-prompt-completion", strategies=["sft"],
                     fractions=[1.0], writers=("jsonl", "hf"))
    assert not (tmp_path / "hf").exists()


def test_a_failing_writer_leaves_no_half_export_and_keeps_the_previous_one(tmp_path,
                                                                           monkeypatch):
    out = tmp_path / "out"
    write_export(ROWS, out, fmt="sft-prompt-completion", strategies=["sft"], fractions=[1.0],
                 writers=("jsonl",))
    before = (out / "train.jsonl").read_text()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("debate.export.writers.dataset_card", broken)
    with pytest.raises(OSError, match="disk full"):
        write_export(ROWS[:2], out, fmt="sft-prompt-completion", strategies=["sft"],
                     fractions=[1.0], writers=("jsonl",), overwrite=True)
    assert (out / "train.jsonl").read_text() == before  # the previous export, untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging folder left


def test_the_export_folder_has_the_usual_permissions(tmp_path):
    import os

    umask = os.umask(0o022)
    os.umask(umask)
    out = tmp_path / "out"
    write_export(ROWS, out, fmt="sft-prompt-completion", strategies=["sft"], fractions=[1.0],
                 writers=("jsonl",))
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask  # not a temporary folder's 0700
