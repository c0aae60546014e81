r"""``collective-improvement``: MALLM's collective refinement (Kaesberg et al. 2025's "CI").

"Voting or Consensus? Decision-Making in Multi-Agent Debate" (ACL Findings 2025), as
MALLM runs it (``Multi-Agent-LLMs/mallm`` @ d9e66bc,
``discussion_paradigms/collective_refinement.py``; citations below are to that file
unless named).

Algorithm (N agents, at most ``turns`` turns, voting from turn ``vote_turn``):

1. Turn 1: every agent answers in parallel, each with a fresh prompt (:class:`~debate.
   agents.mallm.CollectiveImprover`): MALLM's system message with its persona, and the
   user message "Your task is: {task}\n\nThe input you have to work with is:
   {input}.\n\n{history}\n\nTry to improve your previous answer by critically taking
   into account the answers from the other participants." with an empty history
   (:115-124, the same prompt every turn), then "Let's think step by step."
   (``FreeTextResponseGenerator.py:60-66``).
2. Turn t >= 2: the same, the history holding the agent's own answer of turn t-1 and
   every other agent's answer of turn t-1 in full, "({persona}) {answer}" in seat order
   (:95-104): after each turn the agents' memories are *replaced* by that turn's
   answers (:160-162), so nothing older is shown and there is no chat memory.
   A failed answer (the model call failed: ``error`` set, empty reply) is no message and
   is never shown: it does not replace its agent's memory, so that agent's latest answer
   that did not fail stands in the history, for itself and the others; an agent with no
   such answer yet is left out of the others' histories and gets the first turn's
   prompt itself (MALLM shows a history only once there are memories, :96). MALLM has no
   such path: a failed call is retried and then raises, ending the run.
3. After every turn from ``vote_turn`` on (MALLM's ``vote_turn = 3``: round index 2 here),
   the decision rule votes on that turn's answers (:168-181, ``simple_voting.py:41-44``):
   every agent votes (:mod:`debate.judges.voting`). A winner ends the discussion
   (``decided``); a tie decides nothing and the agents answer another turn, then vote
   again; a tie at the last turn leaves no answer (``max_rounds``, MALLM's empty draft).

Calls: N a turn, plus N ballots (each asked again up to ``attempts`` times, 10 in MALLM)
per vote: ``max_calls() = N x turns + (turns - vote_turn + 1) x N x attempts`` (270 with
the defaults: 3 agents, 10 turns, vote from turn 3, 10 attempts). MALLM's extra call per
answer to extract its solution is replaced by the task's answer parser (no call).

Decision: voting only. MALLM warns that the paradigm "only works with voting based
decision protocols" (:70-72) and sets no rule of its own (its default,
``hybrid_consensus``, is every paradigm's: ``utils/config.py:28``); here the default is
``simple-voting``, any voting rule may be given, and a consensus rule or the summarising
``judge`` is refused (a ``ConfigError`` naming why).

Departures: no personas. MALLM's default generates an expert persona per agent with
extra model calls (``agent_generator: expert``, ``utils/config.py:36``); here the
prompts carry MALLM's persona-less values (``nopersona``: "Participant 1", "A participant
of the discussion.", ``NoPersonaGenerator.py:25-28``) and an agent card's
``system_prompt`` is the persona slot (sent first in the system message).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import model_validator

from debate.agents.base import View
from debate.agents.mallm import MallmBrief
from debate.judges.voting import DecisionRule
from debate.protocols.base import DebateContext, DebateState, gather_round, protocol
from debate.protocols.mallm import MallmConfig, MallmProtocol, default_decision
from debate.trace import Turn

if TYPE_CHECKING:
    from langgraph.runtime import Runtime

__all__ = ["VOTING_RULES", "CollectiveImprovementConfig", "CollectiveImprovementProtocol"]

VOTING_RULES = ("simple-voting", "approval-voting", "cumulative-voting", "ranked-voting")
"""The decision rules collective improvement takes: MALLM's voting rules."""


class CollectiveImprovementConfig(MallmConfig):
    """Options of ``collective-improvement`` (defaults: MALLM's; decision: simple voting)."""

    judge: str = "voting"
    """Set by ``decision`` (the agents' vote); another judge is refused."""
    decision: DecisionRule | None = "simple-voting"
    """A voting rule (:data:`VOTING_RULES`); MALLM's collective refinement votes only."""

    @model_validator(mode="before")
    @classmethod
    def _voting_only(cls, data: Any) -> Any:
        return default_decision(
            data, "simple-voting", VOTING_RULES, "collective-improvement",
            "voting only (MALLM's collective refinement \"only works with voting based "
            "decision protocols\", collective_refinement.py:70-72)")


@protocol("collective-improvement")
class CollectiveImprovementProtocol(MallmProtocol):
    """N agents improve their answers in parallel on each other's; a vote from turn 3."""

    config_class = CollectiveImprovementConfig
    config: CollectiveImprovementConfig
    member_role = "improver"

    def memories(self, state: DebateState) -> dict[str, Turn]:
        """Each agent's memory: its latest answer that did not fail.

        That is the previous turn's unless that one failed: a failed turn is no message.
        """
        members = set(self.member_names())
        return {t.agent: t for t in state["turns"]
                if t.kind == "answer" and t.agent in members and t.error is None}

    async def turn(self, state: DebateState, runtime: Runtime[DebateContext]) -> dict[str, Any]:
        """Every agent answers at once, shown its own and the others' previous answers."""
        agents = runtime.context.group(self.member_names())
        q, r = state["question"], state["round"] + 1
        memory = self.memories(state)
        brief = MallmBrief(personas=self.personas(),
                           chain_of_thought=self.config.chain_of_thought)
        views = [View(q, r, memory="rebuild", brief=brief,
                      history=[memory[a.name]] if a.name in memory else [],
                      peers=[memory[b.name] for b in agents
                             if b.name != a.name and b.name in memory]
                      if a.name in memory else [])
                 for a in agents]
        return {"turns": await gather_round(agents, views), "round": r, "stop_reason": None}
