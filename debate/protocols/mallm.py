"""What MALLM's discussion protocols share: turns, the vote schedule, the graph, call counts.

Kaesberg et al. (2025), "Voting or Consensus? Decision-Making in Multi-Agent Debate"
(ACL Findings 2025), run with MALLM (``Multi-Agent-LLMs/mallm`` @ d9e66bc). A
discussion runs turn after turn, at most ``turns`` (MALLM ``max_turns`` 10,
``utils/config.py:24``; ``paradigm.py:49-51``), until the decision rule decides:

- a voting rule decides at the end of every turn from turn ``vote_turn`` on (MALLM:
  ``vote_turn = 3``, no decision while ``turn < vote_turn`` or before the turn's last
  agent spoke: ``simple_voting.py:27,43-44``); a tie decides nothing and the discussion
  goes on to another turn and another vote; a tie at the last turn leaves no answer.
- the summarising judge (``decision: judge``) decides once, at the end of turn
  ``vote_turn`` (``judge.py:26,43``), whatever the summary says: MALLM's judge always
  agrees (``judge.py:81``: ``agreed=True``; ``:94-95`` returns ``True``), so a summary
  with no readable answer ends the discussion too (``decided``, no answer, the judge's
  reason). ``max_calls()`` is then ``N x vote_turn + 1``.
- a consensus rule is the protocol's own to check (:mod:`~debate.protocols.
  all_agents_drafting` checks it after every agent); ``vote_turn`` does not apply to it
  and an explicitly given one is refused.

Each ballot opens with MALLM's role line, the system message ``Your role: Participant n
(A participant of the discussion.)`` (``ResponseGenerator.py:349-354`` with
``NoPersonaGenerator.py:25-28``; :meth:`MallmProtocol.ballot_roles`).

Round ``r`` in the trace is MALLM's turn ``r + 1``: turn ``vote_turn`` is round
``vote_turn - 1``. Stop reasons: ``decided`` (a vote or summary decided),
``consensus`` (a consensus rule was reached), ``max_rounds`` (the last turn ended
undecided; the rule's fallback, if any, answers).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, model_validator

from debate.judges.base import MemberJudge
from debate.judges.voting import DECISIONS, SummaryJudge
from debate.protocols.base import DebateContext, DebateState, GroupProtocol, JudgedConfig
from debate.trace import Turn

if TYPE_CHECKING:
    from langgraph.graph import StateGraph
    from langgraph.runtime import Runtime

__all__ = ["MallmConfig", "MallmProtocol", "default_decision"]


def default_decision(data: Any, default: str, allowed: tuple[str, ...], protocol: str,
                     why: str) -> Any:
    """``data`` with ``decision`` set to ``default`` when absent, refusing what MALLM refuses.

    A ``decision`` outside ``allowed`` (``None`` included) or a ``judge`` other than the
    decision's own is an error naming ``why``.
    """
    if not isinstance(data, dict):
        return data
    decision = data.get("decision", default)
    if decision not in allowed:
        raise ValueError(f"{protocol} decides by {why}: decision {decision!r} is not one of "
                         f"{', '.join(allowed)}")
    own = DECISIONS[decision][0]
    if data.get("judge", own) != own:
        raise ValueError(f"{protocol} decides by its decision rule, and judge {data['judge']!r} "
                         f"is not the judge of decision {decision!r} ({own!r}): give decision: "
                         f"(one of {', '.join(allowed)}) instead")
    return {**data, "decision": decision}


class MallmConfig(JudgedConfig):
    """Options MALLM's discussion protocols share (defaults: MALLM's)."""

    agents: int = Field(3, ge=1, le=1000)
    """Number of agents (MALLM ``num_agents`` 3, ``utils/config.py:34``)."""
    turns: int = Field(10, ge=1, le=1000)
    """Most turns (MALLM ``max_turns`` 10, ``utils/config.py:24``); each agent speaks
    once a turn."""
    vote_turn: int = Field(3, ge=1, le=1000)
    """The first turn (from 1) that ends with a vote or summary (MALLM ``vote_turn`` 3,
    ``simple_voting.py:27``); at most ``turns``. Only for voting rules and the summary: a
    consensus rule does not wait for it, and giving it with one is refused."""
    chain_of_thought: bool = True
    """End every agent call with "Let's think step by step." (MALLM
    ``use_chain_of_thought`` True, ``utils/config.py:33``)."""

    @model_validator(mode="after")
    def _a_vote_is_held(self) -> MallmConfig:
        if self.judge == "consensus":
            if "vote_turn" in self.model_fields_set:
                raise ValueError(f"vote_turn applies only to voting rules and judge, and "
                                 f"decision {self.decision!r} is a consensus rule (checked "
                                 f"after every agent): leave vote_turn out")
        elif self.vote_turn > self.turns:
            raise ValueError(f"vote_turn {self.vote_turn} comes after the last turn (turns "
                             f"{self.turns}): no vote would ever be held: give vote_turn <= "
                             f"{self.turns}")
        return self


class MallmProtocol(GroupProtocol[MallmConfig]):
    """A MALLM discussion: ``turn`` nodes, and a ``vote`` node at the end of voting turns."""

    paper = ("Kaesberg et al. 2025, Voting or Consensus? Decision-Making in Multi-Agent "
             "Debate (ACL Findings 2025), as MALLM runs it")
    member_role: ClassVar[str] = "improver"

    def personas(self) -> dict[str, str]:
        """Each member's persona name (MALLM without personas: ``Participant 1``...)."""
        from debate.agents.mallm import no_persona

        return {name: no_persona(i) for i, name in enumerate(self.member_names())}

    def ballot_roles(self) -> dict[str, str]:
        """Each voter's role on its ballot: its persona and MALLM's persona-less description.

        MALLM's ballots open with the system message ``Your role: {persona}
        ({persona_description})`` (``ResponseGenerator.py:349-354``); without personas
        ``Participant n (A participant of the discussion.)`` (``NoPersonaGenerator.py:
        25-28``).
        """
        from debate.agents.mallm import NO_PERSONA_DESCRIPTION

        return {name: f"{persona} ({NO_PERSONA_DESCRIPTION})"
                for name, persona in self.personas().items()}

    def votes(self) -> bool:
        """True when the decision rule asks the agents (a vote, a summary) after turns."""
        return isinstance(self.judge, MemberJudge)

    def summarises(self) -> bool:
        """True when the summarising judge decides (once, at the end of turn ``vote_turn``)."""
        return isinstance(self.judge, SummaryJudge)

    def decisions(self) -> int:
        """Most votes one discussion holds: one a turn from ``vote_turn`` (a summary: 1)."""
        if not self.votes():
            return 0
        return 1 if self.summarises() else self.config.turns - self.config.vote_turn + 1

    def max_calls(self) -> int:
        """N x turns + (turns - vote_turn + 1) x the rule's calls (N x attempts to vote).

        The summary ends the discussion at turn ``vote_turn``: N x vote_turn + 1.
        """
        turns = self.config.vote_turn if self.summarises() else self.config.turns
        return self.config.agents * turns + self.decisions() * self.judge_calls()

    def recursion_limit(self) -> int:
        """A turn node and a vote node per turn, plus slack."""
        return 2 * self.config.turns + 5

    def candidates(self, state: DebateState) -> list[Turn]:
        """The solutions the rule decides over at the end of the last round (one per agent)."""
        r, members = state["round"], set(self.member_names())
        return [t for t in state["turns"] if t.round == r and t.kind == "answer"
                and t.agent in members]

    async def vote(self, state: DebateState, runtime: Runtime[DebateContext]) -> dict[str, Any]:
        """The rule's vote (or summary) on the last turn's solutions; a tie goes on.

        A summary decides whatever it says (MALLM's judge always agrees, ``judge.py:81,
        94-95``): an unreadable one ends the discussion with no answer.
        """
        result = await self.conclude(state, runtime, self.candidates(state))
        if self.summarises() or result["final"].details.get("decided"):
            stop: str | None = "decided"
        elif state["round"] + 1 >= self.config.turns:
            stop = "max_rounds"
        else:
            stop = None
        return {**result, "stop_reason": stop}

    def graph(self) -> StateGraph[Any, Any, Any, Any]:
        """``turn``, then ``vote`` at the end of each turn from ``vote_turn``, until decided."""
        from langgraph.graph import END, START, StateGraph

        g = StateGraph(DebateState, context_schema=DebateContext)
        g.add_node("turn", self.turn)
        g.add_node("vote", self.vote)

        def after_turn(state: DebateState) -> str:
            if state["stop_reason"]:
                return END
            voting = self.votes() and state["round"] + 1 >= self.config.vote_turn
            return "vote" if voting else "turn"

        def after_vote(state: DebateState) -> str:
            return END if state["stop_reason"] else "turn"

        g.add_edge(START, "turn")
        g.add_conditional_edges("turn", after_turn, ["turn", "vote", END])
        g.add_conditional_edges("vote", after_vote, ["turn", END])
        return g

    async def turn(self, state: DebateState, runtime: Runtime[DebateContext]) -> dict[str, Any]:
        """One turn: every agent speaks once. Subclasses implement it."""
        raise NotImplementedError
