"""Replay recorded debates through debatelab and compare their structure.

Reference repositories publish their runs with every message each agent was
sent. Replaying one means: give each agent a scripted model that returns the
recorded replies in order, run the protocol on the recorded question, and
compare, call by call, *which recorded replies each call's messages contain*
(who saw what), the number of calls per agent, and where the debate stopped.
Content does not matter, only structure: prompts are our own wording.

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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from debate.agents.base import Agent
from debate.agents.debater import Debater
from debate.agents.mad import Affirmative, MadJudge, Moderator, Negative
from debate.agents.peer import PeerReviewer
from debate.models.types import Message
from debate.protocols.base import DebateProtocol
from debate.protocols.du import DuProtocol
from debate.protocols.mad import MadProtocol
from debate.protocols.peer_review import PeerReviewProtocol
from debate.testing.scripted import ScriptedModel
from debate.trace import DebateTrace, Question

__all__ = ["Replay", "replay_du", "replay_mad", "replay_peer_review", "seen_replies"]

Chat = Sequence[Mapping[str, str]]


def seen_replies(messages: Sequence[Mapping[str, str]] | Sequence[Message],
                 replies: Mapping[str, str]) -> set[str]:
    """The keys of ``replies`` whose text appears in ``messages``."""
    blob = "\n".join(m["content"] if isinstance(m, Mapping) else m.content for m in messages)
    return {key for key, text in replies.items() if text.strip() and text.strip() in blob}


@dataclass
class Replay:
    """How a recorded debate and its replay through debatelab compare."""

    trace: DebateTrace
    calls: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Agent -> (recorded calls, replayed calls)."""
    visibility: list[str] = field(default_factory=list)
    """Calls whose messages contain other recorded replies than the record's."""

    @property
    def conforms(self) -> bool:
        """Same calls per agent and the same replies seen by every call."""
        return not self.visibility and all(a == b for a, b in self.calls.values())


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
    for k, (theirs, ours) in enumerate(zip(recorded, model.calls, strict=False)):
        expected, got = seen_replies(theirs, replies), seen_replies(ours.messages, replies)
        if expected != got:
            replay.visibility.append(f"{agent} call {k}: record saw {sorted(expected)}, "
                                     f"replay saw {sorted(got)}")


async def _replay_group(record: Mapping[str, Any], protocol: DebateProtocol,
                        role: type[Agent]) -> Replay:
    chats: list[Chat] = record["agent_contexts"]
    names = [f"agent-{i}" for i in range(len(chats))]
    replies = {f"{name}#{k}": text for name, chat in zip(names, chats, strict=True)
               for k, text in enumerate(_replies(chat))}
    models = {name: _recorded(_replies(chat), name)
              for name, chat in zip(names, chats, strict=True)}
    agents = [role(name, models[name]) for name in names]
    trace = await protocol.run(Question(id="replay", text=str(record["question"])), agents)
    replay = Replay(trace)
    for name, chat in zip(names, chats, strict=True):
        _compare(replay, name, _contexts(chat), models[name], replies)
    return replay


async def replay_peer_review(record: Mapping[str, Any], **options: Any) -> Replay:
    """Replay one peer-review record (``agent_contexts``) through ``peer-review``."""
    protocol = PeerReviewProtocol(agents=len(record["agent_contexts"]), **options)
    return await _replay_group(record, protocol, PeerReviewer)


async def replay_du(record: Mapping[str, Any], **options: Any) -> Replay:
    """Replay one Du et al. debate record (``agent_contexts``) through ``du``.

    Its debate rounds are the recorded replies per agent, less the initial answer.
    """
    chats = record["agent_contexts"]
    rounds = len(_replies(chats[0])) - 1
    protocol = DuProtocol(agents=len(chats), rounds=rounds, **options)
    return await _replay_group(record, protocol, Debater)


_MAD_PLAYERS = {"affirmative": "Affirmative side", "negative": "Negative side",
                "moderator": "Moderator", "judge": "Judge"}


async def replay_mad(record: Mapping[str, Any], rounds: int | None = None,
                     base_exchange: bool = True, **options: Any) -> Replay:
    """Replay one MAD record (``players``) through ``mad``.

    ``rounds``: default, the recorded rounds when the record ended with the judge
    (it ran out of rounds), else 4, the limit of the published runs.
    ``base_exchange``: the affirmative's first recorded reply is a baseline
    translation outside the debate (the translation records), not replayed.
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
    trace = await MadProtocol(rounds=rounds, **options).run(
        Question(id="replay", text=text), agents)
    replay = Replay(trace)
    for agent, chat in chats.items():
        _compare(replay, agent, _contexts(chat, skip.get(agent, 0)), models[agent], replies)
    return replay
