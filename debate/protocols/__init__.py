"""Protocols: one module per protocol, each a LangGraph graph; the protocol registry."""

from debate.protocols.base import (
    PROTOCOLS,
    DebateContext,
    DebateProtocol,
    DebateState,
    FixedRolesProtocol,
    GroupProtocol,
    JudgedConfig,
    ProtocolConfig,
    create_protocol,
    gather_all,
    gather_round,
    get_protocol,
    protocol,
)
from debate.protocols.critique_refine import (
    CritiqueRefineConfig,
    CritiqueRefineProtocol,
    SelfRefineProtocol,
)
from debate.protocols.du import DuConfig, DuProtocol
from debate.protocols.mad import MadConfig, MadProtocol
from debate.protocols.oversight import (
    BlindJudgeConfig,
    BlindJudgeProtocol,
    ConsultancyConfig,
    ConsultancyProtocol,
    DebateQaConfig,
    DebateQaProtocol,
)
from debate.protocols.peer_review import PeerReviewConfig, PeerReviewProtocol
from debate.protocols.reconcile import ReconcileConfig, ReconcileProtocol
from debate.protocols.single import (
    SelfConsistencyConfig,
    SelfConsistencyProtocol,
    SingleConfig,
    SingleProtocol,
)
from debate.protocols.sr_dcr import SrDcrConfig, SrDcrProtocol
from debate.registry import import_modules

__all__ = [
    "PROTOCOLS",
    "BlindJudgeConfig",
    "BlindJudgeProtocol",
    "ConsultancyConfig",
    "ConsultancyProtocol",
    "CritiqueRefineConfig",
    "CritiqueRefineProtocol",
    "DebateContext",
    "DebateProtocol",
    "DebateQaConfig",
    "DebateQaProtocol",
    "DebateState",
    "DuConfig",
    "DuProtocol",
    "FixedRolesProtocol",
    "GroupProtocol",
    "JudgedConfig",
    "MadConfig",
    "MadProtocol",
    "PeerReviewConfig",
    "PeerReviewProtocol",
    "ProtocolConfig",
    "ReconcileConfig",
    "ReconcileProtocol",
    "SelfConsistencyConfig",
    "SelfConsistencyProtocol",
    "SelfRefineProtocol",
    "SingleConfig",
    "SingleProtocol",
    "SrDcrConfig",
    "SrDcrProtocol",
    "create_protocol",
    "gather_all",
    "gather_round",
    "get_protocol",
    "protocol",
]


# every protocol module registers its protocols (a new one extends no list); not the graph
# runtime, which loads LangGraph: only once a debate runs (`import debate` stays fast)
import_modules(__name__, __path__, skip=frozenset({"runtime"}))
