"""Replay recorded debates through debatelab and compare their structure.

Reference repositories publish their runs with every message each agent was
sent. Replaying one means: give each agent a scripted model that returns the
recorded replies in order, run the protocol on the recorded question, and
compare the two, call by call. Content does not matter, only structure:
prompts are our own wording, so a call is read as the *layout* of the recorded
replies in it -- every recorded reply it carries, in order, with the role of
the message that carries it and which of those messages carry it together.

What is compared (each difference is a :class:`Mismatch` of one kind):

- ``calls``: the number of calls per agent;
- per call, ``missing`` / ``unexpected``: a recorded reply the record shows and
  the replay does not, or the other way round; ``repeated``: shown more often;
  ``role``: carried by a message of another role (a previous reply of the agent's
  own sent as ``user`` instead of ``assistant``); ``order``: the replies shown in
  another order; ``grouping``: the same order, split into messages differently;
- ``final-answer``: the debate's final answer against the record's (see
  :func:`replay_du` and :func:`replay_mad` for where a record keeps it).

Identical recorded texts are one reply (named ``agent-0#1=agent-2#0``); a reply
inside a longer one is only counted where it stands alone (longest match first).

Two record layouts are read (field names only; no recorded text ships here):

- peer review and Du et al. debate (Xu et al., HITsz-TMG/Multi-agent-peer-review
  ``result/<Task>/*_peer_review_*.json`` and ``*_debate_*.json``): a list of
  ``{"question", "answer", "agent_contexts": [[{"role", "content"}, ...], ...]}``
- MAD (Liang et al., Skytliang/Multi-Agents-Debate ``MAD_Debate_Process/``):
  ``{"players": {"Affirmative side": [...], "Negative side": [...],
  "Moderator": [...], "Judge": [...]}, ...}`` (a system message first; the
  translation records' affirmative starts with a base-translation exchange).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from debate.agents.base import Agent
from debate.agents.debater import Debater
from debate.agents.mad import Affirmative, MadJudge, Moderator, Negative
from debate.agents.peer import PeerReviewer
from debate.models.types import Message
from debate.protocols.base import DebateProtocol
from debate.protocols.du import DuProtocol
from debate.protocols.mad import MadProtocol
from debate.protocols.peer_review import PeerReviewProtocol
from debate.scoring import extract_answer, extract_field
from debate.testing.scripted import ScriptedModel
from debate.trace import DebateTrace, Question, TaskType

__all__ = ["Mismatch", "MismatchKind", "Replay", "Sighting", "compare_layouts", "layout",
           "replay_du", "replay_mad", "replay_peer_review", "seen_replies"]

Chat = Sequence[Mapping[str, str]]
Messages = Sequence[Mapping[str, str]] | Sequence[Message]

MismatchKind = Literal["calls", "missing", "unexpected", "repeated", "role", "order",
                       "grouping", "final-answer"]
"""The ways a replay can differ from its record (see the module docstring)."""


@dataclass(frozen=True)
class Sighting:
    """One recorded reply seen in a call."""

    reply: str
    """The reply's key, e.g. ``agent-1#0`` (its agent and index among its replies); the
    keys of identical replies joined by ``=``."""
    role: str
    """The role of the message that carries it: ``system``, ``user`` or ``assistant``."""
    message: int
    """Which of the call's messages carrying recorded replies carries it (0, 1, ...)."""


@dataclass(frozen=True)
class Mismatch:
    """One way a replay differs from its record."""

    kind: MismatchKind
    """What differs."""
    agent: str
    """The agent whose calls differ (``debate`` for the final answer)."""
    call: int | None
    """The agent's call (0-based) where it differs; ``None`` for ``calls``/``final-answer``."""
    detail: str
    """Record against replay, in words."""

    def __str__(self) -> str:
        where = self.agent if self.call is None else f"{self.agent} call {self.call}"
        return f"{where}: {self.kind}: {self.detail}"


@dataclass
class Replay:
    """How a recorded debate and its replay through debatelab compare."""

    trace: DebateTrace
    """The replay's trace."""
    calls: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Agent -> (recorded calls, replayed calls)."""
    mismatches: list[Mismatch] = field(default_factory=list)
    """Every difference, agent by agent and call by call, the final answer last."""
    final: tuple[str | None, str | None] | None = None
    """(recorded, replayed) final answer; ``None`` when the record states none."""

    @property
    def conforms(self) -> bool:
        """No mismatch of any kind."""
        return not self.mismatches

    def of_kind(self, kind: MismatchKind) -> list[Mismatch]:
        """The mismatches of one kind."""
        return [m for m in self.mismatches if m.kind == kind]

    @property
    def kinds(self) -> set[MismatchKind]:
        """The kinds of mismatch found."""
        return {m.kind for m in self.mismatches}


def _content(message: Mapping[str, str] | Message) -> tuple[str, str]:
    if isinstance(message, Message):
        return message.role, message.content
    return message["role"], message["content"]


def _texts(replies: Mapping[str, str]) -> list[tuple[str, str]]:
    """(stripped text, its keys joined by ``=``) per distinct non-empty text, longest first."""
    keys: dict[str, list[str]] = {}
    for key, text in replies.items():
        if text.strip():
            keys.setdefault(text.strip(), []).append(key)
    return sorted(((text, "=".join(k)) for text, k in keys.items()), key=lambda t: -len(t[0]))


def _find(content: str, texts: Sequence[tuple[str, str]]) -> list[tuple[int, str]]:
    """(offset, key) of the recorded texts in ``content``: longest first, never overlapping."""
    taken: list[tuple[int, int]] = []
    found: list[tuple[int, str]] = []
    for text, key in texts:
        start = content.find(text)
        while start != -1:
            end = start + len(text)
            if all(end <= a or start >= b for a, b in taken):
                taken.append((start, end))
                found.append((start, key))
                start = content.find(text, end)
            else:
                start = content.find(text, start + 1)
    return sorted(found)


def layout(messages: Messages, replies: Mapping[str, str]) -> list[Sighting]:
    """The recorded replies that ``messages`` carry, in order, with role and message."""
    texts = _texts(replies)
    seen: list[Sighting] = []
    carrying = 0
    for message in messages:
        role, content = _content(message)
        found = _find(content, texts)
        seen += [Sighting(key, role, carrying) for _, key in found]
        carrying += bool(found)
    return seen


def seen_replies(messages: Messages, replies: Mapping[str, str]) -> set[str]:
    """The keys of ``replies`` whose text ``messages`` carry (identical texts: ``a=b``)."""
    return {s.reply for s in layout(messages, replies)}


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def _common(seen: Sequence[Sighting], keep: Counter[str]) -> list[Sighting]:
    """The first ``keep[key]`` sightings of each key, in order."""
    count: Counter[str] = Counter()
    kept = []
    for s in seen:
        count[s.reply] += 1
        if count[s.reply] <= keep[s.reply]:
            kept.append(s)
    return kept


def _groups(seen: Sequence[Sighting]) -> list[list[str]]:
    groups: dict[int, list[str]] = {}
    for s in seen:
        groups.setdefault(s.message, []).append(s.reply)
    return list(groups.values())


def compare_layouts(recorded: Sequence[Sighting],
                    replayed: Sequence[Sighting]) -> list[tuple[MismatchKind, str]]:
    """The differences between a recorded call's layout and its replay's, by kind."""
    found: list[tuple[MismatchKind, str]] = []
    theirs = Counter(s.reply for s in recorded)
    ours = Counter(s.reply for s in replayed)
    for key in dict.fromkeys([s.reply for s in recorded] + [s.reply for s in replayed]):
        r, p = theirs[key], ours[key]
        if p < r:
            found.append(("missing", f"{key} recorded {_times(r)}, "
                                     f"replayed {_times(p) if p else 'never'}"))
        elif r == 0:
            found.append(("unexpected", f"{key} replayed {_times(p)}, never recorded"))
        elif p > r:
            found.append(("repeated", f"{key} recorded {_times(r)}, replayed {_times(p)}"))
    keep = theirs & ours
    a, b = _common(recorded, keep), _common(replayed, keep)
    for key in keep:
        roles_a = [s.role for s in a if s.reply == key]
        roles_b = [s.role for s in b if s.reply == key]
        for x, y in zip(roles_a, roles_b, strict=True):
            if x != y:
                found.append(("role", f"{key} sent as {y}, recorded as {x}"))
    order_a, order_b = [s.reply for s in a], [s.reply for s in b]
    if order_a != order_b:
        found.append(("order", f"recorded {', '.join(order_a)}; replayed {', '.join(order_b)}"))
    elif _groups(a) != _groups(b):
        found.append(("grouping", f"recorded messages {_groups(a)}; replayed {_groups(b)}"))
    return found


def _recorded(replies: list[str], name: str) -> ScriptedModel:
    """A model replying the recorded replies in order, then nothing (an empty reply).

    A replay that asks for more calls than the record made shows in the call counts.
    """
    queue = list(replies)
    return ScriptedModel(lambda messages, params: queue.pop(0) if queue else "", name=name)


def _replies(chat: Chat, skip: int = 0) -> list[str]:
    return [m["content"] for m in chat if m["role"] == "assistant"][skip:]


def _contexts(chat: Chat, skip: int = 0) -> list[list[Mapping[str, str]]]:
    """The messages before each recorded reply (from the ``skip``-th on)."""
    found = [list(chat[:i]) for i, m in enumerate(chat) if m["role"] == "assistant"]
    return found[skip:]


def _compare(replay: Replay, agent: str, recorded: list[list[Mapping[str, str]]],
             model: ScriptedModel, replies: Mapping[str, str]) -> None:
    replay.calls[agent] = (len(recorded), len(model.calls))
    if len(recorded) != len(model.calls):
        replay.mismatches.append(Mismatch("calls", agent, None, f"recorded {len(recorded)}, "
                                                                f"replayed {len(model.calls)}"))
    for k, (theirs, ours) in enumerate(zip(recorded, model.calls, strict=False)):
        for kind, detail in compare_layouts(layout(theirs, replies),
                                            layout(ours.messages, replies)):
            replay.mismatches.append(Mismatch(kind, agent, k, detail))


def _compare_final(replay: Replay, recorded: str | None) -> None:
    replay.final = (recorded, replay.trace.final.answer if replay.trace.final else None)
    if replay.final[0] != replay.final[1]:
        replay.mismatches.append(Mismatch("final-answer", "debate", None,
                                          f"recorded {recorded!r}, replayed {replay.final[1]!r}"))


def _reference_vote(answers: Sequence[str | None]) -> str | None:
    """The reference's vote: the most frequent parsed answer, the earliest among ties."""
    valid = [a for a in answers if a is not None]
    return max(valid, key=valid.count) if valid else None


async def _replay_group(record: Mapping[str, Any], protocol: DebateProtocol,
                        role: type[Agent], task: TaskType) -> Replay:
    chats: list[Chat] = record["agent_contexts"]
    names = [f"agent-{i}" for i in range(len(chats))]
    replies = {f"{name}#{k}": text for name, chat in zip(names, chats, strict=True)
               for k, text in enumerate(_replies(chat))}
    models = {name: _recorded(_replies(chat), name)
              for name, chat in zip(names, chats, strict=True)}
    agents = [role(name, models[name]) for name in names]
    question = Question(id="replay", text=str(record["question"]), task=task)
    replay = Replay(await protocol.run(question, agents))
    for name, chat in zip(names, chats, strict=True):
        _compare(replay, name, _contexts(chat), models[name], replies)
    last = [extract_answer(_replies(chat)[-1], task) for chat in chats if _replies(chat)]
    _compare_final(replay, _reference_vote(last))
    return replay


async def replay_peer_review(record: Mapping[str, Any], task: TaskType = "exact",
                             **options: Any) -> Replay:
    """Replay one peer-review record (``agent_contexts``) through ``peer-review``.

    The final answer is compared as in :func:`replay_du`.
    """
    protocol = PeerReviewProtocol(agents=len(record["agent_contexts"]), **options)
    return await _replay_group(record, protocol, PeerReviewer, task)


async def replay_du(record: Mapping[str, Any], task: TaskType = "exact",
                    **options: Any) -> Replay:
    """Replay one Du et al. debate record (``agent_contexts``) through ``du``.

    Its debate rounds are the recorded replies per agent, less the initial answer.
    The record keeps no final answer (its ``answer`` is the gold): the recorded
    one is the reference's vote (its ``eval.py``) over every agent's last reply,
    each read by debatelab's extractor for ``task``.
    """
    chats = record["agent_contexts"]
    rounds = len(_replies(chats[0])) - 1
    protocol = DuProtocol(agents=len(chats), rounds=rounds, **options)
    return await _replay_group(record, protocol, Debater, task)


_MAD_PLAYERS = {"affirmative": "Affirmative side", "negative": "Negative side",
                "moderator": "Moderator", "judge": "Judge"}
_MAD_FINAL = ("debate translation", "debate_translation", "debate_answer")
"""Where a MAD record keeps its final answer (published translation runs, the code's)."""


async def replay_mad(record: Mapping[str, Any], rounds: int | None = None,
                     base_exchange: bool = True, task: TaskType = "exact",
                     **options: Any) -> Replay:
    """Replay one MAD record (``players``) through ``mad``.

    ``rounds``: default, the recorded rounds when the record ended with the judge
    (it ran out of rounds), else 4, the limit of the published runs.
    ``base_exchange``: the affirmative's first recorded reply is a baseline
    translation outside the debate (the translation records), not replayed.
    The recorded final answer is the record's ``debate translation`` (or
    ``debate_translation``, ``debate_answer``), read as an answer field for
    ``task``; a record without one has no final answer compared.
    """
    players: Mapping[str, Chat] = record["players"]
    if rounds is None:
        judged = bool(players.get("Judge"))
        rounds = len(_replies(players.get("Moderator", []))) if judged else 4
    skip = {"affirmative": 1 if base_exchange else 0}
    chats = {agent: players.get(key, []) for agent, key in _MAD_PLAYERS.items()}
    replies = {f"{agent}#{k}": text for agent, chat in chats.items()
               for k, text in enumerate(_replies(chat, skip.get(agent, 0)))}
    models = {agent: _recorded(_replies(chat, skip.get(agent, 0)), agent)
              for agent, chat in chats.items()}
    text = str(record.get("source") or record.get("question") or "the debate topic")
    agents = [Affirmative("affirmative", models["affirmative"]),
              Negative("negative", models["negative"]),
              Moderator("moderator", models["moderator"]), MadJudge("judge", models["judge"])]
    replay = Replay(await MadProtocol(rounds=rounds, **options).run(
        Question(id="replay", text=text, task=task), agents))
    for agent, chat in chats.items():
        _compare(replay, agent, _contexts(chat, skip.get(agent, 0)), models[agent], replies)
    key = next((k for k in _MAD_FINAL if k in record), None)
    if key is not None:
        _compare_final(replay, extract_field(record[key], task).answer)
    return replay
