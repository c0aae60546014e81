"""debatelab inside inspect_ai: any protocol as a solver, on inspect's own models.

    from inspect_ai import Task, eval
    from debate.integrations.inspect_ai import debate_solver

    task = Task(dataset=..., solver=debate_solver("du", rounds=2), scorer=match())
    eval(task, model="openai/gpt-4o-mini", model_roles={"judge": "openai/gpt-4o"})

Every call of the debate goes through inspect's model API (:class:`InspectChatModel`),
so it is logged in the sample's transcript, retried and limited as inspect does; the
debate's trace is kept in the sample's store (:data:`TRACE_KEY`), and ``debate export
LOG.eval`` reads it back (:func:`read_eval_traces`). Needs ``pip install
'debatelab[inspect]'``; without inspect_ai, importing this module is a
:class:`~debate.errors.MissingDependencyError` naming the extra.
"""

from __future__ import annotations

from debate.integrations.inspect_ai._require import require_inspect_ai

require_inspect_ai()

from debate.integrations.inspect_ai.log import TRACE_KEY, read_eval_traces  # noqa: E402
from debate.integrations.inspect_ai.model import SPAN_TYPE, InspectChatModel  # noqa: E402
from debate.integrations.inspect_ai.solver import (  # noqa: E402
    debate_solver,
    question_from_state,
    role_models,
)

__all__ = [
    "SPAN_TYPE",
    "TRACE_KEY",
    "InspectChatModel",
    "debate_solver",
    "question_from_state",
    "read_eval_traces",
    "role_models",
]
