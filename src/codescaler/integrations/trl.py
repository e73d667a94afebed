"""Reward functions for TRL's ``GRPOTrainer(reward_funcs=[...])``.

TRL calls ``f(prompts=..., completions=..., completion_ids=..., **columns)`` where ``columns`` are the
dataset's other columns, one value per completion, and expects one float (or None: "cannot judge") per
completion. Prompts and completions are strings, or chat messages for conversational datasets.

* :class:`RMReward`: the CodeScaler reward: extract, score with the RM, shape (invalid -> 0).
* :class:`ExecutionReward`: the paper's baseline: 1.0 when every test passes, else 0.0.
* :class:`HybridReward`: execution where a sample's problem has tests, the RM where it has none.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from codescaler.model import DEFAULT_MODEL, RewardModel
from codescaler.reward import RewardConfig, reward


def message_text(value: Any, role: str | None = None) -> str:
    """The text of a plain prompt/completion, or of the last message (of ``role``) of a conversation."""
    if isinstance(value, str):
        return value
    messages = [m for m in value if role is None or m.get("role") == role] or list(value)
    return messages[-1]["content"] if messages else ""


def _tests(value: Any) -> list[dict[str, Any]] | None:
    if value is None:
        return None
    return json.loads(value) if isinstance(value, str) else list(value)


class RMReward:
    """``reward_funcs`` entry scoring completions with a reward model.

    The question is the dataset's ``question`` column when present, else the prompt's last user turn.
    A ``code_prefix`` column makes completions continue it (HumanEval style).
    """

    def __init__(self, model: RewardModel | str = DEFAULT_MODEL, config: RewardConfig | None = None) -> None:
        self.model = RewardModel.from_pretrained(model) if isinstance(model, str) else model
        self.config = config or RewardConfig()
        self.__name__ = "codescaler_rm"  # TRL logs each reward under its function's name

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], **columns: Any) -> list[float]:
        questions = columns.get("question") or [message_text(p, "user") for p in prompts]
        results = reward(
            self.model, questions, [message_text(c, "assistant") for c in completions],
            code_prefixes=columns.get("code_prefix"), config=self.config, show_progress=False,
        )  # fmt: skip
        log_metric = columns.get("log_metric")
        if log_metric is not None and results:
            log_metric("codescaler/valid_fraction", sum(r.valid for r in results) / len(results))
        return [r.reward for r in results]


class ExecutionReward:
    """``reward_funcs`` entry: 1.0 when the completion passes every test of its ``tests`` column, else 0.0.

    ``tests`` holds the problem's tests (a list, or its JSON text) in codescaler's record schema;
    ``entry_point``, ``code_prefix`` and ``prelude`` columns are used when present. None where no tests.
    """

    def __init__(self, sandbox=None, mode: str = "strict", workers: int | None = None) -> None:
        from codescaler.sandbox import Sandbox

        self.sandbox = sandbox or Sandbox(workers=workers)
        self.mode = mode
        self.__name__ = "codescaler_execution"

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], **columns: Any) -> list[float | None]:
        from codescaler.verify import verify_responses

        n = len(completions)
        problems, where = [], []
        for i in range(n):
            tests = _tests((columns.get("tests") or [None] * n)[i])
            if not tests:
                continue
            problem = {"id": str(i), "question": "", "tests": tests,
                       "responses": [message_text(completions[i], "assistant")]}  # fmt: skip
            for key in ("entry_point", "code_prefix", "prelude", "language"):
                if columns.get(key) is not None and columns[key][i] is not None:
                    problem[key] = columns[key][i]
            problems.append(problem)
            where.append(i)
        out: list[float | None] = [None] * n
        for i, verdicts in zip(where, verify_responses(problems, self.sandbox, mode=self.mode)):
            out[i] = 1.0 if verdicts[0].passed else 0.0
        return out


class HybridReward:
    """Execution where a problem has tests, the RM where it has none.

    The two scales differ (execution is 0/1, shaped RM rewards are softplus scores); GRPO normalises
    advantages within a group, and a group shares its problem, so one group never mixes the two.
    """

    def __init__(self, rm: RMReward, execution: ExecutionReward) -> None:
        self.rm, self.execution = rm, execution
        self.__name__ = "codescaler_hybrid"

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], **columns: Any) -> list[float]:
        executed = self.execution(prompts, completions, **columns)
        missing = [i for i, r in enumerate(executed) if r is None]
        if not missing:
            return executed
        subset = {k: [v[i] for i in missing] if isinstance(v, list) else v for k, v in columns.items()}
        scored = self.rm([prompts[i] for i in missing], [completions[i] for i in missing], **subset)
        for i, value in zip(missing, scored):
            executed[i] = value
        return executed
