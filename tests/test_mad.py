"""The rules of MAD (Liang et al., 2023), on scripted agents (one script per agent)."""

import json

from debate.agents.mad import Affirmative, MadJudge, Moderator, Negative
from debate.protocols import MadProtocol
from debate.testing import ScriptedModel
from debate.trace import Question

Q = Question(id="q", text="A bat and a ball cost 1.10 in total; the bat costs 1 more. "
             "What does the ball cost?", task="numeric", gold="0.05")


def verdict(answer="", preference="no"):
    return json.dumps({"preference": preference, "supported_side": "negative" if answer else "",
                       "reason": "r", "debate_answer": answer})


def agents(aff, neg, mod, judge=("A and B", '{"reason": "x", "debate_answer": "0.05"}')):
    models = {name: ScriptedModel(list(replies), name=name)
              for name, replies in [("aff", aff), ("neg", neg), ("mod", mod), ("judge", judge)]}
    return models, [Affirmative("affirmative", models["aff"]), Negative("negative", models["neg"]),
                    Moderator("moderator", models["mod"]), MadJudge("judge", models["judge"])]


async def test_moderator_answer_in_round_two_stops_after_six_calls():
    models, team = agents(["\\boxed{0.1}", "\\boxed{0.1}"], ["\\boxed{0.05}", "\\boxed{0.05}"],
                          [verdict(), verdict("1.5", "yes")])
    trace = await MadProtocol().run(Q, team)
    assert trace.totals.calls == 6 and not models["judge"].calls
    assert trace.final.answer == "1.5" and trace.final.method == "moderator"
    assert trace.stop_reason == "moderator"


async def test_no_verdict_in_three_rounds_calls_the_judge_twice():
    models, team = agents(["\\boxed{0.1}"] * 3, ["\\boxed{0.05}"] * 3, [verdict()] * 3)
    trace = await MadProtocol().run(Q, team)
    assert trace.totals.calls == 9 + 2 and len(models["judge"].calls) == 2
    assert trace.final.method == "judge" and trace.final.answer == "0.05" and trace.correct
    decide = models["judge"].calls[1].messages
    assert decide[: len(models["judge"].calls[0].messages)] == models["judge"].calls[0].messages
    # the judge sees the last round's arguments by default...
    assert trace.final.details["shown_round"] == 2


async def test_compat_flag_shows_the_judge_round_one():
    _, team = agents(["aff r1 \\boxed{1}", "aff r2 \\boxed{2}", "aff r3 \\boxed{3}"],
                     ["neg \\boxed{9}"] * 3, [verdict()] * 3)
    trace = await MadProtocol(judge_sees_first_round=True).run(Q, team)
    shown = next(t for t in trace.turns if t.agent == "judge" and t.step == "candidates")
    assert "aff r1" in shown.messages[-1].content and "aff r3" not in shown.messages[-1].content


async def test_tit_for_tat_visibility():
    models, team = agents(["A1 \\boxed{1}", "A2 \\boxed{2}"], ["N1 \\boxed{5}", "N2 \\boxed{6}"],
                          [verdict(), verdict("6", "yes")])
    await MadProtocol().run(Q, team)
    neg_first = models["neg"].calls[0].messages[-1].content
    assert "A1" in neg_first  # the negative answers the affirmative of the same round
    aff_second = models["aff"].calls[1].messages
    assert aff_second[-1].content.count("N1") == 1 and "N2" not in aff_second[-1].content
    assert [m.role for m in aff_second] == ["system", "user", "assistant", "user"]
    mod_second = models["mod"].calls[1].messages
    assert "A2" in mod_second[-1].content and "N2" in mod_second[-1].content
    assert "A1" not in mod_second[-1].content  # round 1 is in its history, not repeated


async def test_malformed_moderator_reply_is_no_verdict_not_a_crash():
    models, team = agents(["\\boxed{1}"] * 3, ["\\boxed{2}"] * 3,
                          ["I think both are wrong!!", "{'preference': 'no'", verdict("2", "yes")])
    trace = await MadProtocol().run(Q, team)
    moderator = [t for t in trace.turns if t.agent == "moderator"]
    assert moderator[0].answer is None and moderator[0].fields["parse_error"]
    assert trace.final.answer == "2" and trace.totals.calls == 9


async def test_labelled_lines_verdict_is_read():
    _, team = agents(["\\boxed{1}"], ["\\boxed{2}"],
                     ["Preference: yes\nSupported Side: Negative\nReason: math\n"
                      "Debate Answer: 2"])
    trace = await MadProtocol().run(Q, team)
    assert trace.final.answer == "2" and trace.final.details["verdict"]["supported_side"] == \
        "Negative"


async def test_moderator_asks_for_structured_output():
    models, team = agents(["\\boxed{1}"], ["\\boxed{2}"], [verdict("2", "yes")])
    await MadProtocol().run(Q, team)
    schema = models["mod"].calls[0].params.json_schema
    assert schema and "debate_answer" in schema["properties"]
    assert models["aff"].calls[0].params.json_schema is None


async def test_an_answer_with_no_preference_does_not_stop_the_debate():
    # the authors' recorded debates: the moderator often fills in an answer while saying
    # "No"; those debates went on (143 such turns, none stopped)
    models, team = agents(["\\boxed{1}"] * 2, ["\\boxed{2}"] * 2,
                          [verdict("2", "no"), verdict("2", "Yes")])
    trace = await MadProtocol().run(Q, team)
    assert trace.totals.calls == 6 and trace.final.details["round"] == 1  # rounds count from 0
    first = next(t for t in trace.turns if t.id == "r0/moderator/verdict")
    assert first.fields["preference"] is False and first.answer == "2"
    assert trace.final.details["stop_rule"] == "preference"


async def test_compat_stop_rule_answer_stops_on_any_stated_answer():
    _, team = agents(["\\boxed{1}"], ["\\boxed{2}"], [verdict("2", "no")])
    trace = await MadProtocol(stop_rule="answer").run(Q, team)
    assert trace.totals.calls == 3 and trace.final.answer == "2"
    assert trace.final.details["stop_rule"] == "answer"


async def test_a_preference_with_an_unparseable_answer_stops_with_no_answer():
    # the stop rule reads the moderator's words, not whether they parse as a number
    models, team = agents(["\\boxed{1}"], ["\\boxed{2}"],
                          [verdict("the negative side's number", "yes")])
    trace = await MadProtocol().run(Q, team)
    assert trace.totals.calls == 3 and trace.stop_reason == "moderator"
    assert trace.final.answer is None and trace.correct is False
    assert "does not parse" in trace.final.details["reason"]
    verdict_turn = trace.turns[-1]
    assert verdict_turn.answer is None and verdict_turn.answer_from is None
    assert not models["judge"].calls


async def test_the_reference_moderator_format_is_read():
    reply = ("{'Whether there is a preference': 'Yes', 'Supported Side': 'Negative', "
             "'Reason': 'arithmetic', 'debate_answer': '0.05'}")
    _, team = agents(["\\boxed{0.1}"], ["\\boxed{0.05}"], [reply])
    trace = await MadProtocol().run(Q, team)
    assert trace.final.answer == "0.05" and trace.totals.calls == 3
    assert trace.final.details["verdict"]["supported_side"] == "Negative"


def test_read_preference():
    from debate.agents.mad import read_preference

    assert read_preference("Yes") is True and read_preference("yes.") is True
    assert read_preference("No") is False and read_preference(False) is False
    assert read_preference("maybe") is None and read_preference(None) is None


def test_a_python_dict_reply_with_apostrophes_is_read_without_eval():
    from debate.scoring.fields import parse_json_object

    reply = ("{'Whether there is a preference': 'Yes', 'Supported Side': 'Negative', "
             "'Reason': \"the negative side's check is right\", 'debate_answer': '0.05'}")
    assert parse_json_object(reply)["Reason"] == "the negative side's check is right"
    assert parse_json_object("{'a': __import__('os').getcwd()}") is None  # literals only
    assert parse_json_object("{" * 10_000 + "}" * 10_000) is None  # deep nesting: no crash


async def test_a_seat_s_own_system_prompt_is_kept_beside_mad_s_meta_prompt():
    """Before: a role card's (or a served request's) system prompt on a MAD seat was
    replaced by MAD's meta prompt in silence; now the system message holds both, the
    seat's own first."""
    models, seats = agents(["\\boxed{0.1}"], ["\\boxed{0.05}"], [verdict("0.05", "yes")])
    seats[0].system_prompt = "You are a careful accountant."
    await MadProtocol().run(Q, seats)
    system = models["aff"].calls[0].messages[0]
    assert system.role == "system" and system.content.startswith(
        "You are a careful accountant.\n\n")
    assert "debate" in system.content.lower()  # MAD's meta prompt follows
    assert not models["neg"].calls[0].messages[0].content.startswith("You are a careful")
