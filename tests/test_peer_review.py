"""The rules of multi-agent peer review (Xu et al., 2023), on scripted agents."""

from debate.agents import PeerReviewer
from debate.agents.peer import review_confidence
from debate.protocols import PeerReviewProtocol
from debate.testing import ScriptedModel
from debate.trace import Question

Q = Question(id="q", text="What is 17 + 25?", task="numeric", gold="42")


def scripts():
    """Agent i: solution S{i}; review of j: 'R{i}->{j} ... Confidence: i+j+1'; revision."""
    def make(i):
        def reply(messages, params):
            last = messages[-1].content
            if "Here is a solution from another agent" in last:
                j = int(last.split("S")[1][0])
                return f"R{i}->{j}: looks fine. Confidence: {i + j + 1}"
            if "feedback other agents gave" in last:
                return f"revised by {i} \\boxed{{42}}"
            return f"S{i} \\boxed{{{40 + i}}}"
        return ScriptedModel(reply, name=f"m{i}")
    return [make(i) for i in range(3)]


async def test_twelve_calls_and_majority_of_revisions():
    models = scripts()
    agents = [PeerReviewer(f"agent-{i}", m) for i, m in enumerate(models)]
    trace = await PeerReviewProtocol().run(Q, agents)
    assert trace.totals.calls == 12 == 3 + 3 * 2 + 3
    assert [len(m.calls) for m in models] == [4, 4, 4]
    assert trace.final.answer == "42" and trace.correct
    assert [t.kind for t in trace.turns].count("review") == 6


async def test_revision_prompt_holds_exactly_the_reviews_of_own_solution():
    models = scripts()
    agents = [PeerReviewer(f"agent-{i}", m) for i, m in enumerate(models)]
    trace = await PeerReviewProtocol().run(Q, agents)
    revise = models[1].calls[-1].messages
    assert [m.role for m in revise] == ["user", "assistant", "user"]
    assert revise[1].content.startswith("S1")  # its own solution, as its chat
    text = revise[-1].content
    assert "R0->1" in text and "R2->1" in text
    assert "R1->" not in text and "R0->2" not in text and "R2->0" not in text
    revision = next(t for t in trace.turns if t.id == "r1/agent-1/revision")
    assert revision.saw == ["r0/agent-0/review/agent-1", "r0/agent-2/review/agent-1"]


async def test_review_confidence_is_parsed_but_not_changed():
    models = scripts()
    agents = [PeerReviewer(f"agent-{i}", m) for i, m in enumerate(models)]
    trace = await PeerReviewProtocol().run(Q, agents)
    review = next(t for t in trace.turns if t.id == "r0/agent-2/review/agent-1")
    assert review.fields["confidence_1_10"] == 4 and review.confidence == 0.4
    assert "Confidence: 4" in models[1].calls[-1].messages[-1].content  # shown as written
    reviewing = models[0].calls[1].messages
    assert [m.role for m in reviewing] == ["user", "assistant", "user"]
    assert "S1" in reviewing[-1].content or "S2" in reviewing[-1].content


def test_review_confidence_parser():
    assert review_confidence("ok.\nConfidence: 8/10") == 8
    assert review_confidence("My confidence is 7 out of 10") == 7
    assert review_confidence("Confidence: 42") is None
    assert review_confidence("no score here") is None
