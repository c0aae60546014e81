"""The judge of the oversight protocols (role ``qa-judge``) and how its verdicts are read.

The judge reads the question, the two answers and the transcript, never the
passage. It gives its verdict in one of three forms (``judge_format`` of the
brief, :data:`~debate.agents.oversight_brief.JudgeFormat`):

- ``answer`` (default; the reference's judge, ``judge/debate/default.yaml`` of
  ucl-dark/llm_debate): it reasons in ``<thinking>`` tags and ends with
  ``Answer: <A|B>``; :func:`parse_answer_letter` reads the letter, the verdict's
  probabilities are 1 and 0;
- ``probabilities``: it states a probability for each answer;
  :func:`parse_probabilities` reads explicitly labelled values only;
- ``logprobs`` (the reference's *preference* judge, ``preference.yaml``, used to
  rate best-of-N speeches): it answers with only A or B, and
  :func:`letter_probabilities` reads the probabilities from that token's
  log-probabilities.

A verdict that cannot be read is recorded with no decision and the reason
(:class:`JudgeVerdict`'s ``parse_error``), never guessed. A judge with no transcript is blind:
its prompt mentions neither speakers nor quotes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from debate.agents.base import Agent, Parsed, View, role
from debate.agents.oversight_brief import JudgeFormat, brief_of, shown_ids, transcript_text
from debate.models.types import Completion, Message, SamplingParams
from debate.scoring import NO_ANSWER, Extraction
from debate.scoring.verdicts import (
    LABELS,
    letter_probabilities,
    parse_answer_letter,
    parse_probabilities,
)
from debate.trace import TurnKind
from debate.trace_extensions import TurnExtension

__all__ = ["JudgeVerdict", "OversightJudge"]

class JudgeVerdict(TurnExtension):
    """The oversight judge's verdict as probabilities, or why none was read (turn fields).

    The protocols score it against the gold answer and rate best-of-N candidates by it.
    """

    stored_none: ClassVar[frozenset[str]] = frozenset({"probabilities"})

    parse_error: str | None = None
    """Why the verdict could not be read (``None``: it was read)."""
    probabilities: dict[str, float] | None = None
    """The probability of each label (``A``, ``B``), summing to 1 (``None``: the verdict
    could not be read; stored as ``null``)."""


_STEP_TEMPLATE: dict[JudgeFormat, str] = {"answer": "answer", "probabilities": "decide",
                                          "logprobs": "letter"}


@role("qa-judge")
class OversightJudge(Agent):
    """Reads the question, both answers and the transcript, never the passage.

    Step ``ask``: one question to the speakers; ``decide``/``probe``: a verdict in the
    brief's ``judge_format``. With no transcript (``blind-judge``) the judge gets the
    ``blind`` and ``blind_task`` templates, which mention no speakers and no quotes.
    """

    default_templates = {"rules": "oversight_judge", "task": "oversight_judge_task",
                         "blind": "oversight_judge_blind",
                         "blind_task": "oversight_judge_blind_task",
                         "ask": "oversight_judge_ask", "answer": "oversight_judge_answer",
                         "decide": "oversight_judge_decide", "letter": "oversight_judge_letter"}
    template_fields = {
        "rules": frozenset(),
        "task": frozenset({"question", "answer_a", "answer_b", "transcript"}),
        "blind": frozenset(),
        "blind_task": frozenset({"question", "answer_a", "answer_b"}),
        "ask": frozenset(),
        "answer": frozenset(),
        "decide": frozenset(),
        "letter": frozenset(),
    }

    def kind(self, view: View) -> TurnKind:
        """A question to the speakers, or a verdict."""
        return "question" if brief_of(view).step == "ask" else "verdict"

    def messages(self, view: View) -> list[Message]:
        """One fresh prompt: what the judge may see, then what it must do."""
        brief = brief_of(view)
        shown = {"question": view.question.text, "answer_a": brief.answers[0],
                 "answer_b": brief.answers[1]}
        if brief.transcript:
            rules = self.render("rules")
            task = self.render("task", **shown, transcript=transcript_text(brief.transcript))
        else:  # blind: nobody spoke, so nothing about speakers or quotes
            rules, task = self.render("blind"), self.render("blind_task", **shown)
        step = self.render("ask" if brief.step == "ask" else _STEP_TEMPLATE[brief.judge_format])
        system = f"{self.system_prompt}\n\n{rules}" if self.system_prompt else rules
        return [Message(role="system", content=system),
                Message(role="user", content=f"{task}\n\n{step}")]

    def shown(self, view: View, messages: Sequence[Message]) -> list[str]:
        """The speeches and questions its transcript shows (quotes marked, so not verbatim)."""
        return shown_ids(view)

    def params_for(self, view: View) -> SamplingParams:
        """The judge's sampling; the preference judge's verdicts ask for log-probabilities.

        With ``judge_format: logprobs`` a verdict asks for the top 5 log-probabilities of a
        reply of at most 2 tokens (the reference's ``max_tokens: 2``).
        """
        brief = brief_of(view)
        if brief.step == "ask" or brief.judge_format != "logprobs":
            return self.params
        return self.derived_params("letter", logprobs=True, top_logprobs=5, max_tokens=2)

    def read(self, completion: Completion, view: View) -> Parsed:
        """A verdict's probabilities in the brief's ``judge_format``; a question as text."""
        brief = brief_of(view)
        if brief.step == "ask":
            return Parsed()
        rule = "field"
        if brief.judge_format == "logprobs":
            probs, error = letter_probabilities(completion.logprobs)
        elif brief.judge_format == "probabilities":
            probs, error = parse_probabilities(completion.text)
        else:
            letter, error = parse_answer_letter(completion.text, brief.answers)
            probs = None if letter is None else {k: float(k == letter) for k in LABELS}
            rule = "answer-line"
        fields: dict[str, Any] = {}
        if probs is None:
            JudgeVerdict(parse_error=error, probabilities=None).write(fields)
            return Parsed(NO_ANSWER, None, fields)
        JudgeVerdict(probabilities=probs).write(fields)
        decision = max(LABELS, key=lambda label: probs[label])
        tie = probs["A"] == probs["B"]
        return Parsed(NO_ANSWER if tie else Extraction(decision, rule), None, fields)
