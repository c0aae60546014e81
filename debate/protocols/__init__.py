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


_LOADED_WHEN_RUN = frozenset({"runtime"})
"""Modules not imported here: the graph runtime loads LangGraph, needed only once a debate
runs (``import debate`` and ``debate protocols`` stay fast)."""


def _register_built_ins() -> None:
    """Import every protocol module of this package, so each registers its protocols.

    A new built-in protocol is one module here (plus its card and its test): no list
    to extend. The modules above are imported by name for the public names they give.
    """
    import importlib
    import pkgutil

    for module in pkgutil.iter_modules(__path__):
        if module.name not in _LOADED_WHEN_RUN:
            importlib.import_module(f"{__name__}.{module.name}")


_register_built_ins()
