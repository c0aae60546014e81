"""Custom roles, protocols and judges written outside the package, without forking."""

import sys
import types
from collections.abc import Sequence
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest
from langgraph.graph import END, START, StateGraph

from debate import ExperimentConfig, arun_experiment, run_debate
from debate.agents import Agent, View, role
from debate.judges import JUDGES, Decision, Judge, judge
from debate.models import Message
from debate.protocols import (
    PROTOCOLS,
    DebateContext,
    DebateState,
    FixedRolesProtocol,
    JudgedConfig,
    gather_round,
    protocol,
)
from debate.registry import Registry
from debate.testing import ScriptedModel
from debate.trace import FinalAnswer, Question, Turn


class Contrarian(Agent):
    """Answers one more than it is told (a custom role in plain Python)."""

    def messages(self, view: View) -> list[Message]:
        return [Message(role="user", content=f"Contradict: {view.question.text}")]


class ShortestJudge(Judge):
    """Picks the answer with the shortest argument."""

    async def decide(self, question: Question, candidates: Sequence[Turn],
                     agent: Agent | None = None, round_: int = 0) -> Decision:
        best = min(candidates, key=lambda t: len(t.raw))
        return Decision(FinalAnswer(answer=best.answer, method="shortest"))


class PairConfig(JudgedConfig):
    """Two agents answer once; a judge decides."""


class PairProtocol(FixedRolesProtocol[PairConfig]):
    """A debater and a contrarian answer once; the configured judge decides."""

    agent_roles = {"debater": "debater", "contrarian": "contrarian"}

    def max_calls(self) -> int:
        return 2

    async def answer(self, state: DebateState, runtime: Any) -> dict[str, Any]:
        agents = runtime.context.group(self.agent_names())
        turns = await gather_round(agents, [View(state["question"], 0)] * 2)
        return {"turns": turns, "round": 0, "stop_reason": "done"}

    async def decide(self, state: DebateState, runtime: Any) -> dict[str, Any]:
        return await self.conclude(state, runtime, state["turns"])

    def graph(self) -> StateGraph[Any, Any, Any, Any]:
        g = StateGraph(DebateState, context_schema=DebateContext)
        g.add_node("answer", self.answer)
        g.add_node("decide", self.decide)
        g.add_edge(START, "answer")
        g.add_edge("answer", "decide")
        g.add_edge("decide", END)
        return g


@pytest.fixture(autouse=True)
def plugins(restored_registries):
    """Register this module's role, judge and protocol for each test (undone after it)."""
    role("contrarian")(Contrarian)
    judge("shortest")(ShortestJudge)
    protocol("pair")(PairProtocol)


Q = Question(id="q", text="What is 2 + 2?", task="numeric", gold="4")


async def test_custom_protocol_role_and_judge_from_python():
    models = {"debater": ScriptedModel("It is surely \\boxed{4} as everyone knows"),
              "contrarian": ScriptedModel("\\boxed{5}")}
    trace = await run_debate(Q, protocol="pair", models=models, judge="shortest")
    assert [t.role for t in trace.turns] == ["debater", "contrarian"]
    assert trace.turns[1].messages[0].content == "Contradict: What is 2 + 2?"
    assert trace.final.method == "shortest" and trace.final.answer == "5"


async def test_custom_protocol_from_an_experiment_config(tmp_path):
    cfg = ExperimentConfig(protocol="pair", protocol_options={"judge": "shortest"},
                           models=["debater=scripted:first-number",
                                   "contrarian=scripted:reply=\\boxed{1}"],
                           dataset="experiments/data/arithmetic.jsonl", limit=2,
                           output_dir=str(tmp_path), name="pair")
    summary = await arun_experiment(cfg, progress=False)
    assert summary.debates == 2 and summary.protocol == "pair"


def test_entry_point_plugins_load_and_broken_ones_are_reported(monkeypatch):
    registry: Registry[type] = Registry("thing", "name", group="debatelab.things")

    module = types.ModuleType("debatelab_test_plugin")

    class Thing:
        name = ""

    module.Thing = Thing  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "debatelab_test_plugin", module)
    points = [EntryPoint("good", "debatelab_test_plugin:Thing", "debatelab.things"),
              EntryPoint("broken", "no_such_module_xyz:Thing", "debatelab.things")]
    monkeypatch.setattr("debate.registry.entry_points", lambda group: points)
    assert registry.names() == ["good"] and registry.lookup("good") is Thing
    assert Thing.name == "good"
    assert "ModuleNotFoundError" in registry.plugin_errors["broken"]
    with pytest.raises(Exception, match="plug-in failed to load"):
        registry.lookup("broken")


def test_builtin_registries_list_plugins_groups():
    assert PROTOCOLS.group == "debatelab.protocols" and JUDGES.group == "debatelab.judges"


async def test_an_export_format_from_an_entry_point_is_used_by_the_exporter(monkeypatch,
                                                                          tmp_path):
    """Through a real ``importlib.metadata.EntryPoint``: a plain row-builder function."""
    from debate import Question, run_debate
    from debate.export import FORMATS, export
    from debate.testing import ScriptedModel

    module = types.ModuleType("debatelab_test_formats")

    def chosen_only(example):
        return [{"text": example.chosen, "question_id": example.metadata.question_id}]

    module.chosen_only = chosen_only  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "debatelab_test_formats", module)
    points = [EntryPoint("chosen-only", "debatelab_test_formats:chosen_only",
                         "debatelab.formats")]
    monkeypatch.setattr("debate.registry.entry_points", lambda group: points
                        if group == "debatelab.formats" else [])
    monkeypatch.setattr(FORMATS, "_plugins_loaded", False)
    monkeypatch.delitem(FORMATS, "chosen-only", raising=False)
    trace = await run_debate(Question(id="q", text="2+2?", task="numeric", gold="4"),
                             protocol="du", rounds=0,
                             models=[ScriptedModel("\\boxed{4}"), ScriptedModel("\\boxed{5}"),
                                     ScriptedModel("\\boxed{4}")])
    try:
        rows = export([trace], "gold", "chosen-only")
    finally:
        FORMATS.pop("chosen-only", None)
    assert rows == [{"text": "\\boxed{4}", "question_id": "q"}]  # the duplicate pair deduped


ECHO_PROTOCOL = '''
from pathlib import Path
from typing import Any

from langgraph.graph import END, START, StateGraph

from debate.agents import View
from debate.protocols import (
    DebateContext,
    DebateProtocol,
    DebateState,
    JudgedConfig,
    gather_round,
    protocol,
)


class Twice(DebateProtocol):
    """Two debaters answer once; the configured judge decides (VERSION)."""

    config_class = JudgedConfig

    def agent_names(self) -> list[str]:
        return ["first", "second"]

    def agent_role(self, index: int) -> str:
        return "debater"

    def max_calls(self) -> int:
        return 2

    async def answer(self, state: DebateState, runtime: Any) -> dict[str, Any]:
        agents = runtime.context.group(self.agent_names())
        turns = await gather_round(agents, [View(state["question"], 0)] * 2)
        return {"turns": turns, "round": 0, "stop_reason": "done"}

    async def decide(self, state: DebateState, runtime: Any) -> dict[str, Any]:
        return await self.conclude(state, runtime, state["turns"])

    def graph(self) -> StateGraph[Any, Any, Any, Any]:
        g = StateGraph(DebateState, context_schema=DebateContext)
        g.add_node("answer", self.answer)
        g.add_node("decide", self.decide)
        g.add_edge(START, "answer")
        g.add_edge("answer", "decide")
        g.add_edge("decide", END)
        return g
'''


def test_a_protocol_class_in_a_file_runs_from_the_cli_without_packaging(tmp_path):
    import json

    from typer.testing import CliRunner

    from debate.cli.main import app

    (tmp_path / "twice.py").write_text(ECHO_PROTOCOL)
    args = ["run", "--protocol", f"{tmp_path}/twice.py:Twice", "--model",
            "scripted:first-number", "--dataset", "experiments/data/arithmetic.jsonl",
            "--limit", "2", "--out", str(tmp_path / "runs"), "--name", "t", "--no-progress"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    lines = (tmp_path / "runs/t/traces.jsonl").read_text().splitlines()
    traces = [json.loads(line) for line in lines]
    assert [t["protocol"] for t in traces] == ["Twice", "Twice"]
    assert [len(t["turns"]) for t in traces] == [2, 2]
    # editing the plug-in changes what the run computes: the same folder refuses it
    (tmp_path / "twice.py").write_text(ECHO_PROTOCOL.replace("VERSION", "v2"))
    result = CliRunner().invoke(app, args)
    assert result.exit_code != 0 and "code.twice.py" in result.output, result.output
    # ... and a new folder runs the edited code, not the first import's
    from debate.protocols import get_protocol

    result = CliRunner().invoke(app, [*args[:-3], "--name", "t2", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "(v2)" in (get_protocol("Twice").__doc__ or "")


def test_spec_plugins_are_files_next_to_the_spec_that_register_names(tmp_path):
    from debate import run_experiment
    from debate.experiment.config import load_experiment

    (tmp_path / "twice.py").write_text(ECHO_PROTOCOL + "\nprotocol('twice-by-name')(Twice)\n")
    data = Path("experiments/data/arithmetic.jsonl").absolute()
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"plugins: [twice.py]\nprotocol: twice-by-name\n"
                    f"models: [scripted:first-number]\ndataset: {data}\n"
                    f"limit: 1\noutput_dir: {tmp_path / 'runs'}\n")
    cfg = load_experiment(spec)
    assert cfg.plugins == [str(tmp_path / "twice.py")]
    summary = run_experiment(cfg, progress=False)
    assert summary.protocol == "twice-by-name" and summary.debates == 1


def test_plugin_errors_name_the_file(tmp_path):
    from debate.errors import ConfigError
    from debate.experiment.config import ExperimentConfig

    def resolve(**fields: Any) -> None:
        ExperimentConfig(dataset="x.jsonl", **fields).resolve_protocol()

    with pytest.raises(ConfigError, match=r"missing\.py: no such file"):
        resolve(plugins=[str(tmp_path / "missing.py")])
    (tmp_path / "broken.py").write_text("raise RuntimeError('half written')\n")
    with pytest.raises(ConfigError, match=r"broken\.py: RuntimeError while importing: half"):
        resolve(plugins=[str(tmp_path / "broken.py")])
    (tmp_path / "twice.py").write_text(ECHO_PROTOCOL)
    with pytest.raises(ConfigError, match=r"no DebateProtocol subclass 'Thrice'.*\['Twice'\]"):
        resolve(protocol=f"{tmp_path}/twice.py:Thrice")
    with pytest.raises(ConfigError, match="cannot import module"):
        resolve(plugins=["no_such_module_for_debatelab"])


LEAK_PROBE = {"registered": False}


def test_registrations_are_undone_after_each_test_1_register():
    """Registers into every registry; the next test finds none of it there."""
    from debate.agents.base import PARSERS, ROLES
    from debate.errors import register_secret
    from debate.export import FORMATS, STRATEGIES, register_format, strategy
    from debate.testing import register_script
    from debate.uncertainty import RELEVANCE

    class Leaky:
        pass

    for registry in (ROLES, PARSERS, JUDGES, PROTOCOLS, RELEVANCE):
        registry.register("leaky")(Leaky)
    register_format("leaky")(lambda example: [])
    strategy("leaky")(lambda traces, options: [])
    register_script("leaky", lambda messages, params: "leaked")
    register_secret("leaky-secret-value")
    RELEVANCE.plugin_errors["leaky"] = "ImportError: leaked"
    assert all("leaky" in r for r in (ROLES, PARSERS, JUDGES, PROTOCOLS, RELEVANCE, FORMATS,
                                       STRATEGIES))
    LEAK_PROBE["registered"] = True


def test_registrations_are_undone_after_each_test_2_check(restored_registries):
    from debate.errors import redact

    if not LEAK_PROBE["registered"]:
        pytest.skip("checks what the previous test registered: run the two together")
    for registry in restored_registries:
        assert "leaky" not in registry
        assert "leaky" not in getattr(registry, "plugin_errors", {})
    assert redact("leaky-secret-value") == "leaky-secret-value"
    assert "pair" in PROTOCOLS  # this module's own fixture registered it again


def test_every_registry_of_the_package_is_restored_after_each_test(restored_registries):
    """A registry added to the package without being added to conftest's list fails here."""
    import importlib
    import re
    from pathlib import Path

    import debate

    root = Path(debate.__file__).parent
    declared = re.compile(r"^(\w+)\s*(?::[^=\n]*)?=\s*Registry\(", re.MULTILINE)
    found = []
    for path in sorted(root.rglob("*.py")):
        for name in declared.findall(path.read_text(encoding="utf-8")):
            module = ".".join(path.relative_to(root.parent).with_suffix("").parts)
            found.append((module, name, getattr(importlib.import_module(module), name)))
    assert len(found) >= 7
    missing = [f"{module}.{name}" for module, name, registry in found
               if not any(registry is known for known in restored_registries)]
    assert missing == []
