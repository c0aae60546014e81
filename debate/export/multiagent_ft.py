"""Multiagent finetuning data (Subramaniam et al., ICLR 2025, arXiv 2501.05707).

"Multiagent Finetuning: Self Improvement with Diverse Reasoning Chains": every
agent of a debate is finetuned on its *own* data, as a generation agent (it
answers round 0) and as a critic agent (it answers the debate rounds). The rules
below are those of the reference code, vsubramaniam851/multiagent-ft at
b7556fd389889854926e364a0b9ba0e5fb7f8d33 (``multiagent-ft/ft_generator.py``,
``ft_critic.py``, ``original_gen.py``, ``ft_gen.py``); no ground truth is used to
select (``gt_answer`` is read and never used), the debate's consensus is.

- Consensus: the most frequent parsed answer of the agents' *last* replies
  (``ft_generator.py:98-108``, ``ft_critic.py:103-113``). Here it is the debate's
  final answer, kept only when it is the one most common answer of the last
  round's answers that may decide a label (no tie: the reference's tie-break,
  ``sorted(zip(counts, answers))[-1]``, is the larger answer string); otherwise
  the debate is dropped as ``no-consensus``.
- ``mft-generator``: per agent, its round-0 reply when its answer agrees with the
  consensus (``ft_generator.py:110-121``); the example is the round-0 prompt and
  that reply (``agent_answer[:2]``, written as ``v[:1] + v[-1:]``, lines 119, 133).
- ``mft-critic``: per agent whose last reply agrees with the consensus
  (``ft_critic.py:125``), its whole conversation up to that reply
  (``answers_dict[counter] = agent_answer``, lines 130, 138): the prompt is the
  last turn's messages (in ``du``, the agent's own chat: its round-0 prompt and
  reply, then each round's message with the other agents' answers), the
  completion its last reply. It is ``critic-`` (D^C-, as issue 32 names the paper's
  sets; the paper's own text was not reachable) when the agent's
  round-0 answer differs from its last one (wrong, then corrected to the
  consensus: lines 126-133), else ``critic+`` (D^C+: right and stayed right,
  lines 134-141). A round-0 reply with no parsed answer makes ``critic-`` as in the
  reference (``parse_answer`` gives ``None``, and ``grade_answer(None, ...)`` is false:
  ``ft_critic.py:119-126``, ``grader.py:241-242``). A round-0 reply that was guessed
  by a fallback rule, cut off at the token limit or empty decides no label here (the
  project's rule; the reference would read it as any other reply): the example is
  dropped and counted as ``fallback-parsed``, ``truncated`` or ``empty``, unless
  ``allow_fallback`` / ``allow_truncated`` let the guess or the cut-off reply decide.
  Critics answer the rounds after round 0 (``ft_gen.py:243-246``), so a one-round
  debate gives none (``one-round``).
- The mix: every ``critic-`` example is kept; after the i-th one of an agent,
  with probability 1/2 (``random.choice([0, 1])``), the i-th of that agent's
  shuffled ``critic+`` examples follows (``ft_critic.py:195-214``, the ``--gpt``
  path; the open-source path, lines 151-182, does the same but spells the key of
  those rows ``conversastions``, line 181, which ``lm_ft/lm_ft.py:176`` does not
  read). ``critic+`` examples past the number of ``critic-`` ones are never used
  (the reference would index past its list).
  :class:`MftOptions` sets the probability (``critic_plus_rate``, 0.5 by
  default; ``debate export --critic-plus-rate``) and the seed (``--seed``); the
  reference's draws are unseeded. Each ``critic+``
  example the mix leaves out is counted as ``not-mixed``.

Each agent gets its own dataset (``answers_dicts[i]``, one file per agent:
``ft_generator.py:92, 124-127``, ``ft_critic.py:96, 144-151``): every example names
its agent (``metadata.agents[0]``, and ``agent`` in ``metadata.extra``), and
:func:`rows_by_agent` splits an export's rows into one list per agent, each to be
written with :func:`debate.export.write_export` into its own folder (the writers
split by question only). The reference trains on every assistant message of a
conversation (its FastChat trainer masks only the user turns, ``lm_ft/lm_ft.py:114-147``):
the ``sft`` format keeps the earlier replies in ``messages`` the same way, while
``sft-prompt-completion`` makes the last reply the only target. Both strategies
are per-agent (:func:`debate.export.filters.per_agent_strategy`): the export's
``dedupe`` (on by default) compares an agent's examples only with its own, so two
agents' identical replies to the identical round-0 prompt stay two examples, one
in each agent's dataset. The reference dedupes nothing, within an agent either (each
agreeing reply gets its own key, ``answers_dict[counter]``, ``ft_generator.py:118-121``,
``ft_critic.py:125-141``): ``--no-dedupe`` (``filters={"dedupe": False}``) keeps every one
as it does.

Unusable turns are counted as elsewhere (``empty``, ``truncated``,
``fallback-parsed``: :func:`debate.export.labels.keep_turn`). The ``answer`` of each
example is the gold answer when the question has one, else the final answer.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import Field

from debate.export.drops import drop
from debate.export.examples import Example, provenance
from debate.export.filters import per_agent_strategy
from debate.export.labels import keep_turn, labelled_majority, reward_target, turn_correct
from debate.export.strategies import StrategyOptions, strategy
from debate.trace import DebateTrace, Turn

__all__ = ["CRITIC_PLUS_RATE", "MftOptions", "critic_examples", "generator_examples",
           "rows_by_agent"]

CRITIC_PLUS_RATE = 0.5
"""The chance that a ``critic+`` example follows each ``critic-`` one: the reference's
``random.choice([0, 1])`` (``multiagent-ft/ft_critic.py:211``)."""

CriticSet = Literal["critic-", "critic+"]

per_agent_strategy("mft-generator", "mft-critic")  # one dataset per agent: dedupe within it


class MftOptions(StrategyOptions):
    """:class:`StrategyOptions` plus the critic mix of ``mft-critic``.

    Pass an instance as ``options`` (``export(traces, "mft-critic", "sft",
    options=MftOptions(critic_plus_rate=0.25))``); plain options use the defaults.
    """

    critic_plus_rate: float = Field(CRITIC_PLUS_RATE, ge=0, le=1)
    """The chance that, after an agent's i-th ``critic-`` example, its i-th shuffled
    ``critic+`` example is kept (the reference: 1/2, ``ft_critic.py:211``)."""
    seed: int = Field(0, ge=0, le=2**63 - 1)
    """Seed of the shuffle and the draws of the critic mix (one stream per agent)."""


def _mix(options: StrategyOptions) -> tuple[float, int]:
    """The critic mix's rate and seed (the defaults unless ``options`` is :class:`MftOptions`)."""
    if isinstance(options, MftOptions):
        return options.critic_plus_rate, options.seed
    return CRITIC_PLUS_RATE, 0


def _consensus(trace: DebateTrace, options: StrategyOptions) -> tuple[list[list[Turn]], str] | None:
    """The answer rounds and the consensus, or ``None`` (the drop counted by its reason)."""
    rounds = trace.rounds()
    final = trace.final.answer
    if not rounds or final is None:
        drop("no-answers" if not rounds else "no-final-answer")
        return None
    if not labelled_majority(rounds[-1], final, options):
        drop("no-consensus")  # a tie, or a final answer the last round's majority did not give
        return None
    return rounds, final


def _example(trace: DebateTrace, target: Turn, turns: list[Turn], name: str, final: str,
             **extra: Any) -> Example:
    """One single completion: ``target``'s prompt and reply, labelled desirable."""
    answer, source = reward_target(trace, final, trace.final.method)
    return Example(prompt=target.messages, completion=target.raw, label=True, answer=answer,
                   chosen_correct=turn_correct(trace, target),
                   metadata=provenance(trace, turns, name, source, agent=target.agent,
                                       role=target.role, consensus=final, **extra))


@strategy("mft-generator")
def generator_examples(traces: Iterable[DebateTrace], options: StrategyOptions
                       ) -> list[Example]:
    """Each agent's round-0 replies whose answer agrees with the debate's consensus."""
    examples = []
    for trace in traces:
        found = _consensus(trace, options)
        if found is None:
            continue
        rounds, final = found
        for turn in rounds[0]:
            if turn.answer == final and keep_turn(turn, options):
                examples.append(_example(trace, turn, [turn], "mft-generator", final,
                                         mft="generator"))
    return examples


def _critic_sets(traces: Iterable[DebateTrace], options: StrategyOptions
                 ) -> dict[str, dict[CriticSet, list[Example]]]:
    """Per agent, in trace order, its ``critic-`` and ``critic+`` examples."""
    sets: dict[str, dict[CriticSet, list[Example]]] = {}
    for trace in traces:
        found = _consensus(trace, options)
        if found is None:
            continue
        rounds, final = found
        if len(rounds) < 2:
            drop("one-round")
            continue
        first_by_agent = {t.agent: t for t in rounds[0]}
        for last in rounds[-1]:
            first = first_by_agent.get(last.agent)
            if first is None or last.answer != final or not keep_turn(last, options):
                continue  # only replies that end at the consensus (ft_critic.py:125)
            if not keep_turn(first, options):
                continue  # a guessed, cut-off or empty first reply decides no label
            # an unparsed first answer (None) differs from the last one: critic- (as
            # grade_answer(None, ...) is false in the reference, ft_critic.py:126)
            kind: CriticSet = "critic+" if first.answer == last.answer else "critic-"
            example = _example(trace, last, [last, first], "mft-critic", final, mft=kind,
                               from_answer=first.answer, to_answer=last.answer)
            sets.setdefault(last.agent, {"critic-": [], "critic+": []})[kind].append(example)
    return sets


@strategy("mft-critic")
def critic_examples(traces: Iterable[DebateTrace], options: StrategyOptions) -> list[Example]:
    """Each agent's last-round replies that end at the consensus, ``critic-`` and ``critic+``.

    Per agent: every ``critic-`` example, each followed with probability
    ``critic_plus_rate`` by the ``critic+`` example of the same index in the
    agent's seeded shuffle of them (``ft_critic.py:195-214``).
    """
    rate, seed = _mix(options)
    examples: list[Example] = []
    for agent, sets in _critic_sets(traces, options).items():
        rng = random.Random(f"mft-critic/{seed}/{agent}")
        plus = list(sets["critic+"])
        rng.shuffle(plus)
        kept = 0
        for i, minus in enumerate(sets["critic-"]):
            examples.append(minus)
            if rng.random() < rate and i < len(plus):
                examples.append(plus[i])
                kept += 1
        drop("not-mixed", len(plus) - kept)
    return examples


def rows_by_agent(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """An export's rows split by the agent each example trains (``metadata.agents[0]``).

    The paper finetunes each agent on its own data; write each list with
    :func:`debate.export.write_export` into its own folder.
    """
    split: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        split.setdefault(row["metadata"]["agents"][0], []).append(dict(row))
    return split
