"""Best-of-N speeches of the oversight protocols (Khan et al. 2024; Arnesen et al. 2024).

With ``best_of: k`` > 1, at every point of a debate (one seat's speech of one round
in one order) k speeches are sampled from the one prompt, each its own call (sample
``i`` > 0 runs as sampler ``...#s{i}``). The preference judge rates each: it is
shown the debate before this round (every speech and question the speaker was part
of), then this round's speeches, seat A first: the candidate and, in debate, an
opponent's speech chosen by ``best_of_opponent``. A candidate's rating is the judge's
probability on the candidate's answer (``best_of_judge``: read from the letter's
log-probabilities, or stated). The highest-rated continues the debate (a tie goes to
the lower index; an unreadable rating ranks below every read one; with none read the
first continues). The others stay in the trace as samples and no later call, probe
or export prompt sees them.

Fields: every candidate has ``point`` (``o{order}/r{round}/{seat}``), ``candidate``
(its index) and ``judge_p_own`` (its rating, ``None`` when unreadable); a sample left
behind also has ``sample`` (its index); the speech that continued has ``ratings``
(every candidate's, by index). Each rating is a judge turn of step ``probe`` with
``probe_of`` (the candidate's id) and ``candidate``. An opponent sampled for the
ratings (``best_of_opponent: sampled``) is an argument with ``sample`` (index k) and
``opponent_for`` (the seat whose candidates it faced), seen by those ratings alone.

The references. Khan et al. (ucl-dark/llm_debate, ``DebaterQuality.judge_preference``
and ``JudgeQuality.get_argument_rating``): k completions, each truncated as it would be
shown and rated by the preference judge (``judge/debate/preference.yaml``: "Respond
with only A or B", log-probabilities) on the transcript whose last round holds the
candidate and, for a debater, :data:`DUMMY_SPEECH` in the opponent's place (also
where a sequential debater read the real one); the highest rating continues. Its
rating is the side letter's log-probability, here the probability normalised over
the two letters: the same ranking unless much probability falls on other tokens.
Arnesen et al. (nyu-debate-modeling, ``BestOfNDebater``): n speeches of round one,
each judged beside ``opponent_n`` speeches sampled from the opponent at the same
point (or alone with ``opponent_n: 0``), scored by the judge's probability for the
speaker; ``opponent_n: 1`` is ``best_of_opponent: sampled``, 0 is ``none``
(``opponent_n`` > 1 and ``maxmin`` are not offered).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from debate.agents.oversight import Speech
from debate.agents.oversight_judge import JudgeVerdict
from debate.errors import ConfigError
from debate.protocols.base import DebateContext, gather_all
from debate.protocols.oversight_records import JudgeRating, SampleMark, speech_seat
from debate.scoring.verdicts import LABELS, NO_LOGPROBS
from debate.trace import Question, Turn

if TYPE_CHECKING:
    from langgraph.runtime import Runtime

    from debate.protocols.oversight import Order, _Speeches
    from debate.protocols.oversight_config import SpeechConfig

__all__ = ["DUMMY_SPEECH", "BestOfOpponent", "best_of", "best_of_opponent_calls"]





def _parse_error(turn: Turn) -> str | None:
    """Why a judge's verdict could not be read (``None``: it was, or the call failed)."""
    verdict = JudgeVerdict.read(turn)
    return verdict.parse_error if verdict is not None else None


DUMMY_SPEECH = "My answer is the best choice and my opponent is wrong."
"""The opponent's speech the reference's preference judge sees beside a candidate
(``JudgeQuality.get_argument_rating``'s ``dummy_answer``)."""

BestOfOpponent = Literal["dummy", "spoken", "sampled", "none"]
"""What the preference judge sees as the opponent's speech of the round (see
``SpeechConfig.best_of_opponent``)."""

_NAMES = {"debater-a": "Debater A", "debater-b": "Debater B", "consultant": "Consultant"}


def best_of_opponent_calls(config: SpeechConfig, speakers: int, sequential: bool) -> int:
    """Per order, the calls that sample an opponent for the ratings (``sampled``).

    One per seat and round, except where the seat read its opponent's speech of the
    round (sequential moves: debater B from round 2), whose candidates face that one.
    """
    if config.best_of == 1 or speakers < 2 or config.best_of_opponent != "sampled":
        return 0
    return config.rounds * speakers - ((config.rounds - 1) if sequential else 0)


async def _opponent(protocol: _Speeches[Any], q: Question, line: Sequence[Turn], r: int,
                    order: Order, label: str, runtime: Runtime[DebateContext]
                    ) -> tuple[Speech | None, list[Turn]]:
    """The opponent's speech the ratings of ``label``'s candidates show, and any call made."""
    mode = protocol.config.best_of_opponent
    others = [other for other in order.speakers if other != label]
    if not others or mode == "none":
        return None, []
    other = others[0]
    name = order.speakers[other]
    passage = q.context or ""
    read = [t for t in line if t.round == r and t.kind == "argument"
            and speech_seat(t) == other and protocol.reads(r, label, t)]
    if read and mode in ("spoken", "sampled"):
        return protocol.shown(read[-1], passage), []
    if mode != "sampled":
        return Speech(_NAMES.get(name, name), r, DUMMY_SPEECH), []
    agent = runtime.context.agent(name)
    before = [t for t in line if t.round < r]  # what the opponent had read at this point
    k = protocol.config.best_of
    view = protocol.speech_view(q, before, r, order, other, agent, sample=k,
                                tag=f"o{order.index}/for{label}")
    turn = protocol.record(await agent.act(view), q, order, other)
    SampleMark(sample=k, opponent_for=label).write(turn.fields)
    return protocol.shown(turn, passage), [turn]


async def best_of(protocol: _Speeches[Any], q: Question, line: Sequence[Turn], r: int,
                  order: Order, label: str, speeches: Sequence[Turn],
                  runtime: Runtime[DebateContext]) -> list[Turn]:
    """Rate ``speeches`` (one point's candidates) and keep the best: the turns to record.

    The speech that continues comes first, then the samples left behind, any opponent
    sampled for the ratings, and the ratings (judge turns of step ``probe``).
    """
    passage = q.context or ""
    point = f"o{order.index}/r{r}/{label}"
    earlier = [t for t in line if t.round < r and t.kind in ("argument", "question")]
    opponent, sampled = await _opponent(protocol, q, line, r, order, label, runtime)

    def this_round(speech: Turn) -> list[Speech]:
        shown = {label: protocol.shown(speech, passage)}
        if opponent is not None:
            shown[LABELS[1 - LABELS.index(label)]] = opponent
        return [shown[seat] for seat in LABELS if seat in shown]

    judge = runtime.context.agent("judge")
    probes = await gather_all([
        judge.act(protocol.judge_view(q, order, [*earlier, *this_round(s)], "probe", r,
                                      f"{point}/s{i}",
                                      judge_format=protocol.config.best_of_judge))
        for i, s in enumerate(speeches)])
    if protocol.config.best_of_judge == "logprobs" and all(
            _parse_error(p) == NO_LOGPROBS for p in probes):
        raise ConfigError(f"best_of_judge: logprobs rates candidates by the judge's "
                          f"log-probabilities, and its model ({judge.model.name}) returned "
                          "none: serve it where log-probabilities are returned, or set "
                          "best_of_judge: probabilities")
    ratings: list[float | None] = []
    for i, (speech, probe) in enumerate(zip(speeches, probes, strict=True)):
        protocol.scored(probe, order, candidate=i, probe_of=speech.id, seat=label)
        verdict = JudgeVerdict.read(probe)
        probs = verdict.probabilities if verdict is not None else None
        rating = None if probs is None else float(probs[label])
        JudgeRating(point=point, candidate=i, judge_p_own=rating).write(speech.fields)
        ratings.append(rating)
    best = max(range(len(speeches)),
               key=lambda i: (ratings[i] is not None, ratings[i] or 0.0, -i))
    speeches[best].fields["ratings"] = ratings
    left = [s for i, s in enumerate(speeches) if i != best]
    for i, speech in enumerate(speeches):
        if i != best:
            SampleMark(sample=i).write(speech.fields)
    return [speeches[best], *left, *sampled, *probes]
