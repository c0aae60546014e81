"""debatelab: multi-agent debate and critique protocols, experiments, and training data.

The public API, in one place::

    import debate

    trace = await debate.run_debate("What is 17 * 3?", protocol="du", models="llamacpp:smollm2")
    summary = debate.run_experiment("experiments/du-arithmetic-smollm2.yaml")
    frame = debate.load_results(summary.run)  # results.csv as a pandas DataFrame

Names load on first use (PEP 562), so ``import debate`` and the ``debate``
command start fast: LangGraph, the model SDKs and the embedded model's
runtime are imported only by the code that uses them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from debate._lazy import lazy_exports

if TYPE_CHECKING:
    from debate.agents import ROLES, Agent, Debater, View, get_role, role
    from debate.analysis.metrics import AgentStats, RoundStats, Summary, load_run_summary, summarize
    from debate.analysis.results import load_results
    from debate.analysis.stats import Comparison, compare_runs
    from debate.cards import ProtocolPreset, RoleCard, load_role_card
    from debate.datasets import DatasetSpec, FieldMap, load_dataset
    from debate.errors import (
        ConfigError,
        DatasetError,
        DebateError,
        FatalTransportError,
        MissingDependencyError,
        ModelOutputError,
        RetryableError,
        SpecError,
        TemplateError,
        TransportError,
    )
    from debate.experiment.binding import build_agents
    from debate.experiment.config import ExperimentConfig, load_experiment
    from debate.experiment.runner import arun_experiment, run_debate, run_experiment
    from debate.judges import majority_vote
    from debate.models import (
        CallStats,
        ChatModel,
        Completion,
        Limits,
        Message,
        ModelSpec,
        PriceTable,
        ResponseCache,
        RetryPolicy,
        SamplingParams,
        Usage,
        create_backend,
        parse_model_spec,
        wrap,
    )
    from debate.prompts import Template
    from debate.protocols import (
        PROTOCOLS,
        DebateProtocol,
        DebateState,
        ProtocolConfig,
        create_protocol,
        get_protocol,
        protocol,
    )
    from debate.scoring import extract_answer, is_correct
    from debate.trace import (
        SCHEMA_VERSION,
        DebateTrace,
        FinalAnswer,
        Question,
        TraceWriter,
        Turn,
        read_traces,
    )

__version__ = "0.1.0"

_SOURCES: dict[str, tuple[str, ...]] = {
    "debate.agents": ("ROLES", "Agent", "Debater", "View", "get_role", "role"),
    "debate.cards": ("ProtocolPreset", "RoleCard", "load_role_card"),
    "debate.experiment.config": ("ExperimentConfig", "load_experiment"),
    "debate.datasets": ("DatasetSpec", "FieldMap", "load_dataset"),
    "debate.errors": ("ConfigError", "DatasetError", "DebateError", "FatalTransportError",
        "MissingDependencyError", "ModelOutputError", "RetryableError", "SpecError",
        "TemplateError", "TransportError"),
    "debate.judges": ("majority_vote",),
    "debate.analysis.metrics": ("AgentStats", "RoundStats", "Summary", "load_run_summary",
        "summarize"),
    "debate.models": ("CallStats", "ChatModel", "Completion", "Limits", "Message", "ModelSpec",
        "PriceTable", "ResponseCache", "RetryPolicy", "SamplingParams", "Usage", "create_backend",
        "parse_model_spec", "wrap"),
    "debate.prompts": ("Template",),
    "debate.protocols": ("PROTOCOLS", "DebateProtocol", "DebateState", "ProtocolConfig",
        "create_protocol", "get_protocol", "protocol"),
    "debate.analysis.results": ("load_results",),
    "debate.experiment.binding": ("build_agents",),
    "debate.experiment.runner": ("arun_experiment", "run_debate", "run_experiment"),
    "debate.scoring": ("extract_answer", "is_correct"),
    "debate.analysis.stats": ("Comparison", "compare_runs"),
    "debate.trace": ("SCHEMA_VERSION", "DebateTrace", "FinalAnswer", "Question", "TraceWriter",
        "Turn", "read_traces"),
}
__getattr__, __dir__ = lazy_exports(__name__, _SOURCES, globals())

__all__ = [
    "Agent",
    "AgentStats",
    "CallStats",
    "ChatModel",
    "Comparison",
    "Completion",
    "ConfigError",
    "DatasetError",
    "DatasetSpec",
    "DebateError",
    "DebateProtocol",
    "DebateState",
    "DebateTrace",
    "Debater",
    "ExperimentConfig",
    "FatalTransportError",
    "FieldMap",
    "FinalAnswer",
    "Limits",
    "Message",
    "MissingDependencyError",
    "ModelOutputError",
    "ModelSpec",
    "PROTOCOLS",
    "PriceTable",
    "ProtocolConfig",
    "ProtocolPreset",
    "Question",
    "ROLES",
    "ResponseCache",
    "RetryPolicy",
    "RetryableError",
    "RoleCard",
    "RoundStats",
    "SCHEMA_VERSION",
    "SamplingParams",
    "SpecError",
    "Summary",
    "Template",
    "TemplateError",
    "TraceWriter",
    "TransportError",
    "Turn",
    "Usage",
    "View",
    "arun_experiment",
    "build_agents",
    "compare_runs",
    "create_backend",
    "create_protocol",
    "extract_answer",
    "get_protocol",
    "get_role",
    "is_correct",
    "load_dataset",
    "load_experiment",
    "load_results",
    "load_role_card",
    "load_run_summary",
    "majority_vote",
    "parse_model_spec",
    "protocol",
    "read_traces",
    "role",
    "run_debate",
    "run_experiment",
    "summarize",
    "wrap",
]
