"""The ``judge-preference`` export: self-play preference pairs (Arnesen et al. 2024; issues 14, 28).

Debaters' best-of-N candidates differ by sampler (candidate i > 0 runs as ``...#s{i}``):
candidate 0 is weak, 1 strong, 2 middling. The judge's rating reads the candidate it
is shown (the last speech of its transcript that is not the dummy opponent): strong
-> A 0.8, middling -> A 0.6, weak -> A 0.4. So seat A's rating is 0.8 / 0.6 / 0.4
(strong / middling / weak) and seat B's 0.2 / 0.4 / 0.6: a strong speech wins for A
and loses for B, A keeps its strong candidate and B its weak one, and the expected
pairs follow by hand. In this question the correct answer (Mira) is seat B in order
0, seat A in order 1.

Arnesen et al.'s loader (nyu-debate-modeling ``data/judge_preferences_loader.py``):
per speech, the selected speech against the lowest-rated rejected one, kept when the
preference gap is ``> MIN_GAP`` (0), with a soft label from both preferences. Before
(HEAD 6804bf9) the export paired every two samples of a point (``--pairs all`` now),
kept gaps of at least ``--min-margin``, and carried no soft label.
"""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from debate.cli.main import app
from debate.experiment.runner import run_debate
from debate.export import examples, export
from debate.models.types import Message, SamplingParams
from debate.testing import ScriptedModel
from debate.trace import DebateTrace, Question, TraceWriter

PASSAGE = "Mira baked the bread at dawn. Tomas carried the loaves to the market."
QUESTION = Question(id="q1", text="Who baked the bread?", task="exact", gold="mira",
                    gold_text="Mira", context=PASSAGE, metadata={"distractor": "Tomas"})
WEAK, STRONG, MIDDLING = "A weak speech.", "A strong speech.", "A middling speech."
SPEECHES = {"#s1": STRONG, "#s2": MIDDLING}
JUDGE = {"strong": '{"A": 0.8, "B": 0.2}', "middling": '{"A": 0.6, "B": 0.4}'}
SHOWN = re.compile(r"\(round \d+\):\n(A (?:weak|strong|middling) speech\.)")


def scripted(judge: dict[str, str] = JUDGE) -> ScriptedModel:
    """Speeches by sampler; the judge's reply by the last speech it is shown (the
    candidate: the dummy opponent beside it is no speech of the script)."""

    def reply(messages: list[Message], params: SamplingParams) -> str:
        if messages[0].content.startswith("You are the judge"):
            shown = SHOWN.findall(messages[-1].content)
            last = shown[-1].lower() if shown else ""
            return next((r for word, r in judge.items() if word in last), '{"A": 0.4, "B": 0.6}')
        return next((s for tag, s in SPEECHES.items() if params.sampler.endswith(tag)), WEAK)

    return ScriptedModel(reply)


async def debate(protocol: str = "debate-qa", *, judge: dict[str, str] = JUDGE,
                 **options: object) -> DebateTrace:
    if options.get("best_of"):
        options = {"best_of_judge": "probabilities", **options}
    return await run_debate(QUESTION, protocol=protocol, models=scripted(judge), **options)


def pairs(found: list) -> list[tuple[str, str, str, float, float, str]]:
    """(point, chosen, rejected, p chosen, p rejected, side) of each example, sorted."""
    rows = []
    for e in found:
        extra = json.loads(e.metadata.extra)
        rows.append((extra["point"], e.chosen, e.rejected,
                     *(round(p, 9) for p in extra["judge_p_own"]), extra["side"]))
    return sorted(rows)


async def test_two_samples_give_one_pair_per_point_chosen_by_the_judge():
    trace = await debate(best_of=2, rounds=2)
    found = examples([trace], "judge-preference")
    assert pairs(found) == [
        ("o0/r0/A", STRONG, WEAK, 0.8, 0.4, "incorrect"),
        ("o0/r0/B", WEAK, STRONG, 0.6, 0.2, "correct"),
        ("o0/r1/A", STRONG, WEAK, 0.8, 0.4, "incorrect"),
        ("o0/r1/B", WEAK, STRONG, 0.6, 0.2, "correct"),
        ("o1/r0/A", STRONG, WEAK, 0.8, 0.4, "correct"),
        ("o1/r0/B", WEAK, STRONG, 0.6, 0.2, "incorrect"),
        ("o1/r1/A", STRONG, WEAK, 0.8, 0.4, "correct"),
        ("o1/r1/B", WEAK, STRONG, 0.6, 0.2, "incorrect"),
    ]
    turns = {t.id: t for t in trace.turns}
    for e in found:
        chosen, rejected = (turns[i] for i in e.metadata.turn_ids)
        extra = json.loads(e.metadata.extra)
        assert e.prompt == chosen.messages == rejected.messages  # one prompt, two samples
        assert (chosen.raw, rejected.raw) == (e.chosen, e.rejected)
        assert e.margin == pytest.approx(0.4)
        assert (e.score_chosen, e.score_rejected) == tuple(extra["judge_p_own"])
        assert (e.answer, e.metadata.answer_source) == ("mira", "gold")
        assert e.chosen_correct is (extra["side"] == "correct")
        assert e.metadata.round == chosen.round and extra["order"] == chosen.fields["order"]
        assert extra["seat"] == extra["point"][-1] and e.metadata.strategy == "judge-preference"
        assert extra["defends"] == ("Mira" if extra["side"] == "correct" else "Tomas")
        assert extra["samples"] == [chosen.fields["candidate"], rejected.fields["candidate"]]
        assert "sample" not in chosen.fields  # the chosen speech is the one that continued
        assert rejected.fields["sample"] == rejected.fields["candidate"]
        probes = [turns[p] for p in extra["probes"]]
        assert [p.step for p in probes] == ["probe", "probe"]
        assert [p.fields["probe_of"] for p in probes] == e.metadata.turn_ids
    assert len({e.metadata.round for e in found}) == 2  # later rounds keep their whole chat
    assert all(len(e.prompt) == 4 for e in found if e.metadata.round == 1)
    assert all(e.prompt[-1].role == "user" for e in found)  # TRL adds the generation prompt
    # --correct keeps the speeches that argue for the right answer
    honest = examples([trace], "judge-preference", filters={"correct": True})
    assert {json.loads(e.metadata.extra)["side"] for e in honest} == {"correct"}
    assert len(honest) == 4


async def test_per_speech_the_best_candidate_is_paired_with_the_lowest_rated():
    """Arnesen et al.'s loader: the selected speech vs the lowest-rated rejected one.

    Before: every pair of the point (three rows per point); after: one per speech.
    """
    trace = await debate(best_of=3, rounds=1, both_orders=False)
    found = examples([trace], "judge-preference")
    assert pairs(found) == [("o0/r0/A", STRONG, WEAK, 0.8, 0.4, "incorrect"),
                            ("o0/r0/B", WEAK, STRONG, 0.6, 0.2, "correct")]
    for e in found:  # the judge's ratings and the loader's soft label are in the metadata
        extra = json.loads(e.metadata.extra)
        assert extra["ratings"] == pytest.approx([0.4, 0.8, 0.6] if extra["seat"] == "A"
                                                 else [0.6, 0.2, 0.4])
        p_c, p_r = extra["judge_p_own"]
        assert extra["preference"] == pytest.approx(p_c**2.25 / (p_c**2.25 + p_r**2.25))
    assert json.loads(found[0].metadata.extra)["preference"] == pytest.approx(
        1 / (1 + 0.5**2.25))  # 0.8 vs 0.4


async def test_pairs_all_gives_every_pair_of_a_point_and_a_kept_gap_exceeds_min_margin():
    """``--pairs all``: every pair (the export before best-of). A pair is kept when its gap
    *exceeds* ``min_margin`` (the loader's ``> MIN_GAP``).

    Before: a gap equal to ``min_margin`` was kept (0.2 kept all six pairs below).
    """
    trace = await debate(best_of=3, rounds=1, both_orders=False)
    every = {"pairs": "all"}
    found = examples([trace], "judge-preference", options=every)
    assert pairs(found) == [
        ("o0/r0/A", MIDDLING, WEAK, 0.6, 0.4, "incorrect"),
        ("o0/r0/A", STRONG, MIDDLING, 0.8, 0.6, "incorrect"),
        ("o0/r0/A", STRONG, WEAK, 0.8, 0.4, "incorrect"),
        ("o0/r0/B", MIDDLING, STRONG, 0.4, 0.2, "correct"),
        ("o0/r0/B", WEAK, MIDDLING, 0.6, 0.4, "correct"),
        ("o0/r0/B", WEAK, STRONG, 0.6, 0.2, "correct"),
    ]
    # gaps of 0.2 (0.19999999999999996 and 0.20000000000000007 in floating point) do not
    # exceed 0.2; the 0.4 gaps do
    strong = examples([trace], "judge-preference", options={**every, "min_margin": 0.2})
    assert pairs(strong) == [("o0/r0/A", STRONG, WEAK, 0.8, 0.4, "incorrect"),
                             ("o0/r0/B", WEAK, STRONG, 0.6, 0.2, "correct")]
    assert len(examples([trace], "judge-preference", options={**every, "min_margin": 0.1})) == 6
    assert examples([trace], "judge-preference", options={**every, "min_margin": 0.4}) == []
    assert examples([trace], "judge-preference", options={"min_margin": 0.4}) == []


async def test_a_speech_whose_probe_was_unreadable_is_never_paired():
    """Before and after alike: a candidate without a rating is in no pair."""
    unreadable = {**JUDGE, "middling": "I cannot decide."}
    trace = await debate(judge=unreadable, best_of=3, rounds=1, both_orders=False)
    middling = [t for t in trace.turns if t.raw == MIDDLING]
    assert middling and all(t.fields["judge_p_own"] is None for t in middling)
    found = examples([trace], "judge-preference", options={"pairs": "all"})
    assert pairs(found) == [("o0/r0/A", STRONG, WEAK, 0.8, 0.4, "incorrect"),
                            ("o0/r0/B", WEAK, STRONG, 0.6, 0.2, "correct")]
    two = await debate(judge={"strong": "no idea"}, best_of=2, rounds=1)
    assert examples([two], "judge-preference") == []


async def test_ties_unsampled_debates_and_other_protocols_give_no_pairs():
    tie = await debate(judge={}, best_of=2, rounds=1)  # the judge says 0.4 to everything
    assert examples([tie], "judge-preference") == []
    assert examples([await debate(rounds=1)], "judge-preference") == []  # k = 1
    assert examples([await debate("consultancy", rounds=1)], "judge-preference") == []
    assert examples([await debate("blind-judge")], "judge-preference") == []
    sampled = await debate(best_of=2, rounds=1)
    assert len(examples([sampled], "judge-preference")) == 4
    sampled.protocol = "my-debate"  # another protocol's speeches mean something else
    assert examples([sampled], "judge-preference") == []


async def test_consultancy_samples_are_paired_too():
    trace = await debate("consultancy", best_of=2, rounds=1)
    # the correct answer is B in order 0 and A in order 1; the consultant defends the
    # wrong answer first, so it sits at A both times: wrong, then right
    assert pairs(examples([trace], "judge-preference")) == [
        ("o0/r0/A", STRONG, WEAK, 0.8, 0.4, "incorrect"),
        ("o1/r0/A", STRONG, WEAK, 0.8, 0.4, "correct"),
    ]


async def test_samples_with_another_prompt_or_the_same_text_are_not_paired():
    trace = await debate(best_of=2, rounds=1, both_orders=False)
    strong_a, strong_b = (t for t in trace.turns if t.raw == STRONG)
    strong_a.messages = [*strong_a.messages[:-1], Message(role="user", content="edited")]
    with pytest.warns(UserWarning, match=f"{strong_a.id} at point o0/r0/A has another prompt"):
        found = examples([trace], "judge-preference")
    assert pairs(found) == [("o0/r0/B", WEAK, STRONG, 0.6, 0.2, "correct")]
    strong_b.raw = WEAK  # same text, another judge probability: nothing to prefer
    with pytest.warns(UserWarning):
        assert examples([trace], "judge-preference") == []


async def test_dpo_rows_are_conversational_preference_rows(tmp_path):
    datasets = pytest.importorskip("datasets")
    trace = await debate(best_of=2, rounds=1)
    rows = export([trace], "judge-preference", "dpo")
    assert len(rows) == 4
    assert set(rows[0]) == {"prompt", "chosen", "rejected", "margin", "score_chosen",
                            "score_rejected", "metadata", "question_id"}
    for row in rows:
        assert [m["role"] for m in row["prompt"]] == ["system", "user"]
        assert all(set(m) == {"role", "content"} for m in row["prompt"])
        assert row["chosen"][0]["role"] == row["rejected"][0]["role"] == "assistant"
        assert len(row["chosen"]) == len(row["rejected"]) == 1
        assert row["margin"] == pytest.approx(row["score_chosen"] - row["score_rejected"])
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    loaded = datasets.load_dataset("json", data_files=str(path), split="train")
    assert loaded.num_rows == 4 and loaded[0]["chosen"] == rows[0]["chosen"]


async def test_the_cli_exports_judge_preference_pairs_with_a_min_margin(tmp_path):
    with TraceWriter(tmp_path / "run" / "traces.jsonl") as writer:
        writer.write(await debate(best_of=3, rounds=1))
        writer.write(await debate(rounds=1))  # no samples: no rows
    result = CliRunner().invoke(app, [
        "export", str(tmp_path / "run"), "--out", str(tmp_path / "out"),
        "--strategy", "judge-preference", "--format", "dpo", "--min-margin", "0.3",
        "--writer", "jsonl"])
    assert result.exit_code == 0, result.output
    assert "2 debates -> 4 rows (dpo)" in result.output
    lines = (tmp_path / "out" / "train.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["margin"] for r in rows] == pytest.approx([0.4] * 4)
    assert {r["metadata"]["strategy"] for r in rows} == {"judge-preference"}
    assert {(r["chosen"][0]["content"], r["rejected"][0]["content"]) for r in rows} == {
        (STRONG, WEAK), (WEAK, STRONG)}
    for r in rows:
        extra = json.loads(r["metadata"]["extra"])
        assert extra["judge_p_own"] == pytest.approx([r["score_chosen"], r["score_rejected"]])


async def test_the_cli_exports_every_pair_with_pairs_all(tmp_path):
    """``--pairs all`` (before: the only behaviour; ``--pairs`` did not exist)."""
    with TraceWriter(tmp_path / "run" / "traces.jsonl") as writer:
        writer.write(await debate(best_of=3, rounds=1))
    common = ["export", str(tmp_path / "run"), "--strategy", "judge-preference",
              "--min-margin", "0.1", "--writer", "jsonl"]
    best = CliRunner().invoke(app, [*common, "--out", str(tmp_path / "best")])
    assert best.exit_code == 0, best.output
    assert "1 debates -> 4 rows (dpo)" in best.output  # 2 orders x 2 seats, one pair each
    every = CliRunner().invoke(app, [*common, "--out", str(tmp_path / "all"), "--pairs", "all"])
    assert every.exit_code == 0, every.output
    assert "1 debates -> 12 rows (dpo)" in every.output  # 3 pairs per point
    bad = CliRunner().invoke(app, [*common, "--out", str(tmp_path / "bad"), "--pairs", "most"])
    assert bad.exit_code == 2 and "pairs: Input should be 'best' or 'all'" in bad.output
