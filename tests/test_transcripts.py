"""Every protocol's full transcript on scripted agents, pinned by a committed golden file.

Each golden file in ``tests/transcripts/`` holds every message of every call, in
order, with the reply and what was parsed from it, so any change to what an
agent sees shows up in review as a diff of that file. After an intended change,
regenerate them with ``DEBATELAB_UPDATE_TRANSCRIPTS=1 python -m pytest
tests/test_transcripts.py`` and read the diff.
"""

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from debate import run_debate
from debate.testing import ScriptedModel
from debate.trace import DebateTrace, Question

GOLDEN = Path(__file__).parent / "transcripts"
UPDATE = os.environ.get("DEBATELAB_UPDATE_TRANSCRIPTS") == "1"
Q = Question(id="q1", text="A box holds 3 rows of 4 eggs. How many eggs are in the box?",
             task="numeric", gold="12", context="The box is a standard dozen carton.",
             metadata={"distractor": "7"})


def render(trace: DebateTrace) -> str:
    """The transcript as text: every call's messages, reply and parse, in order."""
    final = trace.final
    lines = [f"# {trace.protocol}: {trace.totals.calls} calls, stop: {trace.stop_reason}, "
             f"final: {final.answer!r} by {final.method}",
             f"options: {json.dumps(trace.protocol_config, sort_keys=True)}"]
    for turn in trace.turns:
        lines += ["", f"## {turn.id} ({turn.role}, {turn.kind}) saw: {', '.join(turn.saw) or '-'}"]
        for message in turn.messages:
            lines += [f"--- {message.role}", message.content]
        lines += ["--> reply", turn.raw,
                  f"--> answer {turn.answer!r} ({turn.answer_from}: {turn.answer_rule})"
                  + (f", confidence {turn.confidence}" if turn.confidence is not None else "")]
    return "\n".join(lines) + "\n"


def scripts(replies: dict[str, list[str]]) -> dict[str, ScriptedModel]:
    return {agent: ScriptedModel(list(r), name=agent) for agent, r in replies.items()}


def verdict(preference: str, answer: str) -> str:
    return json.dumps({"preference": preference, "supported_side": "negative" if answer else "",
                       "reason": "reason", "debate_answer": answer})


def reconcile(answer: str, confidence: float) -> str:
    return json.dumps({"explanation": f"because {answer}", "answer": answer,
                       "confidence": confidence})


def critique(verdict_: str, text: str) -> str:
    return json.dumps({"verdict": verdict_, "critique": text})


def sr_answerer(messages, params) -> str:
    return "Twelve is 12" if "Context:" in messages[-1].content else "12"


def speaker(messages, params) -> str:
    """An oversight speaker: its speech quotes the passage once truly and once not."""
    last = messages[-1].content
    if "probability, from 0 to 100" in last:
        return "70"
    side = "12" if "You argue that the answer is: 12" in messages[0].content else "7"
    return (f"It is {side}. <quote>a standard dozen carton</quote> "
            f"<quote>holds {side} eggs</quote>")


def oversight_judge(messages, params) -> str:
    if "ask the speakers" in messages[-1].content:
        return "How many eggs make a dozen?"
    twelve_is_a = "Answer A: 12" in messages[-1].content
    if "probability" in messages[-1].content.lower():  # judge_format: probabilities
        return '{"A": 0.8, "B": 0.2}' if twelve_is_a else '{"A": 0.3, "B": 0.7}'
    # the reference's judge: reasons in <thinking> tags, then "Answer: <A|B>"
    return (f"<thinking>The quotes for 12 check out.</thinking>\n"
            f"Answer: {'A' if twelve_is_a else 'B'}")


CASES: dict[str, tuple[str, dict, Callable[[], dict[str, ScriptedModel]]]] = {
    "collective-improvement": ("collective-improvement", {"turns": 4}, lambda: scripts({
        f"agent-{i}": [f"agent {i} first: \\boxed{{1{i}}}", f"agent {i} then: \\boxed{{1{i}}}",
                       f"agent {i} again: \\boxed{{1{i}}}", f"{i}",
                       f"agent {i} last: \\boxed{{12}}", "1"] for i in range(3)})),
    "all-agents-drafting": ("all-agents-drafting", {}, lambda: scripts({
        "agent-0": ["agent 0 draft: \\boxed{11}", "[DISAGREE] 3 rows of 4: \\boxed{12}"],
        "agent-1": ["agent 1 draft: \\boxed{13}", "[AGREE]"],
        "agent-2": ["agent 2 draft: \\boxed{12}"]})),
    "debate-qa": ("debate-qa", {"rounds": 2, "moves": "sequential", "private_confidence": True,
                                "interactive_judge": True},
                  lambda: {"debater-a": ScriptedModel(speaker, name="debater-a"),
                           "debater-b": ScriptedModel(speaker, name="debater-b"),
                           "judge": ScriptedModel(oversight_judge, name="judge")}),
    "debate-qa-simultaneous": ("debate-qa", {"rounds": 3, "judge_format": "probabilities"},
                               lambda: {"debater-a": ScriptedModel(speaker, name="debater-a"),
                                        "debater-b": ScriptedModel(speaker, name="debater-b"),
                                        "judge": ScriptedModel(oversight_judge, name="judge")}),
    "consultancy": ("consultancy", {"rounds": 2},
                    lambda: {"consultant": ScriptedModel(speaker, name="consultant"),
                             "judge": ScriptedModel(oversight_judge, name="judge")}),
    "blind-judge": ("blind-judge", {},
                    lambda: {"judge": ScriptedModel(oversight_judge, name="judge")}),
    "du": ("du", {"rounds": 1}, lambda: scripts({
        f"agent-{i}": [f"agent {i} first: \\boxed{{1{i}}}", f"agent {i} then: \\boxed{{12}}"]
        for i in range(3)})),
    "du-sparse": ("du-sparse", {"agents": 4, "rounds": 1, "topology": "chain"}, lambda: scripts({
        f"agent-{i}": [f"agent {i} first: \\boxed{{1{i}}}", f"agent {i} then: \\boxed{{12}}"]
        for i in range(4)})),
    "du-rcr": ("du", {"agents": 4, "rounds": 1, "prompting": "rcr"}, lambda: scripts({
        f"agent-{i}": [f"agent {i} first: \\boxed{{1{i}}}", "\\boxed{12}"] for i in range(4)})),
    "du-llm-judge": ("du", {"rounds": 0, "judge": "llm", "judge_options": {"swap_order": True}},
                     lambda: {**scripts({f"agent-{i}": [f"\\boxed{{1{i % 2 + 1}}}"]
                                        for i in range(3)}),
                              "judge": ScriptedModel(['{"choice": 1, "rationale": "r1"}',
                                                      '{"choice": 2, "rationale": "r2"}'])}),
    "mad": ("mad", {"rounds": 2}, lambda: scripts({
        "affirmative": ["aff round 1: \\boxed{12}", "aff round 2: \\boxed{12}"],
        "negative": ["neg round 1: \\boxed{7}", "neg round 2: \\boxed{12}"],
        "moderator": [verdict("no", ""), verdict("no", "12")],
        "judge": ["candidates: 12 and 7", '{"reason": "3*4", "debate_answer": "12"}']})),
    "reconcile": ("reconcile", {"rounds": 1}, lambda: scripts({
        "agent-0": [reconcile("12", 0.9), reconcile("12", 0.95)],
        "agent-1": [reconcile("7", 0.6), reconcile("12", 0.8)],
        "agent-2": ["not JSON and no answer", reconcile("12", 1.0)]})),
    "peer-review": ("peer-review", {}, lambda: scripts({
        f"agent-{i}": [f"solution {i}: \\boxed{{1{i}}}", f"agent {i} review A. Confidence: 7",
                       f"agent {i} review B. Confidence: 8", f"revised {i}: \\boxed{{12}}"]
        for i in range(3)})),
    "sr-dcr": ("sr-dcr", {"rounds": 2}, lambda: {
        "answerer": ScriptedModel(sr_answerer),
        **scripts({"defender": ["defence 1", "defence 2"], "critic": ["critique 1", "critique 2"],
                   "judge": ['{"verdict": "REASONABLE", "reason": "fine"}']})}),
    "critique-refine": ("critique-refine", {"rounds": 2}, lambda: scripts({
        "solver": ["draft: \\boxed{7}"],
        "critic": [critique("revise", "3 rows of 4 is 12"), critique("accept", "right")],
        "refiner": ["refined: \\boxed{12}"]})),
    "self-refine": ("self-refine", {"rounds": 2}, lambda: scripts({
        "self": ["draft: \\boxed{7}", critique("revise", "not 7"), "second: \\boxed{11}",
                 critique("revise", "not 11"), "third: \\boxed{12}", critique("accept", "ok")]})),
    "single": ("single", {}, lambda: scripts({"solver": ["4 + 4 + 4 = \\boxed{12}"]})),
    "self-consistency": ("self-consistency", {"samples": 3}, lambda: scripts({
        f"sample-{i}": [f"sample {i}: \\boxed{{{12 if i else 11}}}"] for i in range(3)})),
}


@pytest.mark.parametrize("case", sorted(CASES))
async def test_transcript_matches_its_golden_file(case):
    name, options, models = CASES[case]
    trace = await run_debate(Q, protocol=name, models=models(), **options)
    text = render(trace)
    golden = GOLDEN / f"{case}.md"
    if UPDATE or not golden.exists():
        GOLDEN.mkdir(exist_ok=True)
        golden.write_text(text, encoding="utf-8")
        if not UPDATE:
            pytest.fail(f"{golden} did not exist: written; read it and commit it")
    assert text == golden.read_text(encoding="utf-8"), (
        f"{case}: the transcript changed; if intended, regenerate with "
        "DEBATELAB_UPDATE_TRANSCRIPTS=1 and review the diff")


def test_every_protocol_has_a_transcript():
    from debate import PROTOCOLS

    builtin = {n for n, cls in PROTOCOLS.items() if cls.__module__.startswith("debate.")}
    assert {name for name, _, _ in CASES.values()} == builtin
