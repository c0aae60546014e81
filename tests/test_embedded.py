"""Real inference with the embedded SmolLM2-135M-Instruct model (needs debatelab[local])."""

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from debate.agents import Debater, View
from debate.errors import ConfigError, RetryableError
from debate.models import Message, SamplingParams
from debate.trace import Question

pytest.importorskip("xllamacpp")
pytestmark = pytest.mark.slow

COUNT = [Message(role="user", content="Count from 1 to 300, separated by commas.")]
LONG = SamplingParams(max_tokens=900, temperature=0.0)  # greedy: counts on, far past 1 s


@pytest.fixture(scope="module")
def smollm2():
    from debate.models.llamacpp import LlamaCppModel

    return LlamaCppModel("smollm2", n_ctx=2048, n_parallel=3)


async def test_concurrent_calls_run_at_once_on_separate_slots(smollm2):
    params = SamplingParams(max_tokens=48, temperature=0.0, seed=1)
    await smollm2.generate(COUNT, SamplingParams(max_tokens=1))  # loaded, warm
    start = time.perf_counter()
    alone = await smollm2.generate(COUNT, params)
    one = time.perf_counter() - start
    finished: list[float] = []

    async def call():
        completion = await smollm2.generate(COUNT, params)
        finished.append(time.perf_counter() - start)
        return completion

    start = time.perf_counter()
    results = await asyncio.gather(call(), call(), call())
    assert {r.text for r in results} == {alone.text}  # greedy: the same text each time
    assert all(r.usage.completion_tokens == 48 for r in results)
    # one after another, the first would end at a third of the wall time; batched, together
    assert min(finished) > 0.6 * max(finished), (finished, one)


async def test_an_agents_next_call_goes_to_the_slot_holding_its_chat(smollm2):
    params = SamplingParams(max_tokens=24, temperature=0.0)
    chats = [[Message(role="user", content=f"Name a fruit that is {colour}.")]
             for colour in ("red", "yellow", "green")]
    firsts = await asyncio.gather(*(smollm2.generate(chat, params) for chat in chats))
    follow = Message(role="user", content="Why that one?")
    nexts = await asyncio.gather(*(
        smollm2.generate([*chat, Message(role="assistant", content=first.text), follow], params)
        for chat, first in zip(reversed(chats), reversed(firsts), strict=True)))
    for first, second in zip(reversed(firsts), nexts, strict=True):
        # the whole first prompt (at least) was read from that slot's cache
        assert second.usage.cached_tokens >= first.usage.prompt_tokens, (first.usage,
                                                                          second.usage)


async def test_logprobs_and_top_logprobs_come_from_the_same_engine(smollm2):
    from debate.models.llamacpp import _ENGINES

    messages = [Message(role="user", content="Say hello.")]
    plain = await smollm2.generate(messages, SamplingParams(max_tokens=4, temperature=0.0))
    engine, engines = smollm2._engine, dict(_ENGINES)
    completion = await smollm2.generate(messages, SamplingParams(
        max_tokens=4, logprobs=True, top_logprobs=3, temperature=0.0))
    assert plain.logprobs is None and completion.text == plain.text
    assert completion.logprobs and len(completion.logprobs) == completion.usage.completion_tokens
    assert "".join(lp.token for lp in completion.logprobs) == completion.text
    first = completion.logprobs[0]
    assert first.top is not None and len(first.top) == 3 and first.logprob <= 0
    assert max(first.top.values()) == pytest.approx(first.logprob)  # greedy: the top token
    assert smollm2._engine is engine and _ENGINES == engines  # no second model instance


async def test_backends_for_one_model_share_it_and_unload_frees_it(smollm2):
    from debate.models.llamacpp import LlamaCppModel, unload_models

    hi = [Message(role="user", content="Hi")]
    other = LlamaCppModel("smollm2", n_ctx=2048)  # slots unset: shares the loaded engine
    await other.generate(hi, SamplingParams(max_tokens=2))
    await smollm2.generate(hi, SamplingParams(max_tokens=2))
    assert other._engine is smollm2._engine
    engine = smollm2._engine
    unload_models()
    assert engine.server is None
    assert (await smollm2.generate(hi, SamplingParams(max_tokens=2))).usage.completion_tokens > 0
    assert smollm2._engine is not engine  # loaded again on the next call
    await other.generate(hi, SamplingParams(max_tokens=2))
    assert other._engine is smollm2._engine


async def test_a_cancelled_call_stops_generating():
    from debate.models.llamacpp import LlamaCppModel

    one_slot = LlamaCppModel("smollm2", n_ctx=1024, n_parallel=1)
    await one_slot.load()
    long = asyncio.create_task(one_slot.generate(COUNT, LONG))
    while one_slot._engine.slots._free:  # until the call has the only slot
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.5)  # and is generating (900 tokens take far longer)
    long.cancel()
    start = time.perf_counter()
    short = await one_slot.generate([Message(role="user", content="Hi")],
                                    SamplingParams(max_tokens=2))
    # the only slot was free again at once: the long generation did not run on
    assert short.text and time.perf_counter() - start < 3
    assert long.cancelled()


async def test_the_timeout_counts_generation_not_the_wait_for_a_slot():
    from debate.models import CallStats, RetryPolicy, wrap
    from debate.models.llamacpp import LlamaCppModel

    one_slot = LlamaCppModel("smollm2", n_ctx=1024, n_parallel=1)
    params = SamplingParams(max_tokens=64, temperature=0.0)
    await one_slot.generate(COUNT, SamplingParams(max_tokens=1))
    start = time.perf_counter()
    await one_slot.generate(COUNT, params)
    took = time.perf_counter() - start
    policy = RetryPolicy(timeout=2.5 * took, max_attempts=1)  # room for a busy machine
    model = wrap(one_slot, stats=CallStats(), retry=policy)
    start = time.perf_counter()
    ends = []

    async def call(p):
        completion = await model.generate(COUNT, p)
        ends.append(time.perf_counter() - start)
        return completion

    # the later calls wait for the one slot: the fourth ~3x `took` before it starts
    results = await asyncio.gather(*(call(params.model_copy(update={"seed": seed}))
                                     for seed in (1, 2, 3, 4)),
                                   call(SamplingParams(max_tokens=2, seed=5)))
    assert all(r.text for r in results)
    assert max(ends) > policy.timeout  # a call took longer than the timeout, waiting included

    with pytest.raises(RetryableError, match="no reply within"):  # generation itself is timed
        await wrap(one_slot, stats=CallStats(), retry=RetryPolicy(
            timeout=0.5, max_attempts=1)).generate(COUNT, LONG)
    start = time.perf_counter()
    await one_slot.generate(COUNT, SamplingParams(max_tokens=2))  # and was stopped
    assert time.perf_counter() - start < 3


def test_missing_and_corrupt_gguf_files_are_named(tmp_path):
    from debate.models.llamacpp import LlamaCppModel, default_gguf_path

    with pytest.raises(ConfigError, match="GGUF file not found: .*nowhere.gguf"):
        LlamaCppModel(str(tmp_path / "nowhere.gguf"))
    text = tmp_path / "notes.gguf"
    text.write_text("not a model")
    with pytest.raises(ConfigError, match="notes.gguf is not a GGUF model file"):
        asyncio.run(LlamaCppModel(str(text)).load())
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(default_gguf_path().read_bytes()[:200_000])
    with pytest.raises(ConfigError, match="cannot load GGUF model .*cut.gguf"):
        asyncio.run(LlamaCppModel(str(cut)).load())


QUIET = """
import asyncio
from debate.models import Message, SamplingParams
from debate.models.llamacpp import LlamaCppModel
m = LlamaCppModel("smollm2", n_ctx=512, n_parallel=1)
print(asyncio.run(m.generate([Message(role="user", content="Hi")],
                             SamplingParams(max_tokens=3))).usage.completion_tokens)
"""


@pytest.mark.parametrize("level", ["", "debug"])
def test_llama_cpp_is_silent_unless_asked(level):
    env = {**os.environ, "DEBATE_LOG_LEVEL": level}
    result = subprocess.run([sys.executable, "-c", QUIET], capture_output=True, text=True,
                            timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "3"
    if level:
        assert "llama" in result.stderr  # the engine's own log, when asked for
    else:
        assert result.stderr == ""  # not a line from llama.cpp


async def test_too_long_prompt_is_recorded_not_fatal():
    from debate.models.llamacpp import LlamaCppModel

    tiny = LlamaCppModel("smollm2", n_ctx=64, n_parallel=1)
    agent = Debater("a", tiny, params=SamplingParams(max_tokens=8))
    turn = await agent.act(View(Question(id="q", text="word " * 200, task="numeric"), 0))
    assert turn.answer is None and "context window" in turn.error


def test_debate_run_end_to_end_with_embedded_model(tmp_path):
    debate_cmd = shutil.which("debate", path=str(Path(sys.executable).parent))
    assert debate_cmd, "the console command `debate` is installed"
    result = subprocess.run(
        [debate_cmd, "run", "experiments/du-arithmetic-smollm2.yaml", "--limit", "2",
         "--rounds", "1", "--max-tokens", "96", "--out", str(tmp_path), "--no-progress"],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "final accuracy" in result.stdout
    run = tmp_path / "du-arithmetic-smollm2"
    lines = (run / "traces.jsonl").read_text().splitlines()
    assert len(lines) == 2
    trace = json.loads(lines[0])
    assert len(trace["turns"]) == 6 and all(t["raw"] for t in trace["turns"])
    assert all(t["model"] == "llamacpp:smollm2" for t in trace["turns"])
    summary = json.loads((run / "summary.json").read_text())
    assert summary["calls"] == 12 and summary["completion_tokens"] > 0


SPECS = sorted(Path("experiments").glob("*.yaml"))


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_every_spec_runs_from_the_cli_on_the_embedded_model(spec, tmp_path):
    from typer.testing import CliRunner

    from debate.cli import app
    from debate.experiment.config import load_experiment
    from debate.trace import read_traces

    cls, _ = load_experiment(spec).resolve_protocol()
    short = []  # MALLM's discussions: 3 turns; CI's voters 2 ballots (a weak model spoils many)
    if "turns" in cls.config_class.model_fields:
        short = ["--option", "turns=3"]
    if cls.name == "collective-improvement":
        short += ["--option", "judge_options.attempts=2"]
    result = CliRunner().invoke(app, ["run", str(spec), "--limit", "1", "--max-tokens", "32",
                                      *short, "--out", str(tmp_path), "--no-progress"])
    assert result.exit_code == 0, result.output
    (run_dir,) = {path.parent for path in tmp_path.glob("*/traces.jsonl")}
    (trace,) = read_traces(run_dir / "traces.jsonl")
    assert trace.turns and all(t.model == "llamacpp:smollm2" for t in trace.turns)
    assert any(t.raw.strip() for t in trace.turns)


PYTHON_CASES = {
    "du": {"rounds": 1}, "mad": {"rounds": 1}, "reconcile": {"rounds": 1}, "peer-review": {},
    "sr-dcr": {"rounds": 1, "always_debate": True}, "critique-refine": {"rounds": 1},
    "self-refine": {"rounds": 1}, "single": {}, "self-consistency": {"samples": 3},
    "du-sparse": {"agents": 4, "rounds": 1},
    "collective-improvement": {"turns": 3, "judge_options": {"attempts": 2}},
    "all-agents-drafting": {"turns": 2},
}


@pytest.mark.parametrize("name", sorted(PYTHON_CASES))
async def test_every_protocol_runs_from_python_on_the_embedded_model(name, smollm2):
    from debate import run_debate
    from debate.models import CallStats, wrap

    question = Question(id="q", text="Tom has 3 apples and buys 4 more. How many apples now?",
                        task="numeric", gold="7", context="Tom ends up with 7 apples.")
    stats = CallStats()
    model = wrap(smollm2, stats=stats)
    trace = await run_debate(question, protocol=name, models=model,
                             params=SamplingParams(max_tokens=32, temperature=0.0),
                             **PYTHON_CASES[name])
    assert trace.protocol == name and trace.turns
    for turn in trace.turns:
        assert turn.model == "llamacpp:smollm2" and turn.usage.prompt_tokens > 0
        assert turn.usage.completion_tokens <= 32 and (turn.raw or turn.error)
        assert_answer_read_from_text(turn)
    assert trace.totals.calls == len(trace.turns) == stats.calls
    assert trace.totals.completion_tokens == stats.completion_tokens
    answers = {turn.answer for turn in trace.turns}
    assert trace.final.answer is None or trace.final.answer in answers  # no made-up answer
    if name == "sr-dcr":
        assert trace.final.details["confidence_source"] == "logprobs"


@pytest.mark.parametrize("decision", ["ranked-voting", "supermajority-consensus", "judge"])
async def test_decision_rules_run_on_the_embedded_model(decision, smollm2):
    """A weak model's ballots may be spoiled: each is recorded with why, never a crash, and
    the final answer is one an agent gave (or none)."""
    from debate import run_debate

    question = Question(id="q", text="Tom has 3 apples and buys 4 more. How many apples now?",
                        task="numeric", gold="7")
    trace = await run_debate(question, protocol="du", models=smollm2, rounds=0,
                             decision=decision, judge_options={"attempts": 2}
                             if decision.endswith("voting") else {},
                             params=SamplingParams(max_tokens=32, temperature=0.0))
    answers = {t.answer for t in trace.turns if t.kind == "answer"}
    assert trace.final.answer is None or trace.final.answer in answers
    for turn in trace.turns:
        assert turn.model == "llamacpp:smollm2" and (turn.raw or turn.error)
        if turn.kind == "vote":
            assert (turn.answer is None) == ("ballot_error" in turn.fields)
    if decision == "judge":
        assert trace.turns[-1].kind == "verdict" and trace.turns[-1].agent == "agent-0"


def assert_answer_read_from_text(turn) -> None:
    """The turn's answer is what its reply says, by the rule the turn records."""
    from debate.scoring import Extraction, extract, extract_field
    from debate.scoring.fields import parse_fields, parse_json_object

    if turn.answer is None or turn.kind == "vote":  # a ballot's answer is solution numbers
        return
    if turn.answer_rule != "field":  # read from the text: reading it again gives the same
        assert extract(turn.raw, "numeric") == Extraction(turn.answer, turn.answer_rule), turn
        return
    # a field: of a JSON object, an "Answer:" line, or the whole reply (a short answer span)
    fields = parse_json_object(turn.raw) or parse_fields(turn.raw, ("answer", "debate_answer"))
    values = [turn.raw, *(fields or {}).values()]
    assert turn.answer.lower() in turn.raw.lower() or any(
        extract_field(value, "numeric").answer == turn.answer for value in values), turn


async def test_greedy_decoding_gives_the_same_text_and_counts_twice(smollm2):
    prompt = [Message(role="user", content="Name three colours of the rainbow.")]
    params = SamplingParams(max_tokens=24, temperature=0.0, logprobs=True)
    first = await smollm2.generate(prompt, params)
    second = await smollm2.generate(prompt, params)
    assert first.text and second.text == first.text
    assert second.usage.prompt_tokens == first.usage.prompt_tokens > 0
    assert second.usage.completion_tokens == first.usage.completion_tokens
    assert len(first.logprobs) == first.usage.completion_tokens  # one logprob per token
    assert [t.token for t in second.logprobs] == [t.token for t in first.logprobs]
    assert second.finish_reason == first.finish_reason
    assert (first.finish_reason == "length") == (first.usage.completion_tokens == 24)


async def test_json_schema_is_enforced_by_a_grammar(smollm2):
    from debate.agents.mad import VERDICT_SCHEMA
    from debate.scoring.fields import parse_json_object

    completion = await smollm2.generate(
        [Message(role="user", content="Is 2 + 2 = 4? Reply as JSON.")],
        SamplingParams(max_tokens=120, temperature=0.0, json_schema=VERDICT_SCHEMA))
    assert completion.finish_reason == "stop"  # the grammar closed the object in time
    parsed = parse_json_object(completion.text)
    assert isinstance(parsed, dict) and set(parsed) == set(VERDICT_SCHEMA["required"])
    assert parsed["preference"] in ("yes", "no")  # the schema's enum
    assert all(isinstance(value, str) for value in parsed.values())


def test_debate_on_the_embedded_model_exports_and_loads_back(tmp_path):
    """Unlabeled questions, greedy decoding: the agents agree, so SFT rows always exist."""
    datasets = pytest.importorskip("datasets")
    from typer.testing import CliRunner

    from debate.cli import app

    data = tmp_path / "unlabeled.jsonl"
    data.write_text("".join(json.dumps({"id": f"u{i}", "question": q}) + "\n" for i, q in
                            enumerate(["What is 2 + 3?", "What is 10 minus 4?"])))
    runner = CliRunner()
    result = runner.invoke(app, ["run", "--dataset", str(data), "--task", "numeric",
                                 "--model", "llamacpp:smollm2", "--rounds", "1",
                                 "--temperature", "0", "--max-tokens", "48", "--out",
                                 str(tmp_path), "--name", "run", "--no-progress"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "export"
    # SmolLM2 seldom puts its answer in the asked form: answers a fallback rule guessed
    # label nothing unless allowed
    from debate.export import examples
    from debate.trace import read_traces

    traces = list(read_traces(tmp_path / "run" / "traces.jsonl"))
    # 48 tokens keep the test quick, and cut most replies: allowed here, never by default
    allowed = examples(traces, "sft", options={"allow_fallback": True, "allow_truncated": True})
    strict = examples(traces, "sft")
    assert all(not t.is_fallback for e in strict for tr in traces for t in tr.turns
               if t.id in e.metadata.turn_ids and tr.id == e.metadata.trace_id)
    assert len(strict) <= len(allowed)
    result = runner.invoke(app, ["export", str(tmp_path / "run"), "--out", str(out), "-s", "sft",
                                 "-f", "sft", "--allow-fallback", "--allow-truncated"])
    assert result.exit_code == 0, result.output
    loaded = datasets.load_dataset("json", data_files=str(out / "train.jsonl"), split="train")
    assert loaded.num_rows >= 1 and {"messages", "metadata"} <= set(loaded.column_names)
    assert loaded[0]["messages"][-1]["role"] == "assistant"
    assert set(loaded[0]["metadata"]["models"]) == {"llamacpp:smollm2"}
    assert datasets.Dataset.from_parquet(str(out / "train.parquet")).num_rows == loaded.num_rows
    for strategy, fmt in (("consensus", "dpo-conversational"), ("revision", "kto")):
        result = runner.invoke(app, ["export", str(tmp_path / "run"), "--out",
                                     str(tmp_path / strategy), "-s", strategy, "-f", fmt,
                                     "--allow-truncated"])
        # two debates may hold no disagreement to pair: then no row, exit 2, and why
        assert result.exit_code == 0 or (result.exit_code == 2 and "0 rows" in result.output
                                         and "dropped" in result.output), result.output
