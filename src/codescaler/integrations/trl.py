"""Reward functions for TRL's ``GRPOTrainer(reward_funcs=[...])``.

TRL calls ``f(prompts=..., completions=..., completion_ids=..., **columns)`` where ``columns`` are the
dataset's other columns, one value per completion, and expects one float (or None: "cannot judge") per
completion. Prompts and completions are strings, or chat messages for conversational datasets.

These classes only map TRL's arguments onto :func:`codescaler.rewards.kinds.kind_rewards`, which defines the kinds:

* :class:`RMReward`: the CodeScaler reward: extract, score with the RM, shape (invalid -> 0).
* :class:`ExecutionReward`: the paper's baseline: 1.0 when every test passes, else 0.0 (None: no tests).
* :class:`HybridReward`: execution where a sample's problem has tests, the RM where it has none.
* :class:`BudgetedReward`: execution for ``budget_k`` samples of each group, the RM's P(pass) for the rest;
  it logs the fraction executed as ``codescaler/executed_fraction`` (TRL's ``log_metric``).
* :class:`RewardHackingCallback`: executes a slice of each step's rollouts and logs how well a reward still
  agrees with execution (:mod:`codescaler.measure.monitor`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from transformers import TrainerCallback

from codescaler.judges.weights import DEFAULT_MODEL
from codescaler.measure.monitor import MonitorConfig, RewardHackingMonitor
from codescaler.rewards.kinds import (
    OnInfrastructure,
    RMFunction,
    ScoringConfig,
    budgeted_rewards,
    kind_rewards,
    model_rewards,
)
from codescaler.rewards.selective import BudgetRule

# Dataset columns that describe a sample's problem, as in a problem record.
_PROBLEM_COLUMNS = ("question", "tests", "entry_point", "code_prefix", "prelude", "language")


def message_text(value: Any, role: str | None = None) -> str:
    """The text of a plain prompt/completion, or of the last message (of ``role``) of a conversation."""
    if isinstance(value, str):
        return value
    messages = [m for m in value if role is None or m.get("role") == role] or list(value)
    return messages[-1]["content"] if messages else ""


def _problems(prompts: Sequence[Any], columns: dict[str, Any]) -> list[dict[str, Any]]:
    """One problem per sample from TRL's columns; the question defaults to the prompt's last user turn."""
    problems = []
    for i, prompt in enumerate(prompts):
        problem = {
            k: columns[k][i] for k in _PROBLEM_COLUMNS if columns.get(k) is not None and columns[k][i] is not None
        }
        if isinstance(problem.get("tests"), str):
            problem["tests"] = json.loads(problem["tests"])  # datasets store a list of mixed dicts as JSON text
        problem.setdefault("question", message_text(prompt, "user"))
        problems.append(problem)
    return problems


class _KindReward:
    kind = ""

    def __init__(
        self, rm: RMFunction | None = None, sandbox=None, on_infrastructure: OnInfrastructure = "raise"
    ) -> None:
        self.rm, self.sandbox, self.on_infrastructure = rm, sandbox, on_infrastructure
        self.__name__ = f"codescaler_{self.kind}"  # TRL logs each reward under its function's name

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], **columns: Any) -> list[float | None]:
        responses = [message_text(c, "assistant") for c in completions]
        problems = _problems(prompts, columns)
        return kind_rewards(
            self.kind, problems, responses, rm=self.rm, sandbox=self.sandbox, on_infrastructure=self.on_infrastructure
        )


class RMReward(_KindReward):
    """Scores completions with a reward model: a loaded one, or what ``--model`` takes (a name, a folder, or an
    engine's address such as ``vllm+http://rm-node:8000``)."""

    kind = "rm"

    def __init__(self, model: Any = DEFAULT_MODEL, config: ScoringConfig | None = None) -> None:
        if isinstance(model, str):
            from codescaler.judges import load_judge

            model = load_judge("rm", model)
        super().__init__(rm=model_rewards(model, config))


class ExecutionReward(_KindReward):
    """Runs each completion against the tests of its ``tests`` column (a list, or its JSON text) in the sandbox
    given, or in one of its own, closed by :meth:`close`. A sample the sandbox cannot run raises
    ``InfrastructureError``, or with ``on_infrastructure="none"`` gets None (see :mod:`codescaler.rewards.kinds`)."""

    kind = "execution"

    def __init__(self, sandbox=None, workers: int | None = None, on_infrastructure: OnInfrastructure = "raise") -> None:
        from codescaler.execution.sandbox import Sandbox

        self._owned = sandbox is None
        super().__init__(sandbox=sandbox or Sandbox(workers=workers), on_infrastructure=on_infrastructure)

    def close(self) -> None:
        if self._owned:
            self.sandbox.close()

    def __enter__(self) -> ExecutionReward:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class HybridReward(_KindReward):
    """Execution where a problem has tests, the RM where it has none."""

    kind = "hybrid"

    def __init__(self, rm: RMReward, execution: ExecutionReward) -> None:
        super().__init__(rm=rm.rm, sandbox=execution.sandbox, on_infrastructure=execution.on_infrastructure)


class BudgetedReward(_KindReward):
    """Per group, execution for the judge's top ``budget_k`` samples (``budget_rule="unsure"``: the ones whose
    P(pass) is nearest 1/2), the judge's P(pass) for the others: a sandbox cost per step that is bounded."""

    kind = "budgeted"

    def __init__(
        self, rm: RMReward, execution: ExecutionReward, budget_k: int = 2, budget_rule: BudgetRule = "top"
    ) -> None:
        super().__init__(rm=rm.rm, sandbox=execution.sandbox, on_infrastructure=execution.on_infrastructure)
        self.budget_k, self.budget_rule = budget_k, budget_rule

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], **columns: Any) -> list[float | None]:
        assert self.rm is not None
        rewards, executed = budgeted_rewards(
            _problems(prompts, columns),
            [message_text(c, "assistant") for c in completions],
            rm=self.rm,
            sandbox=self.sandbox,
            budget_k=self.budget_k,
            budget_rule=self.budget_rule,
            on_infrastructure=self.on_infrastructure,
        )
        if columns.get("log_metric") is not None:  # TRL >= 1.0 passes it; the mean over a step is logged
            columns["log_metric"]("codescaler/executed_fraction", sum(executed) / max(len(executed), 1))
        return list(rewards)


class RewardHackingCallback(TrainerCallback):
    """The reward-hacking monitor (:mod:`codescaler.measure.monitor`) as a TRL callback::

        monitor = RewardHackingCallback(sandbox, MonitorConfig(budget=8))
        GRPOTrainer(..., reward_funcs=[monitor.watch(RMReward(...))], callbacks=[monitor])

    :meth:`watch` wraps the reward whose agreement with execution is watched: it sees each batch of
    rollouts with their rewards and executes the step's slice. At each step's end the ``monitor/...``
    metrics join that step's log (``log_history``, wandb, ...), and a drop below the first steps' agreement
    logs a warning."""

    def __init__(self, sandbox: Any, config: MonitorConfig | None = None) -> None:
        self.monitor = RewardHackingMonitor(sandbox, config)
        self._latest: dict[str, float] | None = None

    def watch(self, reward: Any) -> Any:
        def watched(prompts: Sequence[Any], completions: Sequence[Any], **columns: Any) -> list[float | None]:
            rewards = reward(prompts, completions, **columns)
            responses = [message_text(c, "assistant") for c in completions]
            self.monitor.observe(_problems(prompts, columns), responses, rewards)
            return rewards

        watched.__name__ = getattr(reward, "__name__", "reward")  # TRL logs a reward under its function's name
        return watched

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._latest = self.monitor.end_step(state.global_step)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if logs is not None and self._latest is not None and "loss" in logs:  # a training log, not an eval one
            # The Trainer appended a copy of `logs` to log_history before calling us: update both.
            logs.update(self._latest)
            state.log_history[-1].update(self._latest)
            self._latest = None
