"""Multiagent finetuning data (Subramaniam et al., ICLR 2025): per-agent generator and critic sets.

The rules of the reference code (vsubramaniam851/multiagent-ft, ``ft_generator.py`` and
``ft_critic.py``): the consensus is the majority of the agents' last answers, no gold;
a generator example is an agent's round-0 reply that agrees with it; a critic example
is an agent's whole conversation whose last reply agrees with it, ``critic-`` (D^C-)
when its round-0 answer differed, ``critic+`` (D^C+) when it did not; after each of an
agent's ``critic-`` examples, with probability 1/2, the ``critic+`` example of the
same index in the agent's shuffled list follows.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from debate.agents import Debater
from debate.cli.main import app
from debate.errors import ConfigError
from debate.export import examples, export, format_rows
from debate.export.multiagent_ft import CRITIC_PLUS_RATE, MftOptions, rows_by_agent
from debate.protocols import DuProtocol
from debate.testing import ScriptedModel
from debate.trace import DebateTrace, Question, TraceWriter

R, W, U = "right \\boxed{12}", "wrong \\boxed{13}", "no idea"
GUESS = "I get 12"


async def du_trace(replies: list[list[str]], qid: str = "q1", gold: str | None = None,
                   cut: tuple[int, ...] = ()) -> DebateTrace:
    """A du debate whose agent i replies replies[i][r] in round r; turns ``cut`` hit the limit."""
    q = Question(id=qid, text=f"What is 3 * 4? ({qid})", task="numeric", gold=gold)
    agents = [Debater(f"agent-{i}", ScriptedModel(list(r), name=f"m{i}"))
              for i, r in enumerate(replies)]
    trace = await DuProtocol(agents=len(replies), rounds=len(replies[0]) - 1).run(q, agents)
    for index in cut:
        trace.turns[index].finish_reason = "length"
    return trace


def extra(example) -> dict:
    return json.loads(example.metadata.extra)


async def test_generators_learn_their_round_0_replies_that_agree_with_the_consensus():
    """ft_generator.py:110-121: agent i's first reply, kept when it matches the consensus."""
    trace = await du_trace([[R, R], [W, R], [U, R]])
    (found,) = examples([trace], "mft-generator")
    assert found.completion == R and found.label is True
    assert found.prompt == trace.turns[0].messages  # the round-0 prompt alone
    assert [m.role for m in found.prompt] == ["user"]
    assert found.metadata.agents == ["agent-0"] and found.metadata.round == 0
    assert extra(found)["mft"] == "generator" and extra(found)["agent"] == "agent-0"
    assert extra(found)["consensus"] == "12"


async def test_the_consensus_decides_not_the_gold():
    """The reference reads gt_answer and never uses it: a wrong consensus still selects."""
    trace = await du_trace([[W, W], [W, W], [R, W]], gold="12")
    found = examples([trace], "mft-generator", filters={"dedupe": False})
    assert [e.metadata.agents[0] for e in found] == ["agent-0", "agent-1"]
    assert {e.completion for e in found} == {W}
    assert all(e.chosen_correct is False for e in found)
    assert found[0].answer == "12" and found[0].metadata.answer_source == "gold"
    unlabelled = examples([await du_trace([[W, W], [W, W], [R, W]])], "mft-generator")
    assert unlabelled[0].answer == "13" and unlabelled[0].metadata.answer_source == "majority"
    # dedupe (on by default) never merges two agents' examples: each agent has its own data
    assert [e.metadata.agents[0] for e in unlabelled] == ["agent-0", "agent-1"]


async def test_critics_learn_whole_conversations_that_end_at_the_consensus():
    """ft_critic.py:118-141: wrong -> consensus is critic- (D^C-), right -> right critic+."""
    trace = await du_trace([[W, R], [R, R], [W, W]])
    sets = examples([trace], "mft-critic", MftOptions(critic_plus_rate=1.0))
    # agent-0 corrected itself: critic-; agent-1 has a critic+ but no critic- to follow;
    # agent-2 ended away from the consensus: no example
    (minus,) = sets
    assert minus.metadata.agents == ["agent-0", "agent-0"] and minus.metadata.round == 1
    assert extra(minus)["mft"] == "critic-"
    assert (extra(minus)["from_answer"], extra(minus)["to_answer"]) == ("13", "12")
    last = trace.turns[3]
    assert minus.prompt == last.messages and minus.completion == R
    assert [(m.role, m.content) for m in minus.prompt[:2]] == [
        ("user", trace.turns[0].messages[0].content), ("assistant", W)]
    assert "\\boxed{12}" in minus.prompt[2].content  # the other agents' round-0 answers


async def test_a_critic_plus_example_follows_each_critic_minus_one_at_the_mix_rate():
    """ft_critic.py:204-214: after the i-th critic-, the i-th shuffled critic+ with p = 1/2."""
    minus = [await du_trace([[W, R], [R, R], [R, R]], qid=f"m{i}") for i in range(2)]
    plus = [await du_trace([[R, R + " again"], [R, R], [R, R]], qid=f"p{i}") for i in range(3)]
    traces = minus + plus
    always = export(traces, "mft-critic", "sft-prompt-completion",
                    options=MftOptions(critic_plus_rate=1.0))
    agent_0 = rows_by_agent(always)["agent-0"]
    kinds = [json.loads(r["metadata"]["extra"])["mft"] for r in agent_0]
    assert kinds == ["critic-", "critic+", "critic-", "critic+"]
    assert [r["question_id"] for r in agent_0[::2]] == ["m0", "m1"]
    assert set(rows_by_agent(always)) == {"agent-0"}  # agents 1, 2: critic+ only
    # agent-0: 3 critic+, 2 used; agents 1 and 2: 5 critic+ each, no critic- to follow
    assert always.drops == {"not-mixed": 1 + 5 + 5}
    never = export(traces, "mft-critic", "sft", options=MftOptions(critic_plus_rate=0.0))
    assert [r["question_id"] for r in never] == ["m0", "m1"]
    assert never.drops == {"not-mixed": 3 + 5 + 5}


async def test_the_mix_is_seeded_and_never_runs_past_the_critic_plus_examples():
    """More critic- than critic+: the reference would index past its list; here none follows."""
    traces = [await du_trace([[W, R], [R, R], [R, R]], qid=f"m{i}") for i in range(4)]
    traces.append(await du_trace([[R, R], [R, R], [R, R]], qid="p0"))
    rows = export(traces, "mft-critic", "sft", options=MftOptions(critic_plus_rate=1.0))
    agent_0 = [r["question_id"] for r in rows_by_agent(rows)["agent-0"]]
    assert agent_0 == ["m0", "p0", "m1", "m2", "m3"]
    many = [await du_trace([[W, R], [R, R], [R, R]], qid=f"m{i}") for i in range(8)]
    many += [await du_trace([[R, R + f" {i}"], [R, R], [R, R]], qid=f"p{i}") for i in range(8)]
    first = examples(many, "mft-critic", MftOptions(seed=1))
    again = examples(many, "mft-critic", MftOptions(seed=1))
    assert [e.metadata.question_id for e in first] == [e.metadata.question_id for e in again]
    other = examples(many, "mft-critic", MftOptions(seed=2))
    assert ([e.metadata.question_id for e in first]
            != [e.metadata.question_id for e in other])
    assert examples(many, "mft-critic", {}) == examples(many, "mft-critic", MftOptions())
    assert CRITIC_PLUS_RATE == 0.5


async def test_dedupe_keeps_each_agents_examples_in_its_own_data():
    """One finetuned model per agent (answers_dicts[i]): identical replies of two agents are
    two examples, one per agent; an agent's own repeats are still one (dedupe on)."""
    trace = await du_trace([[R, R], [R, R], [W, R]])
    found = examples([trace], "mft-generator")
    assert [(e.metadata.agents[0], e.completion) for e in found] == [("agent-0", R),
                                                                     ("agent-1", R)]
    rows = export([trace], "mft-generator", "sft-standard")
    assert [r["metadata"]["agents"][0] for r in rows] == ["agent-0", "agent-1"]
    assert rows[0]["text"] == rows[1]["text"] and rows.drops == {}
    # the rows' dedupe alone (the examples' dedupe off) keeps both agents' rows too
    undeduped = examples([trace], "mft-generator", filters={"dedupe": False})
    assert len(format_rows(undeduped, "kto")) == 2
    # the same debate twice: each agent's repeat is a duplicate
    twice = export([trace, trace], "mft-generator", "sft")
    assert [r["metadata"]["agents"][0] for r in twice] == ["agent-0", "agent-1"]
    assert twice.drops == {"duplicate": 2}
    assert len(export([trace, trace], "mft-generator", "sft", filters={"dedupe": False})) == 4
    critics = [await du_trace([[W, R], [W, R], [R, R]], qid="a")]
    both = export(critics, "mft-critic", "sft", options=MftOptions(critic_plus_rate=0.0))
    assert [r["metadata"]["agents"][0] for r in both] == ["agent-0", "agent-1"]


async def test_other_strategies_still_dedupe_across_agents():
    """Only per-agent strategies dedupe within an agent: gold pairs and rows are unchanged."""
    trace = await du_trace([[R], [R], [W]], gold="12")
    pairs = examples([trace], "gold")  # agent-0's and agent-1's identical pairs are one
    assert [(e.chosen, e.rejected, e.metadata.agents) for e in pairs] == [
        (R, W, ["agent-0", "agent-2"])]
    assert export([trace], "gold", "dpo").drops == {"duplicate": 1}
    undeduped = examples([trace], "gold", filters={"dedupe": False})
    assert len(undeduped) == 2
    # kto rows: agent-0's and agent-1's chosen R are one row, the rejected W one row
    assert [(r["completion"][0]["content"], r["label"]) for r in format_rows(undeduped, "kto")
            ] == [(R, True), (W, False)]


def test_the_mix_rate_is_a_probability():
    with pytest.raises(ValueError):
        MftOptions(critic_plus_rate=1.5)
    with pytest.raises(ValueError):
        MftOptions(critic_plus_rate=-0.1)
    with pytest.raises(ConfigError):  # plain options know no mix: pass MftOptions
        examples([], "mft-critic", {"critic_plus_rate": 0.2})


async def test_debates_without_a_consensus_or_a_debate_round_give_nothing_and_say_why():
    tie = await du_trace([[R, R], [W, W]])
    assert export([tie], "mft-generator", "sft").drops == {"no-consensus": 1}
    assert export([tie], "mft-critic", "sft").drops == {"no-consensus": 1}
    one_round = await du_trace([[R], [R], [W]])
    assert len(export([one_round], "mft-generator", "sft", filters={"dedupe": False})) == 2
    assert export([one_round], "mft-critic", "sft").drops == {"one-round": 1}
    # a majority carried by a guessed answer labels nothing (as the reference's unparsed replies)
    guessed = await du_trace([[R, R], [W, GUESS], [W, W]])  # 12 by 2 votes, one a guess
    assert guessed.final.answer == "12"
    assert export([guessed], "mft-generator", "sft").drops == {"no-consensus": 1}


async def test_guessed_cut_off_and_empty_replies_decide_no_label():
    guessed = await du_trace([[GUESS, R], [R, R], [R, R]])
    rows = export([guessed], "mft-generator", "sft", filters={"dedupe": False})
    assert [r["metadata"]["agents"][0] for r in rows] == ["agent-1", "agent-2"]
    assert rows.drops == {"fallback-parsed": 1}
    allowed = examples([guessed], "mft-generator", {"allow_fallback": True},
                       filters={"dedupe": False})
    assert len(allowed) == 3
    # a critic whose first answer was guessed: critic- or critic+ is unknown
    critic = export([guessed], "mft-critic", "sft", options=MftOptions(critic_plus_rate=1.0))
    assert critic.drops["fallback-parsed"] == 1
    cut = await du_trace([[W, R], [R, R], [R, R]], cut=(3,))
    # agent-0's corrected reply is cut off: no critic-; agents 1 and 2 have one critic+ each
    assert export([cut], "mft-critic", "sft").drops == {"truncated": 1, "not-mixed": 2}
    empty = await du_trace([["", R], [R, R], [R, R]])
    assert export([empty], "mft-critic", "sft").drops == {"empty": 1, "not-mixed": 2}


async def test_an_unparsed_first_answer_makes_critic_minus_as_in_the_reference():
    """ft_critic.py:119-126: parse_answer gives None, grade_answer(None, last) is false
    (grader.py:241-242), so a first reply without an answer that ends at the consensus
    is critic- (D^C-), not dropped."""
    trace = await du_trace([[U, R], [R, R], [R, R]])
    assert trace.turns[0].answer is None and not trace.turns[0].is_fallback
    rows = export([trace], "mft-critic", "sft", options=MftOptions(critic_plus_rate=1.0))
    (row,) = rows
    assert row["metadata"]["agents"] == ["agent-0", "agent-0"]
    assert json.loads(row["metadata"]["extra"])["mft"] == "critic-"
    assert json.loads(row["metadata"]["extra"])["from_answer"] is None
    assert row["messages"][1]["content"] == U  # the unparsed reply is in the conversation
    assert rows.drops == {"not-mixed": 2}  # agents 1 and 2: critic+, no critic- to follow


async def test_a_guessed_or_cut_off_first_answer_decides_no_critic_label():
    """The project's rule, not the reference's: a fallback guess or a reply cut at the
    token limit decides neither critic- nor critic+; the example is dropped by its reason,
    unless allow_fallback / allow_truncated let it decide."""
    wrong_guess = "I get 13"
    guessed = await du_trace([[wrong_guess, R], [R, R], [R, R]])
    assert guessed.turns[0].is_fallback and guessed.turns[0].answer == "13"
    rows = export([guessed], "mft-critic", "sft", options=MftOptions(critic_plus_rate=1.0))
    assert rows == [] and rows.drops == {"fallback-parsed": 1, "not-mixed": 2}
    allowed = examples([guessed], "mft-critic",
                       MftOptions(critic_plus_rate=0.0, allow_fallback=True))
    assert [(extra(e)["mft"], extra(e)["from_answer"]) for e in allowed] == [("critic-", "13")]
    cut = await du_trace([[W, R], [R, R], [R, R]], cut=(0,))  # agent-0's round-0 reply
    rows = export([cut], "mft-critic", "sft", options=MftOptions(critic_plus_rate=1.0))
    assert rows == [] and rows.drops == {"truncated": 1, "not-mixed": 2}
    allowed = examples([cut], "mft-critic",
                       MftOptions(critic_plus_rate=0.0, allow_truncated=True))
    assert [(extra(e)["mft"], extra(e)["from_answer"]) for e in allowed] == [("critic-", "13")]


async def test_each_agent_gets_its_own_rows_in_the_sft_formats():
    """One dataset per agent (answers_dicts[i]); sft keeps the conversation's replies."""
    traces = [await du_trace([[W, R], [W, R], [R, R]], qid="a"),
              await du_trace([[R, R], [R, R], [R, R]], qid="b")]
    rows = export(traces, "mft-critic", "sft", options=MftOptions(critic_plus_rate=1.0),
                  filters={"dedupe": False})
    split = rows_by_agent(rows)
    assert sorted(split) == ["agent-0", "agent-1"]
    assert [r["question_id"] for r in split["agent-0"]] == ["a", "b"]
    messages = split["agent-0"][0]["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert (messages[1]["content"], messages[-1]["content"]) == (W, R)
    prompt_completion = export(traces, "mft-critic", "sft-prompt-completion",
                               options=MftOptions(critic_plus_rate=1.0))
    assert prompt_completion[0]["completion"] == [{"role": "assistant", "content": R}]
    generators = export(traces, "mft-generator", "sft", filters={"dedupe": False})
    assert {a: len(r) for a, r in rows_by_agent(generators).items()} == {
        "agent-0": 1, "agent-1": 1, "agent-2": 2}


async def two_debate_run(folder: Path) -> Path:
    """A run folder whose debates a (agent-0 corrects itself) and b (agent-1 does)."""
    traces = [await du_trace([[W, R], [R, R], [R, R]], qid="a"),
              await du_trace([[R, R], [W, R], [R, R]], qid="b")]
    with TraceWriter(folder / "traces.jsonl") as writer:
        for trace in traces:
            writer.write(trace)
    (folder / "config.json").write_text(json.dumps({"identity": "0123abcd", "config": {}}))
    (folder / "summary.json").write_text(json.dumps({"failed": {}}))
    return folder


def kinds(out: Path) -> list[tuple[str, str, str]]:
    """(question, agent, mft set) of each row an export wrote to ``out/train.jsonl``."""
    rows = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    return [(r["question_id"], r["metadata"]["agents"][0],
             json.loads(r["metadata"]["extra"])["mft"]) for r in rows]


async def test_debate_export_takes_the_strategies_by_name(tmp_path: Path):
    run = await two_debate_run(tmp_path / "run")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["export", str(run), "--out", str(out), "-s", "mft-generator",
                                      "-s", "mft-critic", "-f", "sft", "--no-dedupe",
                                      "--writer", "jsonl"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    found = [(r["metadata"]["strategy"], r["question_id"], r["metadata"]["agents"][0],
              json.loads(r["metadata"]["extra"])["mft"]) for r in rows]
    # generators: a: agents 1, 2; b: agents 0, 2. critics: a/agent-0 and b/agent-1 went
    # wrong -> right; each may be followed by its agent's critic+ (p = 1/2, seed 0's draws:
    # agent-1's is, agent-0's is not); agent-2 has critic+ only
    assert sorted(found) == sorted([
        ("mft-generator", "a", "agent-1", "generator"),
        ("mft-generator", "a", "agent-2", "generator"),
        ("mft-generator", "b", "agent-0", "generator"),
        ("mft-generator", "b", "agent-2", "generator"),
        ("mft-critic", "a", "agent-0", "critic-"),
        ("mft-critic", "b", "agent-1", "critic-"),
        ("mft-critic", "a", "agent-1", "critic+")])
    assert "dropped: 3 not-mixed examples" in result.output


async def test_debate_export_sets_the_critic_mix_rate_and_seeds_it(tmp_path: Path):
    """--critic-plus-rate 1: each critic- is followed by its agent's critic+; --seed seeds it."""
    run = await two_debate_run(tmp_path / "run")

    def cli(out: str, *args: str):
        return CliRunner().invoke(app, ["export", str(run), "--out", str(tmp_path / out),
                                        "-s", "mft-critic", "-f", "sft", "--writer", "jsonl",
                                        *args])

    always = cli("always", "--critic-plus-rate", "1")
    assert always.exit_code == 0, always.output
    assert sorted(kinds(tmp_path / "always")) == [
        ("a", "agent-0", "critic-"), ("a", "agent-1", "critic+"),
        ("b", "agent-0", "critic+"), ("b", "agent-1", "critic-")]
    assert "dropped: 2 not-mixed examples" in always.output  # agent-2: critic+ only
    card = (tmp_path / "always" / "README.md").read_text()
    assert "| critic_plus_rate | `1.0` |" in card
    never = cli("never", "--critic-plus-rate", "0")
    assert "dropped: 4 not-mixed examples" in never.output
    assert sorted(kinds(tmp_path / "never")) == [("a", "agent-0", "critic-"),
                                                 ("b", "agent-1", "critic-")]
    # --seed seeds the mix: the same seed, the same draws; other seeds, other draws
    seeded = [sorted(kinds(tmp_path / f"seed-{seed}")) for seed in range(8)
              if cli(f"seed-{seed}", "--seed", str(seed)).exit_code == 0]
    assert len(seeded) == 8 and len({tuple(k) for k in seeded}) > 1
    assert cli("seed-0-again", "--seed", "0").exit_code == 0
    assert sorted(kinds(tmp_path / "seed-0-again")) == seeded[0]
    bad = cli("bad", "--critic-plus-rate", "1.5")
    assert bad.exit_code == 2 and "critic_plus_rate" in bad.output
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize("strategies", [[], ["-s", "gold"], ["-s", "mft-generator"]])
async def test_debate_export_refuses_a_critic_mix_rate_without_mft_critic(
        tmp_path: Path, strategies: list[str]):
    """--critic-plus-rate sets only mft-critic's mix: without it, exit 2 saying what to do
    (never silently ignored), before anything is written."""
    run = await two_debate_run(tmp_path / "run")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["export", str(run), "--out", str(out), *strategies,
                                      "-f", "sft", "--writer", "jsonl",
                                      "--critic-plus-rate", "0.25"])
    assert result.exit_code == 2
    assert "--critic-plus-rate" in result.output and "add -s mft-critic" in result.output
    assert not out.exists()
