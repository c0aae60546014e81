import debate

# The curated public API. Adding a name is a decision: add it here too.
EXPECTED = [
    "Agent", "AgentStats", "CallStats", "ChatModel", "Comparison", "Completion", "ConfigError",
    "DatasetError",
    "DatasetSpec", "DebateError", "DebateProtocol", "DebateState", "DebateTrace", "Debater",
    "ExperimentConfig", "FatalTransportError", "FieldMap", "FinalAnswer", "Limits", "Message",
    "MissingDependencyError", "ModelOutputError", "ModelSpec", "PROTOCOLS", "PriceTable",
    "ProtocolConfig", "ProtocolPreset", "Question", "ROLES", "ResponseCache", "RetryPolicy",
    "RetryableError", "RoleCard", "RoundStats", "SCHEMA_VERSION", "SamplingParams", "SpecError",
    "Summary", "Template", "TemplateError", "TraceWriter", "TransportError", "Turn", "Usage",
    "View", "arun_experiment", "build_agents", "compare_runs", "create_backend",
    "create_protocol",
    "extract_answer", "get_protocol", "get_role", "is_correct", "load_dataset",
    "load_experiment", "load_results", "load_role_card", "load_run_summary", "majority_vote",
    "parse_model_spec", "protocol", "read_traces", "role", "run_debate", "run_experiment",
    "summarize", "wrap",
]


def test_all_is_sorted_and_pinned():
    assert debate.__all__ == sorted(debate.__all__)
    assert sorted(debate.__all__) == sorted(EXPECTED)


def test_every_public_name_exists_and_is_documented():
    for name in debate.__all__:
        obj = getattr(debate, name)
        if callable(obj) and not isinstance(obj, dict):
            assert obj.__doc__, f"{name} has no docstring"


def test_protocols_and_roles_registered():
    assert {"du", "single", "self-consistency"} <= set(debate.PROTOCOLS)
    assert "debater" in debate.ROLES


HEAVY = ("langgraph", "langchain_core", "openai", "anthropic", "xllamacpp", "aiohttp", "vllm")
PROBE = """
import sys
{code}
print("heavy:", *sorted({{m.split(".")[0] for m in sys.modules}} & set({heavy!r})))
"""


def _heavy_after(code: str) -> str:
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", PROBE.format(code=code, heavy=HEAVY)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1].removeprefix("heavy:").strip()


def test_import_debate_imports_no_graph_runtime_sdk_or_model_runtime():
    assert _heavy_after("import debate") == ""
    # a public name loads its own module, still without them
    assert _heavy_after("import debate; debate.Question; debate.ExperimentConfig; "
                        "debate.load_run_summary; debate.PROTOCOLS.names()") == ""
    assert _heavy_after("import debate; debate.run_debate") == ""  # LangGraph: first graph
    # submodules are reachable as attributes after a bare `import debate`, as before
    assert _heavy_after("import debate; debate.models.Usage; debate.trace.Turn") == ""


def test_quick_cli_commands_import_none_of_them(tmp_path):
    run = tmp_path / "r"
    code = ("import debate; debate.run_experiment(debate.ExperimentConfig(models=["
            "'scripted:first-number'], dataset='experiments/data/sums.jsonl', limit=2, "
            f"output_dir={str(tmp_path)!r}, name='r'), progress=False)")
    assert "langgraph" in _heavy_after(code)  # running debates does use LangGraph
    for args in (["--help"], ["models"], ["protocols"], ["protocols", "du"],
                 ["report", str(run)]):
        code = ("import sys; from debate.cli.main import app; sys.argv = ['debate', *"
                f"{args!r}]\ntry:\n    app()\nexcept SystemExit as e:\n    assert not e.code\n")
        assert _heavy_after(code) == "", args


def test_lazy_names_match_the_public_api():
    import ast
    from pathlib import Path

    import debate.models

    for package in (debate, debate.models):
        tree = ast.parse(Path(package.__file__).read_text())
        checked = next(node for node in tree.body if isinstance(node, ast.If))  # TYPE_CHECKING
        imported = {alias.name: node.module for node in ast.walk(checked)
                    if isinstance(node, ast.ImportFrom) for alias in node.names}
        lazy = {name: module for module, names in package._SOURCES.items() for name in names}
        assert imported == lazy == {name: lazy[name] for name in package.__all__}
