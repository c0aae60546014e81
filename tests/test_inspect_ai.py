"""debatelab inside inspect_ai: a protocol as a solver on inspect's models, its trace in the log.

Runs offline on inspect's mock provider (``mockllm``), answering as ``scripted:first-number``
does; skipped where inspect_ai is not installed (``pip install 'debatelab[inspect]'``).
"""

import asyncio
import gc
import importlib.util
import re
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from debate import run_debate
from debate.cli import app
from debate.errors import ConfigError, MissingDependencyError
from debate.models.types import SamplingParams
from debate.testing import ScriptedModel
from debate.testing.scripted import first_number_reply
from debate.trace import Question

needs_inspect = pytest.mark.skipif(importlib.util.find_spec("inspect_ai") is None,
                                   reason="inspect_ai is not installed (debatelab[inspect])")
runner = CliRunner()
pytestmark = [  # inspect's eval() itself leaves anyio streams unclosed (so does a plain
    # generate() task), which conftest's ResourceWarning rule would fail; ours are checked
    pytest.mark.filterwarnings("ignore:Unclosed <MemoryObject:ResourceWarning"),
    pytest.mark.filterwarnings("ignore:Exception ignored in.*MemoryObject"
                               ":pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("ignore:The 'initial' parameter is deprecated:DeprecationWarning"),
]


@pytest.fixture(autouse=True)
def _close_inspects_event_loops():
    """inspect's eval() leaves the event loop it ran on open, held until a later test lets
    it go (and the suite's collector then blames that test): close the loops it made."""
    before = {id(loop) for loop in _loops()}
    yield
    for loop in _loops():
        if id(loop) not in before and not loop.is_running():
            loop.close()


def _loops() -> list[asyncio.AbstractEventLoop]:
    return [o for o in gc.get_objects()
            if isinstance(o, asyncio.AbstractEventLoop) and not o.is_closed()]


NUMBERS = [10, 11, 12, 13, 14]
"""Sample i asks for NUMBERS[i]; every other target is off by one, so 3 of 5 are right."""


def targets() -> list[str]:
    return [str(n if i % 2 == 0 else n + 1) for i, n in enumerate(NUMBERS)]


def first_number(messages) -> str:
    """The scripted:first-number reply to a chat (debatelab or inspect messages)."""
    return first_number_reply(next((m.text if hasattr(m, "text") else m.content
                                    for m in messages if m.role == "user"), ""))


def mock(name: str = "model"):
    from inspect_ai.model import ModelOutput, ModelUsage, get_model

    def reply(messages, tools, tool_choice, config):
        output = ModelOutput.from_content(model=f"mockllm/{name}",
                                          content=first_number(messages))
        output.usage = ModelUsage(input_tokens=10, output_tokens=5, total_tokens=15)
        return output  # usage given: mockllm counts none (tiktoken would download)

    return get_model(f"mockllm/{name}", custom_outputs=reply)


def run_task(tmp_path, protocol: str, **eval_args):
    from inspect_ai import Task, eval
    from inspect_ai.dataset import Sample
    from inspect_ai.scorer import match

    from debate.integrations.inspect_ai import debate_solver

    samples = [Sample(id=f"q{i}", input=f"What is {n}?", target=target)
               for i, (n, target) in enumerate(zip(NUMBERS, targets(), strict=True))]
    task = Task(dataset=samples, solver=debate_solver(protocol, task="numeric", rounds=1),
                scorer=match())
    [log] = eval(task, log_dir=str(tmp_path), display="none", **eval_args)
    assert log.status == "success", log.error
    return log


async def own_accuracy(protocol: str) -> float:
    model = ScriptedModel(lambda messages, params: first_number(messages), name="first")
    traces = [await run_debate(Question(id=f"q{i}", text=f"What is {n}?", task="numeric",
                                        gold=target),
                               protocol=protocol, models=model, rounds=1,
                               params=SamplingParams(max_tokens=None))
              for i, (n, target) in enumerate(zip(NUMBERS, targets(), strict=True))]
    return sum(bool(t.correct) for t in traces) / len(traces)


@needs_inspect
@pytest.mark.parametrize("protocol", ["du", "mad"])
def test_an_inspect_eval_of_a_protocol_scores_as_debatelab_does(tmp_path, protocol):
    """Before: no inspect solver. Now: inspect's match() accuracy equals run_debate's."""
    from inspect_ai.log import read_eval_log

    log = run_task(tmp_path, protocol, model=mock())  # on this thread: its loop is closed
    read = read_eval_log(log.location)
    accuracy = read.results.scores[0].metrics["accuracy"].value
    assert accuracy == asyncio.run(own_accuracy(protocol)) == 0.6
    assert len(read.samples) == 5


@needs_inspect
def test_every_call_of_the_debate_is_in_the_sample_transcript(tmp_path):
    """Before: no inspect solver. Now: each debate call is a model event of its sample."""
    import json

    from inspect_ai.log import read_eval_log

    from debate.integrations.inspect_ai import TRACE_KEY
    from debate.trace import parse_trace

    log = read_eval_log(run_task(tmp_path, "du", model=mock()).location)
    for sample in log.samples:
        trace = parse_trace(json.dumps(sample.store[TRACE_KEY]))
        calls = [e for e in sample.events if e.event == "model"]
        assert len(calls) == trace.totals.calls == len(trace.turns) > 0
        assert sample.output.completion == trace.final.answer
        spans = [e.name for e in sample.events if e.event == "span_begin"
                 and e.type == "debate-agent"]
        assert sorted(spans) == sorted(t.agent for t in trace.turns)  # each call in its span


@needs_inspect
def test_model_roles_seat_judges_and_debaters(tmp_path):
    """Before: no inspect solver. Now: judge roles use --model-role judge, debaters the main."""
    from inspect_ai.log import read_eval_log

    from debate.integrations.inspect_ai import TRACE_KEY

    log = read_eval_log(run_task(tmp_path, "mad", model=mock("main"),
                                 model_roles={"judge": mock("judge")}).location)
    agents = log.samples[0].store[TRACE_KEY]["agents"]
    seated = {a["name"]: a["model"] for a in agents}
    assert seated == {"affirmative": "inspect:mockllm/main", "negative": "inspect:mockllm/main",
                      "moderator": "inspect:mockllm/judge", "judge": "inspect:mockllm/judge"}


@needs_inspect
def test_debate_export_turns_an_inspect_log_into_rows(tmp_path):
    """Before: export read traces.jsonl only. Now: it reads the traces of a LOG.eval."""
    log = run_task(tmp_path / "logs", "du", model=mock())
    out = tmp_path / "export"
    result = runner.invoke(app, ["export", log.location, "--out", str(out), "-s", "sft",
                                 "-f", "sft", "--writer", "jsonl"])
    assert result.exit_code == 0, result.output
    assert "5 debates ->" in result.output
    rows = (out / "train.jsonl").read_text().splitlines()
    assert rows


@needs_inspect
def test_a_bad_solver_argument_names_it():
    """Before: no inspect solver. Now: a task or template it cannot use is a ConfigError."""
    from debate.integrations.inspect_ai import debate_solver

    with pytest.raises(ConfigError, match="task 'numbers' is not one of numeric"):
        debate_solver("du", task="numbers")
    with pytest.raises(ConfigError, match="has no {answer}"):
        debate_solver("du", answer_template="ANSWER")
    with pytest.raises(ConfigError, match="'temprature' not allowed; allowed: json_schema"):
        debate_solver("du", params={"temprature": 0})
    with pytest.raises(ConfigError, match="debate_solver params"):
        debate_solver("du", params={"temperature": "hot"})


def test_exporting_an_inspect_log_without_inspect_ai_names_the_extra(tmp_path, monkeypatch):
    """Before: a .eval was read as JSON lines. Now: without inspect_ai, the extra is named."""
    monkeypatch.setitem(sys.modules, "inspect_ai", None)  # find_spec: not installed
    log = tmp_path / "run.eval"
    log.write_bytes(b"PK")
    result = runner.invoke(app, ["export", str(log), "--out", str(tmp_path / "out")])
    assert result.exit_code != 0
    assert "pip install 'debatelab[inspect]'" in result.output
    from debate.export.sources import read_source

    with pytest.raises(MissingDependencyError, match="debatelab\\[inspect\\]"):
        read_source(log)


@needs_inspect
def test_a_samples_token_limit_counts_the_whole_debate(tmp_path):
    """Before: no inspect solver. Now: inspect's token limit stops the debate mid-way."""
    log = run_task(tmp_path, "du", model=mock(), token_limit=40)  # 15 tokens a call
    for sample in log.samples:
        assert sample.limit is not None and sample.limit.type == "token"
        assert len([e for e in sample.events if e.event == "model"]) == 3  # 45 > 40


@needs_inspect
def test_the_inspect_pages_task_runs_as_written(tmp_path, monkeypatch):
    """Before: no page. Now: docs/inspect.md's task file evaluates on a mock model."""
    from inspect_ai import eval

    page = Path(__file__).parent.parent / "docs" / "inspect.md"
    (code,) = re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)
    (tmp_path / "debate_task.py").write_text(code)
    monkeypatch.chdir(tmp_path)  # inspect finds a task file by a relative path
    [log] = eval("debate_task.py", model=mock(), log_dir="logs", display="none")
    assert log.status == "success", log.error
    from debate.integrations.inspect_ai import read_eval_traces

    traces, failed = read_eval_traces(log.location)
    assert [t.question.id for t in traces] == ["q1", "q2"] and failed == 0


def letter_b():
    from inspect_ai.model import ModelOutput, ModelUsage, get_model

    def reply(messages, tools, tool_choice, config):
        output = ModelOutput.from_content(model="mockllm/b", content="Answer: B")
        output.usage = ModelUsage(input_tokens=10, output_tokens=2, total_tokens=12)
        return output

    return get_model("mockllm/b", custom_outputs=reply)


@needs_inspect
def test_a_choice_sample_answers_with_the_letter_and_marks_the_choice(tmp_path):
    """Before: no inspect solver. Now: choices make a choice task; choice() scores it."""
    from inspect_ai import Task, eval
    from inspect_ai.dataset import Sample
    from inspect_ai.scorer import choice

    from debate.integrations.inspect_ai import debate_solver

    samples = [Sample(id=f"c{i}", input="Which?", choices=["red", "blue", "green"], target=t)
               for i, t in enumerate(["B", "A"])]
    task = Task(dataset=samples, solver=debate_solver("du", rounds=1), scorer=choice())
    [log] = eval(task, model=letter_b(), log_dir=str(tmp_path), display="none")
    assert log.status == "success", log.error
    assert [s.output.completion for s in log.samples] == ["B", "B"]
    assert log.results.scores[0].metrics["accuracy"].value == 0.5


@needs_inspect
def test_a_target_that_does_not_fit_the_task_fails_its_sample_naming_it(tmp_path):
    """Before: no inspect solver. Now: the sample's error names its id, target and task."""
    from inspect_ai import Task, eval
    from inspect_ai.dataset import Sample
    from inspect_ai.scorer import match

    from debate.integrations.inspect_ai import debate_solver

    samples = [Sample(id="odd", input="Which?", choices=["red", "blue"], target="Z",
                      metadata={"task": "choice"})]
    task = Task(dataset=samples, solver=debate_solver("du", rounds=1), scorer=match())
    [log] = eval(task, model=letter_b(), log_dir=str(tmp_path), display="none")
    assert "sample 'odd': target 'Z' does not fit task choice" in log.error.message


@needs_inspect
def test_parameters_debatelab_leaves_unset_take_the_evals_own(tmp_path):
    """Before: no inspect solver. Now: params set max_tokens; the eval's temperature stays."""
    from inspect_ai import Task, eval
    from inspect_ai.dataset import Sample
    from inspect_ai.model import ModelOutput, ModelUsage, get_model
    from inspect_ai.scorer import match

    from debate.integrations.inspect_ai import debate_solver

    seen = []

    def reply(messages, tools, tool_choice, config):
        seen.append((config.temperature, config.max_tokens, config.seed))
        output = ModelOutput.from_content(model="mockllm/model", content="\\boxed{3}")
        output.usage = ModelUsage(input_tokens=1, output_tokens=1, total_tokens=2)
        return output

    task = Task(dataset=[Sample(id="q", input="What is 3?", target="3")],
                solver=debate_solver("du", task="numeric", rounds=0, params={"max_tokens": 77}),
                scorer=match())
    eval(task, model=get_model("mockllm/model", custom_outputs=reply), temperature=0.3,
         log_dir=str(tmp_path), display="none")
    assert sorted(seen) == [(0.3, 77, 0), (0.3, 77, 1), (0.3, 77, 2)]


@needs_inspect
def test_a_reply_cut_at_the_token_limit_finishes_with_length():
    """Before: no adapter. Now: inspect's max_tokens stop reads as debatelab's length."""
    from inspect_ai.model import ModelOutput, ModelUsage

    from debate.integrations.inspect_ai.model import to_completion

    output = ModelOutput.from_content(model="m", content="cut", stop_reason="max_tokens")
    output.usage = ModelUsage(input_tokens=7, output_tokens=3, total_tokens=10,
                              input_tokens_cache_read=5)
    completion = to_completion(output, "inspect:m")
    assert completion.finish_reason == "length" and completion.text == "cut"
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens,
            completion.usage.cached_tokens) == (7, 3, 5)


@needs_inspect
def test_each_epoch_is_a_debate_of_its_own(tmp_path):
    """Found in review: with --epochs 2 both epochs of a sample shared one trace id and one
    set of seeds; now epoch e's debate is SAMPLE@e, sampled with seeds 1000 (e - 1) on."""
    from debate.integrations.inspect_ai.log import read_eval_traces

    log = run_task(tmp_path / "logs", "du", model=mock(), epochs=2)
    traces, _ = read_eval_traces(log.location)
    ids = sorted(t.question.id for t in traces)
    assert ids == sorted([f"q{i}" for i in range(5)] + [f"q{i}@2" for i in range(5)])
    seeds = {t.question.id: {turn.sampling.seed for turn in t.turns if turn.sampling}
             for t in traces}
    assert seeds["q0"] and seeds["q0@2"] and seeds["q0"].isdisjoint(seeds["q0@2"])
