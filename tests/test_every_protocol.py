"""Every protocol runs end to end from the CLI and from Python, and stays within its call count."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from debate import PROTOCOLS, run_debate
from debate.cli import app
from debate.experiment.config import load_experiment
from debate.experiment.identity import fingerprint
from debate.trace import SCHEMA_VERSION, Question, parse_trace, read_traces, trace_json

SPECS = sorted(Path("experiments").glob("*.yaml"))
runner = CliRunner()
BUILTIN = {name for name, cls in PROTOCOLS.items() if cls.__module__.startswith("debate.")}


def test_there_is_a_spec_per_protocol():
    protocols = {load_experiment(s).resolve_protocol()[0].name for s in SPECS}
    assert protocols == BUILTIN


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_every_spec_runs_from_the_cli_on_the_scripted_model(spec, tmp_path):
    result = runner.invoke(app, ["run", str(spec), "--model", "scripted:first-number",
                                 "--limit", "2", "--out", str(tmp_path), "--no-progress"])
    assert result.exit_code == 0, result.output
    config = load_experiment(spec)
    cls, options = config.resolve_protocol()
    most = cls(**options).max_calls()
    run_dir = tmp_path / config.run_name(fingerprint(config).identity)
    traces = list(read_traces(run_dir / "traces.jsonl"))
    assert len(traces) == 2
    for trace in traces:
        assert 1 <= trace.totals.calls <= most
        assert trace.protocol == cls.name
        assert len({t.id for t in trace.turns}) == len(trace.turns)  # turn ids are unique
    strategies = [a for s in ("gold", "consensus", "revision", "judge", "judge-preference",
                              "sft", "sft-critique")
                  for a in ("-s", s)]
    run_dir = tmp_path / config.run_name(fingerprint(config).identity)
    exported = runner.invoke(app, ["export", str(run_dir), "--out",
                                   str(tmp_path / "export"), *strategies, "-f", "kto",
                                   "--writer", "jsonl"])
    # a scripted run where every agent agrees may give no row: then nothing is written,
    # exit 2, and every debate's drop reason is named
    assert exported.exit_code == 0 or (
        exported.exit_code == 2 and "0 rows" in exported.output
        and "nothing written: dropped" in exported.output), exported.output


CASES = {
    "du": {}, "mad": {"rounds": 1}, "reconcile": {"rounds": 1}, "peer-review": {},
    "sr-dcr": {"rounds": 1, "always_debate": True}, "critique-refine": {"rounds": 1},
    "self-refine": {"rounds": 1}, "single": {}, "self-consistency": {"samples": 3},
    "debate-qa": {"rounds": 1}, "consultancy": {"rounds": 1}, "blind-judge": {},
    "du-sparse": {"agents": 3, "topology": "chain"},
    "collective-improvement": {"turns": 3, "judge_options": {"attempts": 1}},
    "all-agents-drafting": {"decision": "simple-voting", "turns": 3,
                            "judge_options": {"attempts": 1}},
}
QUESTION = Question(id="q", text="Tom has 3 apples and buys 4 more. How many apples now?",
                    task="numeric", gold="7", context="Tom ends up with 7 apples.",
                    metadata={"distractor": "5"})


def test_cases_cover_every_protocol():
    assert set(CASES) == BUILTIN


# scripted:first-number answers "The answer is \\boxed{N}." with the first number of the
# first user message: 7 from the context, 3 where a closed-book prompt has no context.
# Per protocol: final answer, how it was reached, why it stopped, and each turn's parsed
# answer in turn order ("-": a critique, review or verdict turn, which carries none).
OUTCOMES = {
    "critique-refine": ("7", "last", "max_rounds", "7-7"),
    "du": ("7", "majority", "max_rounds", "777777777"),
    "du-sparse": ("7", "majority", "max_rounds", "777777777"),
    "mad": ("7", "judge", "max_rounds", "77--7"),
    "peer-review": ("7", "majority", "done", "777------777"),
    "reconcile": ("7", "confidence-weighted", "consensus", "777"),
    "self-consistency": ("7", "majority", "done", "777"),
    "self-refine": ("7", "last", "max_rounds", "7-7"),
    "single": ("7", "single", "done", "7"),
    "sr-dcr": ("7", "sr-dcr", "debated", "3773-"),
    # the oversight judge is asked for probabilities; "\\boxed{3}" states none: no decision
    "debate-qa": (None, "judge", "max_rounds", "------"),  # 2 orders x (2 speeches + verdict)
    "consultancy": (None, "judge", "max_rounds", "----"),
    "blind-judge": (None, "judge", "done", "--"),
    # a ballot of "\\boxed{7}" names no solution of 3 (0-2): each vote is spoiled, no answer
    "collective-improvement": (None, "simple-voting", "max_rounds", "777777777---"),
    # MALLM's task is in the system message: a draft's first user message holds no number
    "all-agents-drafting": (None, "simple-voting", "max_rounds", "000211211---"),
}


def parsed_answers(trace) -> str:
    return "".join(turn.answer or "-" for turn in trace.turns)


@pytest.mark.parametrize("name", sorted(CASES))
async def test_every_protocol_runs_from_python_on_the_scripted_model(name):
    trace = await run_debate(QUESTION, protocol=name, models="scripted:first-number",
                             **CASES[name])
    final, method, stop, answers = OUTCOMES[name]
    assert trace.protocol == name and trace.correct is (final is not None)
    assert (trace.final.answer, trace.final.method, trace.stop_reason) == (final, method, stop)
    assert parsed_answers(trace) == answers
    for turn in trace.turns:  # each answer is the number the reply boxed, read as explicit
        if turn.answer is not None:
            assert turn.raw == f"The answer is \\boxed{{{turn.answer}}}."
            assert turn.answer_from == "explicit"
    assert trace.totals.calls == len(trace.turns)
    assert trace.totals.completion_tokens == 4 * len(trace.turns)  # 4 words a reply
    if method in ("majority", "single"):  # the final round's answers, counted
        assert trace.final.votes == {"7": 1.0 if name == "single" else 3.0}
    line = json.loads(trace_json(trace))  # on disk: each distinct message once
    assert line["schema_version"] == SCHEMA_VERSION == 3
    assert parse_trace(trace_json(trace)) == trace


@pytest.mark.parametrize(("name", "votes", "answers"), [
    ("du", {"7": 2.0, "5": 1.0}, "775775775"),
    ("self-consistency", {"7": 2.0, "5": 1.0}, "775"),
    ("peer-review", {"7": 2.0, "5": 1.0}, "775------775"),
    ("reconcile", {"7": 0.20001, "5": 0.1}, "775775"),
])
async def test_a_dissenting_agent_is_outvoted(name, votes, answers):
    from debate.testing import ScriptedModel

    models = ["scripted:first-number", "scripted:first-number",
              ScriptedModel("I say \\boxed{5}.")]
    trace = await run_debate(QUESTION, protocol=name, models=models, **CASES[name])
    assert parsed_answers(trace) == answers
    assert trace.final.answer == "7" and trace.final.votes == pytest.approx(votes)


@pytest.mark.parametrize("name", sorted(CASES))
def test_cli_shows_each_protocol_with_paper_and_graph(name):
    result = runner.invoke(app, ["protocols", name, "--graph"])
    assert result.exit_code == 0, result.output
    assert "paper:" in result.output and "graph TD" in result.output
    assert "__start__" in result.output and "__end__" in result.output


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
async def test_fresh_runs_replay_nothing_and_reruns_replay_everything(spec, tmp_path):
    # scripted:first-number gives every call of a question the same reply, so peers'
    # solutions, reviews and critiques repeat word for word: each is still its own sample
    from debate import arun_experiment

    config = load_experiment(spec, models=["scripted:first-number"], limit=2,
                             output_dir=str(tmp_path))
    fresh = await arun_experiment(config, progress=False)
    assert fresh.calls > 0 and fresh.cached_calls == 0 and fresh.requests == fresh.calls
    run_dir = tmp_path / config.run_name(fingerprint(config).identity)
    (run_dir / "traces.jsonl").unlink()  # redo every debate
    again = await arun_experiment(config, progress=False)
    assert again.calls == fresh.calls and again.cached_calls == again.calls
    assert again.requests == 0
