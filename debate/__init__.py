"""debatelab: multi-agent debate and critique protocols, experiments, and training data.

The public API, in one place::

    import debate

    trace = await debate.run_debate("What is 17 * 3?", protocol="du", models="llamacpp:smollm2")
    summary = debate.run_experiment("experiments/du-arithmetic-smollm2.yaml")
"""

from debate.agents import ROLES, Agent, Debater, View, get_role, role
from debate.cards import ProtocolPreset, RoleCard, load_role_card
from debate.config import ExperimentConfig, load_experiment
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
from debate.judges import majority_vote
from debate.metrics import AgentStats, RoundStats, Summary, summarize
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
from debate.runner import (
    arun_experiment,
    build_agents,
    load_run_summary,
    run_debate,
    run_experiment,
)
from debate.scoring import extract_answer, is_correct
from debate.stats import Comparison, compare_runs
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
