"""Reference reward functions for GRPO-style training on debate exports.

The ``grpo`` format writes each prompt with an ``answer`` column: the gold
answer, or the debate's consensus when there is no gold (the "Debate, Train,
Evolve" recipe). TRL's ``GRPOTrainer`` passes dataset columns to reward
functions as keyword arguments, so this plugs in as it is::

    from debate.export.rewards import answer_reward
    trainer = GRPOTrainer(model=..., reward_funcs=[answer_reward("numeric")],
                          train_dataset=load_dataset("json", data_files="train.jsonl")["train"])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from debate.scoring import extract_answer, is_correct
from debate.trace import TaskType

__all__ = ["answer_reward"]


def _text(completion: Any) -> str:
    if isinstance(completion, list):  # conversational: a list of messages
        return str(completion[-1]["content"]) if completion else ""
    return str(completion)


def answer_reward(task: TaskType = "numeric", format_bonus: float = 0.0
                  ) -> Callable[..., list[float]]:
    """A reward function: 1 when a completion's answer matches the row's ``answer``.

    ``format_bonus`` is added when the completion has a parseable answer at all
    (DTE adds format rewards next to the answer reward).
    """

    def reward(completions: Sequence[Any], answer: Sequence[str | None],
               **_: Any) -> list[float]:
        scores = []
        for completion, target in zip(completions, answer, strict=True):
            parsed = extract_answer(_text(completion), task)
            score = 1.0 if is_correct(parsed, target, task) else 0.0
            scores.append(score + (format_bonus if parsed is not None else 0.0))
        return scores

    reward.__name__ = f"answer_reward_{task}"
    return reward
