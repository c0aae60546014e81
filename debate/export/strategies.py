"""Strategies: pure functions from debate traces to training examples.

- ``gold``: correct vs incorrect responses to the same prompt (round 0 by
  default, where every agent got the identical prompt; later rounds only when
  asked for with ``rounds``, each pair using the chosen turn's own messages).
- ``consensus``: no labels needed: the debate's final majority answer is
  chosen, minority answers rejected; ``min_margin`` drops weak consensus.
- ``revision``: an agent that moved from wrong (or minority) to right (or
  majority): prompt = its first prompt, chosen = its last answer, rejected =
  its first answer.
- ``judge``: where a moderator or judge decided, the side it picked vs the
  side it rejected, with its rationale in the metadata.
- ``sft``: final answers of debates judged correct (or, without gold, the
  consensus), as single completions.
- ``sft-critique``: critique and review turns, role-conditioned.
- ``judge-preference``: self-play preference data (Arnesen et al. 2024,
  ``data/judge_preferences_loader.py``) from ``debate-qa`` and ``consultancy``
  runs with ``best_of`` k >= 2: per speech, of the k candidates sampled at its
  point (same speaker, same prompt), the one the preference judge rated highest
  (the one that continued) is chosen and the lowest-rated rejected, kept when
  the two ratings differ by more than ``min_margin``; ``pairs: all`` gives every
  pair of a point instead. The ratings (the judge's probability on the speaker's
  answer) are in the metadata, with the loader's soft preference label. Its
  ``chosen_correct`` says whether the speaker defends the correct answer (so
  the ``correct`` filter keeps the honest side's pairs).

Unparseable answers are never chosen; empty completions are never used.
Turns whose answer was read by a fallback rule (a guess from free text) are
skipped wherever their answer would decide a label, unless ``allow_fallback``.
Replies that ended on the token limit (``finish_reason == "length"``: cut off
mid-sentence) decide no label and become no target, unless ``allow_truncated``.
Whatever a strategy leaves out it counts with a named reason
(:func:`debate.export.drops.drop`: ``fallback-parsed``, ``truncated``,
``no-gold``, ``no-disagreement``...), so an export says why it has few rows.
The ``answer`` of every example (the reward target of ``grpo``) is the gold
answer whenever the question has one; only without gold is it the debate's
consensus or the judge's pick, and ``metadata.answer_source`` says which.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from itertools import combinations, product
from typing import Annotated, Any, Literal

from pydantic import Field

from debate.export.drops import drop
from debate.export.examples import Example, prompt_key, provenance
from debate.export.labels import (
    is_truncated,
    keep_turn,
    labelled,
    labelled_majority,
    reward_target,
    shares,
    turn_correct,
)
from debate.protocols.oversight_records import (
    JudgeRating,
    OversightJudgment,
    OversightSpeech,
    SampleMark,
)
from debate.registry import Registry
from debate.scoring import final_correct, is_correct
from debate.settings import Settings
from debate.trace import DebateTrace, Turn

__all__ = ["STRATEGIES", "StrategyOptions", "is_truncated", "strategy"]

JUDGED_METHODS = {"moderator", "judge", "llm-judge", "sr-dcr"}


class StrategyOptions(Settings):
    """Options that strategies read (each ignores the ones it does not use)."""

    rounds: list[Annotated[int, Field(ge=0)]] = Field(default_factory=lambda: [0], min_length=1)
    """Rounds whose answers are paired (gold, consensus). Round 0 prompts are identical."""
    min_margin: float = Field(0.0, ge=0, le=1)
    """consensus: least vote-share difference between the majority and the runner-up;
    judge-preference: the difference of the judge's ratings of the two speeches must
    exceed it (Arnesen et al.'s ``MIN_GAP``, 0: any preference, no ties)."""
    pairs: Literal["best", "all"] = "best"
    """judge-preference: ``best``, per speech the highest-rated candidate against the
    lowest-rated (Arnesen et al.); ``all``, every pair of candidates of a point."""
    allow_fallback: bool = False
    """Use turns whose answer a fallback rule guessed (last number, yes/no word, option
    text) where their answer decides a label; off by default."""
    allow_truncated: bool = False
    """Use replies that ended on the token limit (``finish_reason == "length"``) as
    training targets and to decide labels; off by default (a cut-off text is no target)."""


Strategy = Callable[[Iterable[DebateTrace], StrategyOptions], list[Example]]
STRATEGIES: Registry[Strategy] = Registry("strategy", "strategy_name",
                                          group="debatelab.strategies")
"""Registered strategies by name."""


def strategy(name: str) -> Callable[[Strategy], Strategy]:
    """Decorator registering a strategy function under ``name``."""
    return STRATEGIES.register(name)


def _groups(turns: list[Turn], round_: int) -> list[list[Turn]]:
    """Round 0: turns with byte-identical prompts; later rounds: the whole round."""
    if round_ != 0:
        return [turns]
    groups: dict[str, list[Turn]] = {}
    for turn in turns:
        groups.setdefault(prompt_key(turn.messages), []).append(turn)
    return list(groups.values())


def _answers(trace: DebateTrace, round_: int, options: StrategyOptions) -> list[Turn]:
    """The usable answers of a round (each one left out is counted, by its reason)."""
    return [t for t in trace.turns if t.round == round_ and t.kind in ("answer", "revision")
            and keep_turn(t, options)]


def _pair(trace: DebateTrace, chosen: Turn, rejected: Turn, name: str,
          scores: tuple[float, float], target: tuple[str | None, str], **extra: Any) -> Example:
    answer, source = target
    return Example(prompt=chosen.messages, chosen=chosen.raw, rejected=rejected.raw,
                   score_chosen=scores[0], score_rejected=scores[1],
                   margin=scores[0] - scores[1], answer=answer,
                   chosen_correct=turn_correct(trace, chosen),
                   metadata=provenance(trace, [chosen, rejected], name, source, **extra))


@strategy("gold")
def gold_pairs(traces: Iterable[DebateTrace], options: StrategyOptions) -> list[Example]:
    """Correct (chosen) vs incorrect (rejected) responses to the same prompt."""
    examples = []
    for trace in traces:
        q = trace.question
        if q.gold is None:
            drop("no-gold")
            continue
        for r in options.rounds:
            for group in _groups(_answers(trace, r, options), r):
                right: list[Turn] = []
                wrong: list[Turn] = []
                for turn in group:
                    (right if turn_correct(trace, turn) else wrong).append(turn)
                if not (right and wrong):
                    drop("no-disagreement")
                examples += [_pair(trace, c, w, "gold", (1.0, 0.0), (q.gold, "gold"),
                                   rejected_answer=w.answer)
                             for c, w in product(right, wrong)]
    return examples


@strategy("consensus")
def consensus_pairs(traces: Iterable[DebateTrace], options: StrategyOptions) -> list[Example]:
    """The final majority answer (chosen) vs minority answers (rejected), no labels needed."""
    examples = []
    for trace in traces:
        rounds = trace.rounds()
        if not rounds:
            drop("no-answers")
            continue
        counts, n = shares([t for t in rounds[-1] if labelled(t, options)])
        if not counts:
            drop("no-consensus")
            continue
        ranked = counts.most_common()
        top, top_votes = ranked[0]
        runner_up = ranked[1][1] if len(ranked) > 1 else 0
        if (len(ranked) > 1 and runner_up == top_votes  # a tie is no consensus
                or (top_votes - runner_up) / n < options.min_margin):
            drop("no-consensus")
            continue
        target = reward_target(trace, top, "consensus")
        for r in options.rounds:
            for group in _groups(_answers(trace, r, options), r):
                agree = [t for t in group if t.answer == top]
                disagree = [t for t in group if t.answer != top]
                if not (agree and disagree):
                    drop("no-disagreement")
                for c, w in product(agree, disagree):
                    scores = (top_votes / n, counts.get(w.answer, 0) / n if w.answer else 0.0)
                    examples.append(_pair(trace, c, w, "consensus", scores, target,
                                          consensus=top, votes=dict(counts)))
    return examples


@strategy("revision")
def revision_pairs(traces: Iterable[DebateTrace], options: StrategyOptions) -> list[Example]:
    """An agent's corrected last answer (chosen) vs its first answer (rejected)."""
    examples = []
    for trace in traces:
        rounds = trace.rounds()
        if len(rounds) < 2:
            drop("one-round")
            continue
        q = trace.question
        # majorities of the answers that may decide a label (no guess, no cut-off reply)
        first_counts, _ = shares([t for t in rounds[0] if labelled(t, options)])
        last_counts, _ = shares([t for t in rounds[-1] if labelled(t, options)])
        first_major = first_counts.most_common(1)[0][0] if first_counts else None
        last_major = last_counts.most_common(1)[0][0] if last_counts else None
        last_by_agent = {t.agent: t for t in rounds[-1]}
        for first in rounds[0]:
            last = last_by_agent.get(first.agent)
            if last is None:
                drop("not-revised")
                continue
            if not (keep_turn(first, options) and keep_turn(last, options)):
                continue
            if q.gold is not None:
                tolerance = q.numeric_tolerance
                improved = (not is_correct(first.answer, q.gold, q.task, tolerance)
                            and bool(is_correct(last.answer, q.gold, q.task, tolerance)))
            else:
                improved = (last.answer is not None and first.answer != first_major
                            and last.answer == last_major)
            if not improved:
                drop("not-revised")
            else:
                target, source = reward_target(trace, last_major, "consensus")
                ex = Example(prompt=first.messages, chosen=last.raw, rejected=first.raw,
                             score_chosen=1.0, score_rejected=0.0, margin=1.0, answer=target,
                             chosen_correct=turn_correct(trace, last),
                             metadata=provenance(trace, [last, first], "revision", source,
                                                 from_answer=first.answer,
                                                 to_answer=last.answer))
                examples.append(ex)
    return examples


@strategy("judge")
def judge_pairs(traces: Iterable[DebateTrace], options: StrategyOptions) -> list[Example]:
    """The side a moderator or judge picked (chosen) vs a side it rejected."""
    examples = []
    for trace in traces:
        final = trace.final
        if final.method not in JUDGED_METHODS:
            drop("not-judged")
            continue
        if final.answer is None:
            drop("no-final-answer")
            continue
        rounds = trace.rounds()
        if not rounds:
            drop("no-answers")
            continue
        if not options.allow_truncated and any(is_truncated(t) for t in _decision(trace)):
            drop("truncated")  # a verdict cut off at the token limit decides no label
            continue
        sides = [t for t in rounds[-1] if keep_turn(t, options)]
        picked = [t for t in sides if t.answer == final.answer]
        others = [t for t in sides if t.answer != final.answer]
        if not (picked and others):
            drop("no-disagreement")
        rationale = (final.details.get("rationale") or final.details.get("reason")
                     or final.details.get("rule"))
        target = reward_target(trace, final.answer, "judge")
        examples += [_pair(trace, c, w, "judge", (1.0, 0.0), target,
                           method=final.method, rationale=rationale)
                     for c, w in product(picked, others)]
    return examples


def _decision(trace: DebateTrace) -> list[Turn]:
    """The turns that made the final decision: the last round's verdicts or votes."""
    decisions = [t for t in trace.turns if t.kind in ("verdict", "vote")]
    last = max((t.round for t in decisions), default=None)
    return [t for t in decisions if t.round == last]


def _single(trace: DebateTrace, turn: Turn, name: str, label: bool,
            target: tuple[str | None, str | None], **extra: Any) -> Example:
    answer, source = target
    return Example(prompt=turn.messages, completion=turn.raw, label=label, answer=answer,
                   chosen_correct=turn_correct(trace, turn) if turn.kind != "critique" else None,
                   metadata=provenance(trace, [turn], name, source, role=turn.role, **extra))


@strategy("sft")
def sft_examples(traces: Iterable[DebateTrace], options: StrategyOptions) -> list[Example]:
    """Final-round answers that match a correct (or, without gold, consensus) final answer."""
    examples = []
    for trace in traces:
        rounds = trace.rounds()
        final = trace.final.answer
        if not rounds or final is None:
            drop("no-answers" if not rounds else "no-final-answer")
            continue
        q = trace.question
        if q.gold is not None and not final_correct(trace):
            drop("wrong-final")
            continue
        if q.gold is None and not labelled_majority(rounds[-1], final, options):
            drop("unlabelled-consensus")
            continue
        target = reward_target(trace, final, trace.final.method)
        for turn in rounds[-1]:
            if turn.answer == final and keep_turn(turn, options):
                examples.append(_single(trace, turn, "sft", True, target))
    return examples


@strategy("sft-critique")
def critique_examples(traces: Iterable[DebateTrace], options: StrategyOptions) -> list[Example]:
    """Critique and review turns, role-conditioned, as single completions."""
    examples = []
    for trace in traces:
        for turn in trace.turns:
            if turn.kind in ("critique", "review") and keep_turn(turn, options, labels=False):
                examples.append(_single(trace, turn, "sft-critique", True, (None, None),
                                        kind=turn.kind))
    return examples


SELF_PLAY_PROTOCOLS = {"debate-qa", "consultancy"}
"""Protocols whose best-of-N candidates (``best_of``) ``judge-preference`` pairs."""
_TIE = 1e-9
"""Ratings closer than this are a tie, and a gap this close to ``min_margin`` does not
exceed it (0.8 - 0.6 is 0.20000000000000007 in floating point)."""
PREFERENCE_EXPONENT = 2.25
"""The soft label's exponent: Arnesen et al.'s default reward (``RewardType.LOG_PROB``,
``multiplier`` 2.25): ``p_c**2.25 / (p_c**2.25 + p_r**2.25)``."""


def _candidate(turn: Turn) -> int:
    """A candidate's index at its point (traces before ``best_of``: its ``sample``)."""
    rating = JudgeRating.read(turn)
    if rating is not None and rating.candidate is not None:
        return rating.candidate
    mark = SampleMark.read(turn)
    return mark.sample if mark is not None and mark.sample is not None else 0


def _sampled_points(trace: DebateTrace) -> list[list[Turn]]:
    """The candidates of each point of a debate, by index, each list sharing one prompt.

    A candidate whose prompt differs from its point's first is left out with a warning:
    the pair would not be a preference between answers to one prompt.
    """
    points: dict[tuple[str, str], list[Turn]] = {}
    for turn in trace.turns:
        rating = JudgeRating.read(turn) if turn.kind == "argument" else None
        if rating is not None and rating.point is not None:
            points.setdefault((turn.agent, rating.point), []).append(turn)
    groups = []
    for (agent, point), turns in points.items():
        turns.sort(key=_candidate)
        first = prompt_key(turns[0].messages)
        same = []
        for turn in turns:
            if prompt_key(turn.messages) == first:
                same.append(turn)
            else:
                warnings.warn(f"trace {trace.id}: {agent}'s speech {turn.id} at point {point} "
                              f"has another prompt than {turns[0].id}; not paired",
                              stacklevel=3)
                drop("other-prompt")
        groups.append(same)
    return groups


def _preference(trace: DebateTrace, chosen: Turn, rejected: Turn, group: list[Turn],
                probes: dict[str, str], target: tuple[str | None, str]) -> Example:
    """A pair of candidates, scored by the judge's ratings (its probability on the answer)."""
    scores = (_rating(chosen), _rating(rejected))
    f = OversightSpeech.read(chosen)
    if f is None:
        raise ValueError(f"trace {trace.id}: candidate {chosen.id} has no seat (order, seat, "
                         "side)")
    powered = (scores[0] ** PREFERENCE_EXPONENT, scores[1] ** PREFERENCE_EXPONENT)
    return Example(
        prompt=chosen.messages, chosen=chosen.raw, rejected=rejected.raw,
        score_chosen=scores[0], score_rejected=scores[1], margin=scores[0] - scores[1],
        answer=target[0], chosen_correct=f.side == "correct",
        metadata=provenance(trace, [chosen, rejected], "judge-preference", target[1],
                            judge_p_own=list(scores), preference=powered[0] / sum(powered),
                            ratings=[_rating_of(t) for t in group],
                            seat=f.seat, side=f.side, defends=f.defends,
                            order=f.order, point=_point(chosen),
                            samples=[_candidate(chosen), _candidate(rejected)],
                            probes=[probes.get(chosen.id), probes.get(rejected.id)]))


def _rating_of(turn: Turn) -> float | None:
    """A candidate's rating by the judge (``None``: not rated, or not read)."""
    rating = JudgeRating.read(turn)
    return rating.judge_p_own if rating is not None else None


def _rated(turn: Turn) -> bool:
    """Whether the judge rated the candidate (one it did not is counted ``unrated``)."""
    if _rating_of(turn) is None:
        drop("unrated")
        return False
    return True


def _rating(turn: Turn) -> float:
    """A rated candidate's rating (:func:`_rating_of`, known to be there)."""
    value = _rating_of(turn)
    if value is None:
        raise ValueError(f"turn {turn.id!r} has no judge rating")
    return value


def _point(turn: Turn) -> str:
    """A candidate's point (``o{order}/r{round}/{seat}``)."""
    rating = JudgeRating.read(turn)
    return rating.point or "" if rating is not None else ""


def _ranked_pairs(scored: list[Turn], pairs: str) -> list[tuple[Turn, Turn]]:
    """(chosen, rejected) candidates: the best against the lowest-rated, or every pair."""
    if pairs == "all":
        return [(one, two) if _rating(one) >= _rating(two) else (two, one)
                for one, two in combinations(scored, 2)]
    if len(scored) < 2:
        return []
    best = max(scored, key=lambda t: (_rating(t), -_candidate(t)))  # the one that continued
    worst = min((t for t in scored if t is not best), key=lambda t: (_rating(t), -_candidate(t)))
    return [(best, worst)]


@strategy("judge-preference")
def judge_preference_pairs(traces: Iterable[DebateTrace],
                           options: StrategyOptions) -> list[Example]:
    """Per speech, the candidate the judge rated highest (chosen) vs the lowest-rated."""
    examples = []
    for trace in traces:
        if trace.protocol not in SELF_PLAY_PROTOCOLS:
            drop("not-self-play")
            continue  # speeches carry a ``point`` only as best-of-N candidates
        probes = {j.probe_of: t.id for t in trace.turns if t.step == "probe"
                  for j in [OversightJudgment.read(t)] if j is not None and j.probe_of is not None}
        target = reward_target(trace, trace.final.answer, "judge")
        for group in _sampled_points(trace):
            scored = [t for t in group if _rated(t) and keep_turn(t, options, labels=False)]
            for chosen, rejected in _ranked_pairs(scored, options.pairs):
                margin = _rating(chosen) - _rating(rejected)
                if chosen.raw == rejected.raw:  # nothing to prefer between identical texts
                    drop("identical")
                    continue
                if margin <= _TIE or margin - options.min_margin <= _TIE:
                    drop("too-close")
                    continue
                examples.append(_preference(trace, chosen, rejected, group, probes, target))
    return examples
