"""``debate_solver``: a debatelab protocol run on an inspect sample, with inspect's models.

The sample becomes a :class:`~debate.trace.Question` (:func:`question_from_state`), each
agent gets the inspect model of its model role (:func:`role_models`), the debate runs
through :func:`debate.run_debate`, its final answer becomes the sample's output (so
inspect's scorers see it) and its trace goes to the sample's store (:data:`TRACE_KEY`).
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping, Sequence
from typing import Any, cast, get_args

from inspect_ai.model import ChatMessageAssistant, Model, ModelOutput, get_model, model_roles
from inspect_ai.solver import Generate, Solver, TaskState, solver

from debate.errors import ConfigError
from debate.experiment.runner import run_debate
from debate.integrations.inspect_ai.log import TRACE_KEY
from debate.integrations.inspect_ai.model import InspectChatModel
from debate.models.types import ChatModel, SamplingParams
from debate.protocols import DebateProtocol, create_protocol
from debate.scoring.correct import normalize_gold
from debate.settings import validated
from debate.trace import DebateTrace, Question, TaskType, trace_json

__all__ = ["JUDGING_ROLES", "debate_solver", "question_from_state", "role_models"]

JUDGING_ROLES = frozenset({"judge", "moderator", "mad-judge"})
"""Roles that decide rather than argue: they fall back to the ``judge`` model role."""

TASKS: tuple[str, ...] = get_args(TaskType)


@solver  # type: ignore[untyped-decorator, unused-ignore]  # untyped without inspect_ai
def debate_solver(protocol: str = "du", *, task: str | None = None,
                  roles: Sequence[str] = (), params: Mapping[str, Any] | None = None,
                  sampling: Mapping[str, Mapping[str, Any]] | None = None,
                  seed: int | None = 0, strict_parsing: bool = False,
                  answer_template: str = "{answer}", **options: Any) -> Solver:
    r"""Run debatelab ``protocol`` on each sample; its final answer is the sample's output.

    Args:
        protocol: a registered protocol name (``du``, ``mad``... see ``debate protocols``).
        task: how answers are read and scored (numeric, choice, yesno, exact); default
            the sample's ``metadata["task"]``, else ``choice`` for a sample with choices,
            else ``exact``.
        roles: role cards, as :func:`debate.run_debate` takes them.
        params: sampling parameters of every agent (``{"max_tokens": 1024}``); those left
            unset take the eval's own (``--temperature``, ``--max-tokens``...).
        sampling: sampling per agent name or role (``{"judge": {"temperature": 0}}``).
        seed: base seed (agent ``i`` samples with ``seed + i``; epoch ``e`` adds
            ``1000 * (e - 1)``, so epochs are distinct samples); ``None`` sends none.
        strict_parsing: count only explicitly given answers.
        answer_template: the output's text, ``{answer}`` replaced by the final answer (a
            letter for choice tasks; other braces stay as they are): ``"ANSWER: {answer}"``
            or ``"\boxed{{answer}}"`` for a scorer that wants that form.
        **options: protocol options, as :func:`debate.create_protocol` takes them.

    """
    if "{answer}" not in answer_template:
        raise ConfigError(f"debate_solver: answer_template {answer_template!r} has no "
                          "{answer} (where the final answer goes)")
    if task is not None and task not in TASKS:
        raise ConfigError(f"debate_solver: task {task!r} is not one of {', '.join(TASKS)}")
    proto = create_protocol(protocol, **options)  # bad options fail when the task is made
    base = sampling_params(params or {})

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        question = question_from_state(state, task)
        epoch_seed = None if seed is None else seed + 1000 * (max(state.epoch, 1) - 1)
        trace = await run_debate(question, protocol=proto, models=role_models(proto),
                                 roles=roles, params=base, sampling=sampling, seed=epoch_seed,
                                 strict_parsing=strict_parsing)
        keep_trace(state, trace, answer_template)
        return state

    return solve


PARAMS = tuple(sorted(set(SamplingParams.model_fields) - {"seed", "sampler"}))
"""The sampling parameters ``debate_solver(params=...)`` takes (the seed is its own)."""


def sampling_params(params: Mapping[str, Any]) -> SamplingParams:
    """``params`` over the eval's defaults (nothing set); an unknown key is an error."""
    unknown = sorted(set(params) - set(PARAMS))
    if unknown:
        raise ConfigError(f"debate_solver params: {', '.join(map(repr, unknown))} not "
                          f"allowed; allowed: {', '.join(PARAMS)}")
    return validated(SamplingParams, {"max_tokens": None, **params}, "debate_solver params")


def question_from_state(state: TaskState, task: str | None = None) -> Question:
    """The sample as a debatelab question: its input, choices, target and metadata."""
    where = f"sample {state.sample_id!r}"
    choices = [c.value for c in state.choices] or None
    kind = task or state.metadata.get("task") or ("choice" if choices else "exact")
    if kind not in TASKS:
        raise ConfigError(f"{where}: metadata task {kind!r} is not one of {', '.join(TASKS)}")
    gold: str | None = None
    target = state.target.text
    if target:
        try:
            gold = normalize_gold(target, cast(TaskType, kind), choices)
        except ValueError as exc:
            raise ConfigError(f"{where}: target {target!r} does not fit task {kind}: "
                              f"{exc}") from exc
    # each epoch is a debate of its own (its own id, and its own seeds: see debate_solver)
    qid = str(state.sample_id) if state.epoch <= 1 else f"{state.sample_id}@{state.epoch}"
    return Question(id=qid, text=state.input_text, task=cast(TaskType, kind),
                    gold=gold, gold_text=target or None, choices=choices,
                    metadata=dict(state.metadata))


def role_models(proto: DebateProtocol[Any]) -> dict[str, ChatModel]:
    """Each agent's inspect model: its model role by agent name, by role, then by seat.

    Each agent's calls are in transcript spans named after it (type ``debate-agent``).

    An agent takes the first model role defined for its name (``agent-0``), its role
    (``affirmative``), or its seat: ``judge`` for deciding roles (:data:`JUDGING_ROLES`),
    ``debater`` for the others; with none of them, the eval's main model.
    """
    defined = model_roles()
    models: dict[str, ChatModel] = {}
    for i, name in enumerate(proto.agent_names()):
        role = proto.agent_role(i)
        seat = "judge" if role in JUDGING_ROLES or name in proto.judge_agents else "debater"
        key = next((k for k in (name, role, seat) if k in defined), None)
        model: Model = get_model(role=key) if key else get_model()
        models[name] = InspectChatModel(model, agent=name)
    return models


def keep_trace(state: TaskState, trace: DebateTrace, answer_template: str) -> None:
    """The final answer as the sample's output, and the trace in its store."""
    answer = trace.final.answer
    text = "" if answer is None else answer_template.replace("{answer}", answer)
    state.output = ModelOutput.from_content(model=str(state.model), content=text)
    state.messages.append(ChatMessageAssistant(content=text))
    if trace.question.task == "choice" and state.choices and answer is not None:
        for i in range(len(state.choices)):
            state.choices.mark_choice(i, string.ascii_uppercase[i] == answer)
    state.store.set(TRACE_KEY, json.loads(trace_json(trace)))
