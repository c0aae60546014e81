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
    "load_experiment", "load_role_card", "load_run_summary", "majority_vote",
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
