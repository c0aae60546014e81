"""``all-agents-drafting``: MALLM's memory discussion, All-Agents Drafting (Kaesberg et al. 2025).

"Voting or Consensus? Decision-Making in Multi-Agent Debate" (ACL Findings 2025), as
MALLM runs it (``Multi-Agent-LLMs/mallm`` @ d9e66bc): the default ``memory`` paradigm
(``discussion_paradigms/paradigm.py:32-151``, ``memory.py``) with
``all_agents_generate_first_draft`` on (``utils/config.py:48``; MALLM does not name the
switch of the paper's "AAD": the mapping is inferred from its name).

Algorithm (N agents in seat order, at most ``turns`` turns):

1. Turn 1: every agent drafts on its own: no current draft, no discussion
   (``paradigm.py:62-66``), "Propose a solution." (``SimpleResponseGenerator.py:76-80``)
   after MALLM's system message (:class:`~debate.agents.mallm.Panelist`), then "Let's
   think step by step.". The agents speak one after another (MALLM's loop,
   ``paradigm.py:55``), as a decision may end the turn before the last speaks.
2. Turn t >= 2: the agents speak in order; each is shown the current draft ("Current
   Solution: ...") and the whole discussion so far, earlier turns and this turn's
   earlier speakers (its own messages as ``assistant``, the others' as ``user``
   "{persona}: {message}": ``agents/agent.py:212-231,271-284``; MALLM's
   ``visible_turns_in_memory`` limits nothing), then "Improve the current solution. If
   you agree with the current solution, answer with [AGREE], else answer with
   [DISAGREE] and explain why and provide an improved solution."
3. Agreement (every message, turn 1 included, as MALLM): a reply agrees when it holds
   "agree" and not "disagree", case-insensitive (``ResponseGenerator.py:176-183``); the
   discussion's first message never agrees (``agent.py:73``). Recorded on each turn as
   :class:`DraftAgreement` (``agreement``, and ``solution_from``: the turn whose
   solution this message holds).
4. Solutions and the draft: a disagreeing message's solution is its own (its parsed
   answer; its reply when none was parsed, as the voting rules read it); an agreeing
   message's solution is the previous message's, that is the current draft's
   (``agent.py:78,93``). The current draft is the latest message's solution (MALLM: the
   latest draft or disagreeing message, ``agent.py:221-231``).
5. Decision (``paradigm.py:106-121``), over each agent's latest solution (MALLM's last
   N agreements): a consensus rule is checked after *every* agent and, once reached,
   ends the discussion at once, mid-turn (``consensus``); an agent with no message yet
   counts as not agreeing (MALLM divides by all agents, ``consensus.py:96-104``). Not
   reached by the last turn, the rule's ``fallback`` answers (``last``: the last
   speaker's solution, MALLM's current draft). ``vote_turn`` does not apply to a
   consensus rule (giving it is refused). A voting rule decides at the end of each turn
   from ``vote_turn`` (3) until it is no tie; the summarising judge once, at the end of
   turn ``vote_turn`` (:mod:`debate.protocols.mallm`).

What "agreeing" means to the decision: the consensus rules of :mod:`debate.judges.voting`
count agents whose solutions are the same parsed answer. Here an agent's solution is
the draft's when MALLM reads its reply as agreeing (step 4), so "[AGREE]" without an
answer of its own still agrees, and a disagreeing reply with the draft's answer agrees
too (MALLM itself, which counts ``[AGREE]`` replies after the latest solution, never
reaches a consensus with 3 or more agents at this commit: ``consensus.py:61-70``). Each
turn records MALLM's own reading in its ``agreement`` field.

A failed turn (the model call failed: ``error`` set, empty reply) is no message: it stays
in the trace but is never shown to the others, never becomes the draft and holds no
solution, so its agent keeps its previous solution (none before its first message) and
the draft stays the previous message's. MALLM has no such path: a failed call is retried
and then raises, ending the run.

Calls: N a turn, plus a voting rule's N x ``attempts`` per vote from ``vote_turn``:
``max_calls() = N x turns + (turns - vote_turn + 1) x N x attempts`` (30 with the default
``hybrid-consensus``: 3 agents, 10 turns; 270 with ``simple-voting``); the summary
(``decision: judge``) decides once, at the end of turn ``vote_turn``: ``N x vote_turn +
1`` (10). MALLM's extra call per message to extract its solution is replaced by the
task's answer parser (no call).

Departures: no personas. MALLM's default generates an expert persona per agent with
extra model calls (``agent_generator: expert``, ``utils/config.py:36``); here the
prompts carry MALLM's persona-less values ("Participant 1", "A participant of the
discussion.", ``NoPersonaGenerator.py:25-28``) and an agent card's ``system_prompt`` is
the persona slot (sent first in the system message).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import model_validator

from debate.agents.base import View
from debate.agents.mallm import MallmBrief, mallm_agrees
from debate.judges.voting import DECISIONS, DecisionRule
from debate.protocols.base import DebateContext, DebateState, protocol
from debate.protocols.mallm import MallmConfig, MallmProtocol, default_decision
from debate.trace import Turn
from debate.trace_extensions import TurnExtension

if TYPE_CHECKING:
    from langgraph.runtime import Runtime

__all__ = ["AllAgentsDraftingConfig", "AllAgentsDraftingProtocol", "DraftAgreement"]


class DraftAgreement(TurnExtension):
    """A drafting message's agreement, as MALLM reads it, and whose solution it holds."""

    agreement: bool
    """MALLM's reading: "agree" in the reply and "disagree" not (the first message: no)."""
    solution_from: str
    """The id of the turn whose solution this message holds: its own when it disagrees,
    the current draft's when it agrees."""


class AllAgentsDraftingConfig(MallmConfig):
    """Options of ``all-agents-drafting`` (defaults: MALLM's; decision: hybrid consensus)."""

    judge: str = "consensus"
    """Set by ``decision``; a judge that is no decision rule is refused."""
    decision: DecisionRule | None = "hybrid-consensus"
    """Any decision rule (MALLM's default ``hybrid_consensus``, ``utils/config.py:28``)."""

    @model_validator(mode="before")
    @classmethod
    def _a_decision_rule(cls, data: Any) -> Any:
        return default_decision(data, "hybrid-consensus", tuple(DECISIONS),
                                "all-agents-drafting", "a decision rule")


@protocol("all-agents-drafting")
class AllAgentsDraftingProtocol(MallmProtocol):
    """All agents draft alone, then improve the current draft in turn until a decision."""

    config_class = AllAgentsDraftingConfig
    config: AllAgentsDraftingConfig
    member_role = "panelist"

    def messages_of(self, state: DebateState) -> list[Turn]:
        """Every message of the discussion so far, in speaking order.

        Votes and failed turns are left out: a failed turn is no message.
        """
        members = set(self.member_names())
        return [t for t in state["turns"] if t.kind == "answer" and t.agent in members
                and t.error is None]

    def solutions(self, said: list[Turn], round_: int) -> list[Turn]:
        """Each agent's latest solution, in seat order, as the decision rule reads it.

        An agreeing message stands for the solution it holds (its answer and text are
        that turn's); an agent that has not spoken yet has none.
        """
        by_id = {t.id: t for t in said}
        latest = {t.agent: t for t in said}
        out: list[Turn] = []
        for name in self.member_names():
            turn = latest.get(name)
            if turn is None:
                out.append(Turn(id=f"r{round_}/{name}/answer", round=round_, agent=name,
                                role=self.member_role, messages=[], raw=""))
                continue
            held = by_id[self._holder(turn)]
            out.append(turn if held is turn else turn.model_copy(
                update={"answer": held.answer, "raw": held.raw}))
        return out

    @staticmethod
    def _holder(turn: Turn) -> str:
        record = DraftAgreement.read(turn)
        return record.solution_from if record else turn.id

    def draft(self, said: Sequence[Turn]) -> str | None:
        """The current draft: the latest message's solution (its answer, else its reply)."""
        if not said:
            return None
        held = next(t for t in said if t.id == self._holder(said[-1]))
        return held.answer if held.answer is not None else held.raw

    async def turn(self, state: DebateState, runtime: Runtime[DebateContext]) -> dict[str, Any]:
        """Every agent in seat order: draft (turn 1) or improve; a consensus may end it."""
        agents = runtime.context.group(self.member_names())
        q, r = state["question"], state["round"] + 1
        said = self.messages_of(state)
        consensus = not self.votes()
        new: list[Turn] = []
        for agent in agents:
            # turn 1: no draft, no discussion (paradigm.py:62-66)
            shown = list(said) if r > 0 else []
            brief = MallmBrief(personas=self.personas(), draft=self.draft(shown),
                               discussion=shown, chain_of_thought=self.config.chain_of_thought)
            view = View(q, r, memory="rebuild", brief=brief,
                        history=[t for t in shown if t.agent == agent.name],
                        peers=[t for t in shown if t.agent != agent.name])
            turn = await agent.act(view)
            new.append(turn)
            if turn.error is not None:  # no message: not shown, not the draft, no solution
                continue
            agreed = bool(said) and mallm_agrees(turn.raw)
            holder = self._holder(said[-1]) if agreed else turn.id
            DraftAgreement(agreement=agreed, solution_from=holder).write(turn.fields)
            said.append(turn)
            candidates = self.solutions(said, r)
            if consensus and self.settled(candidates, r):
                return await self._decided(state, runtime, r, new, candidates, "consensus")
        if consensus and r + 1 >= self.config.turns:
            return await self._decided(state, runtime, r, new,
                                       self._draft_last(self.solutions(said, r), said),
                                       "max_rounds")
        return {"turns": new, "round": r, "stop_reason": None}

    @staticmethod
    def _draft_last(candidates: list[Turn], said: Sequence[Turn]) -> list[Turn]:
        """``candidates`` with the latest speaker's last.

        The fallback ``last`` is then the current draft even when the last seat's turn
        failed; agreement counts ignore the order.
        """
        if not said:
            return candidates
        latest = said[-1].agent
        return ([t for t in candidates if t.agent != latest]
                + [t for t in candidates if t.agent == latest])

    async def _decided(self, state: DebateState, runtime: Runtime[DebateContext], round_: int,
                       new: list[Turn], candidates: list[Turn], stop: str) -> dict[str, Any]:
        result = await self.conclude({**state, "round": round_}, runtime, candidates)
        return {"turns": new + result["turns"], "round": round_, "final": result["final"],
                "stop_reason": stop}

    def candidates(self, state: DebateState) -> list[Turn]:
        """Each agent's solution at the end of the last turn (an agreeing one holds the draft's)."""
        said = self.messages_of(state)
        return self.solutions(said, state["round"])
