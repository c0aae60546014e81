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
            if "feedbacks for your solution" in last:
                return f"revised by {i} \\boxed{{42}}"
            return f"S{i} \\boxed{{{40 + i}}}"
        return ScriptedModel(reply, name=f"m{i}")
    return [make(i) for i in range(3)]


async def run(**options):
    models = scripts()
    agents = [PeerReviewer(f"agent-{i}", m) for i, m in enumerate(models)]
    return models, await PeerReviewProtocol(**options).run(Q, agents)


async def test_twelve_calls_and_majority_of_revisions():
    models, trace = await run()
    assert trace.totals.calls == 12 == 3 + 3 * 2 + 3
    assert [len(m.calls) for m in models] == [4, 4, 4]
    assert trace.final.answer == "42" and trace.correct
    assert [t.kind for t in trace.turns].count("review") == 6


async def test_one_chat_per_agent_as_in_the_reference_transcripts():
    # agent 1: [solve, S1, review of S0, R1->0, review of S2, R1->2, revise, revision]
    models, trace = await run()
    calls = models[1].calls
    solve, first_review, second_review, revise = (c.messages for c in calls)
    assert first_review[:2] == solve + (first_review[1],)
    assert first_review[1].content.startswith("S1")
    assert "S0" in first_review[-1].content and "S2" not in first_review[-1].content
    assert second_review[:3] == first_review  # the second review continues the first
    assert second_review[3].content.startswith("R1->0") and "S2" in second_review[-1].content
    assert revise[:5] == second_review and revise[5].content.startswith("R1->2")
    assert [m.role for m in revise] == ["user", "assistant"] * 3 + ["user"]
    text = revise[-1].content  # exactly the reviews of agent 1's solution, in agent order
    assert text.index("R0->1") < text.index("R2->1")
    assert "R1->" not in text and "R0->2" not in text and "R2->0" not in text
    revision = next(t for t in trace.turns if t.id == "r1/agent-1/revision")
    # it saw the other solutions (in its chat) and the reviews it received
    assert revision.saw == ["r0/agent-0/answer", "r0/agent-2/answer",
                            "r0/agent-0/review/agent-1", "r0/agent-2/review/agent-1"]


async def test_compat_branch_memory_keeps_the_older_shape():
    models, trace = await run(review_memory="branch")
    assert trace.totals.calls == 12
    revise = models[1].calls[-1].messages
    assert [m.role for m in revise] == ["user", "assistant", "user"]
    assert revise[1].content.startswith("S1")
    assert "R0->1" in revise[-1].content and "R2->1" in revise[-1].content
    reviewing = [c.messages for c in models[0].calls[1:3]]
    assert all([m.role for m in r] == ["user", "assistant", "user"] for r in reviewing)
    revision = next(t for t in trace.turns if t.id == "r1/agent-1/revision")
    assert revision.saw == ["r0/agent-0/review/agent-1", "r0/agent-2/review/agent-1"]


async def test_review_confidence_is_parsed_but_not_changed():
    models, trace = await run()
    review = next(t for t in trace.turns if t.id == "r0/agent-2/review/agent-1")
    assert review.fields["confidence_1_10"] == 4 and review.confidence == 0.4
    assert review.fields["reviewed"] == "agent-1"
    assert "Confidence: 4" in models[1].calls[-1].messages[-1].content  # shown as written


async def test_identical_solutions_get_two_independent_reviews(tmp_path):
    # same content, two positions: the cache must not serve the second review from the first
    from debate.models import CallStats, ResponseCache, wrap

    inner = ScriptedModel(lambda m, p: "same \\boxed{1}" if len(m) == 1 else f"review {len(m)}")
    cache = ResponseCache(tmp_path / "c.sqlite")
    model = wrap(inner, stats=CallStats(), cache=cache)
    agents = [PeerReviewer(f"agent-{i}", model) for i in range(3)]
    proto = PeerReviewProtocol(review_memory="branch")  # identical review prompts
    trace = await proto.run(Q, agents)
    assert len(inner.calls) == 12 and trace.totals.cached_calls == 0
    again = await proto.run(Q, agents)  # a re-run replays every call
    assert len(inner.calls) == 12 and again.totals.cached_calls == 12
    cache.close()


def test_review_confidence_parser():
    assert review_confidence("ok.\nConfidence: 8/10") == 8
    assert review_confidence("My confidence is 7 out of 10") == 7
    assert review_confidence("Confidence: 42") is None
    assert review_confidence("no score here") is None
