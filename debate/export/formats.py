"""Formats: examples -> rows that trainers load as they are.

Names follow TRL's dataset types: a plain name is the *conversational* form
(messages as ``{role, content}``), ``-standard`` the same rows as plain strings.

- ``dpo`` / ``dpo-standard``, ``reward`` / ``reward-standard``: prompt, chosen,
  rejected (TRL DPOTrainer / RewardTrainer; chosen and rejected are one
  assistant message each in the conversational form).
- ``kto`` / ``kto-standard``: prompt, completion, label (TRL KTOTrainer).
- ``sft`` / ``sft-standard``: messages / text (TRL SFTTrainer, language modelling);
  ``sft-prompt-completion`` / ``sft-prompt-completion-standard``: prompt, completion.
- ``grpo``: prompt (messages) and ``answer`` for a verifier reward (TRL GRPOTrainer).
- ``sharegpt``: conversations, system, chosen, rejected (LLaMA-Factory, ``ranking: true``).

Older names stay as aliases (:data:`FORMAT_ALIASES`): ``dpo-conversational`` and
``reward-conversational`` are ``dpo`` and ``reward``. Note that before this
scheme ``dpo`` and ``reward`` meant the string form, now ``dpo-standard`` and
``reward-standard``.

Every pair row also carries ``margin``, ``score_chosen``, ``score_rejected``;
every row carries ``metadata`` (provenance) and ``question_id`` (for splits).
Messages are exactly ``{role, content}``. Multi-turn prompts are kept whole:
the standard (string) formats write them as a ``Role: text`` transcript, so
prefer the conversational formats for multi-turn data.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from debate.errors import ConfigError
from debate.export.drops import drop
from debate.export.examples import Example
from debate.export.filters import row_dedupe_scope
from debate.models.types import Message
from debate.registry import Registry

__all__ = [
    "FORMATS", "FORMAT_ALIASES", "Format", "canonical_format", "format_rows", "register_format",
]

Row = dict[str, Any]


class Format:
    """A named row builder; ``pairs``/``singles`` say which examples it accepts."""

    def __init__(self, name: str, build: Callable[[Example], list[Row]], *, pairs: bool,
                 singles: bool) -> None:
        self.name = name
        self.build = build
        self.pairs = pairs
        self.singles = singles


def _plugin_format(name: str, loaded: Any) -> Format:
    """The format a ``debatelab.formats`` entry point names.

    It may name a :class:`Format`, or a row builder function (taking pairs only,
    unless the function has ``pairs`` / ``singles`` attributes).
    """
    if isinstance(loaded, Format):
        return loaded
    if not callable(loaded):
        raise ConfigError(f"format plug-in {name!r} is neither a Format nor a row builder")
    return Format(name, loaded, pairs=getattr(loaded, "pairs", True),
                  singles=getattr(loaded, "singles", False))


FORMATS: Registry[Format] = Registry("format", "format_name", group="debatelab.formats",
                                     adapt=_plugin_format)
"""Registered formats by name (plug-ins: the ``debatelab.formats`` entry-point group)."""


def register_format(name: str, *, pairs: bool = True, singles: bool = False
                    ) -> Callable[[Callable[[Example], list[Row]]],
                                  Callable[[Example], list[Row]]]:
    """Decorator registering a row builder (example -> rows) as format ``name``."""
    def decorate(build: Callable[[Example], list[Row]]) -> Callable[[Example], list[Row]]:
        FORMATS[name] = Format(name, build, pairs=pairs, singles=singles)
        return build

    return decorate


def messages(prompt: list[Message]) -> list[dict[str, str]]:
    """Messages as exactly ``{role, content}``."""
    return [{"role": m.role, "content": m.content} for m in prompt]


def transcript(prompt: list[Message]) -> str:
    """A prompt as one string: the user text alone, or a ``Role: text`` transcript."""
    if len(prompt) == 1 and prompt[0].role == "user":
        return prompt[0].content
    return "\n\n".join(f"{m.role.capitalize()}: {m.content}" for m in prompt)


def _assistant(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def _common(example: Example) -> Row:
    return {"question_id": example.metadata.question_id,
            "metadata": example.metadata.model_dump()}


def _scores(example: Example) -> Row:
    return {"margin": example.margin, "score_chosen": example.score_chosen,
            "score_rejected": example.score_rejected}


def _standard_pair(example: Example) -> list[Row]:
    assert example.chosen is not None and example.rejected is not None
    return [{"prompt": transcript(example.prompt), "chosen": example.chosen,
             "rejected": example.rejected, **_scores(example), **_common(example)}]


def _conversational_pair(example: Example) -> list[Row]:
    assert example.chosen is not None and example.rejected is not None
    return [{"prompt": messages(example.prompt), "chosen": _assistant(example.chosen),
             "rejected": _assistant(example.rejected), **_scores(example), **_common(example)}]


register_format("dpo")(_conversational_pair)
register_format("reward")(_conversational_pair)
register_format("dpo-standard")(_standard_pair)
register_format("reward-standard")(_standard_pair)

FORMAT_ALIASES: dict[str, str] = {"dpo-conversational": "dpo", "reward-conversational": "reward"}
"""Older format names and the format each now names."""


def canonical_format(name: str) -> str:
    """The registered name ``name`` stands for (itself unless it is an alias)."""
    return FORMAT_ALIASES.get(name, name)


def _labelled(example: Example) -> list[tuple[str, bool]]:
    if example.is_pair:
        assert example.chosen is not None and example.rejected is not None
        return [(example.chosen, True), (example.rejected, False)]
    assert example.completion is not None
    return [(example.completion, bool(example.label))]


@register_format("kto", singles=True)
def _kto(example: Example) -> list[Row]:
    return [{"prompt": messages(example.prompt), "completion": _assistant(text),
             "label": label, **_common(example)} for text, label in _labelled(example)]


@register_format("kto-standard", singles=True)
def _kto_standard(example: Example) -> list[Row]:
    return [{"prompt": transcript(example.prompt), "completion": text, "label": label,
             **_common(example)} for text, label in _labelled(example)]


def _best(example: Example) -> str:
    text = example.chosen if example.is_pair else example.completion
    assert text is not None
    return text


@register_format("sft", singles=True)
def _sft(example: Example) -> list[Row]:
    return [{"messages": [*messages(example.prompt), *_assistant(_best(example))],
             **_common(example)}]


@register_format("sft-standard", singles=True)
def _sft_standard(example: Example) -> list[Row]:
    return [{"text": transcript([*example.prompt, Message(role="assistant",
                                                          content=_best(example))]),
             **_common(example)}]


@register_format("sft-prompt-completion", singles=True)
def _sft_prompt_completion(example: Example) -> list[Row]:
    return [{"prompt": messages(example.prompt), "completion": _assistant(_best(example)),
             **_common(example)}]


@register_format("sft-prompt-completion-standard", singles=True)
def _sft_prompt_completion_standard(example: Example) -> list[Row]:
    return [{"prompt": transcript(example.prompt), "completion": _best(example),
             **_common(example)}]


@register_format("grpo", singles=True)
def _grpo(example: Example) -> list[Row]:
    return [{"prompt": messages(example.prompt), "answer": example.answer, **_common(example)}]


_SHAREGPT_ROLE = {"user": "human", "assistant": "gpt"}


@register_format("sharegpt")
def _sharegpt(example: Example) -> list[Row]:
    assert example.chosen is not None and example.rejected is not None
    system = "\n\n".join(m.content for m in example.prompt if m.role == "system")
    turns = [{"from": _SHAREGPT_ROLE[m.role], "value": m.content}
             for m in example.prompt if m.role != "system"]
    return [{"conversations": turns, "system": system,
             "chosen": {"from": "gpt", "value": example.chosen},
             "rejected": {"from": "gpt", "value": example.rejected},
             **_scores(example), **_common(example)}]


def format_rows(examples: list[Example], name: str, dedupe: bool = True) -> list[Row]:
    """Rows of format ``name`` (repeated rows dropped unless ``dedupe`` is off).

    An example the format cannot take (a single completion for a pair format) is an error.
    """
    fmt = FORMATS.lookup(canonical_format(name))
    rows: list[Row] = []
    for example in examples:
        if example.is_pair and not fmt.pairs or not example.is_pair and not fmt.singles:
            kind = "preference pairs" if example.is_pair else "single completions"
            raise ConfigError(f"format {name!r} does not take {kind} (strategy "
                              f"{example.metadata.strategy!r}); use a "
                              f"{'pair' if not example.is_pair else 'single-completion'} "
                              "format or another strategy")
        rows += fmt.build(example)
    return _dedupe(rows) if dedupe else rows


_PROVENANCE_KEYS = ("metadata", "question_id", "margin", "score_chosen", "score_rejected")


def _dedupe(rows: list[Row]) -> list[Row]:
    """Drop rows whose content repeats an earlier row's (e.g. one chosen reply in two KTO pairs).

    A per-agent strategy's row repeats only rows of the same agent
    (:func:`debate.export.filters.dedupe_scope`): each agent's rows are its own dataset.
    """
    seen: set[str] = set()
    unique = []
    for row in rows:
        content = {k: v for k, v in row.items() if k not in _PROVENANCE_KEYS}
        key = json.dumps([content, row_dedupe_scope(row)], sort_keys=True)
        if key not in seen:
            seen.add(key)
            unique.append(row)
    drop("duplicate", len(rows) - len(unique))  # counted: the export lists its drops
    return unique
