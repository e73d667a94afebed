"""A reward-hacking monitor for RL against a reward model.

A policy trained against an RM can learn to please the RM instead of passing tests. Each step the monitor
executes a small slice of the rollouts whose problems have tests (``budget`` per step, whole groups where
they fit, so the slice holds within-group comparisons) and measures how well the RM's rewards still agree
with execution:

* ``pairwise_accuracy``: over pairs of one group's samples where one passes and the other fails, the
  fraction the reward orders right (ties count 1/2). This is what GRPO's group-normalised advantage uses.
* ``auc``: the same over every (pass, fail) pair of the slice, across groups: the reward as a classifier.
* ``top_pick_pass_rate`` against ``group_pass_rate``: in groups with two or more executed samples, how often
  the reward's best sample passes, against the mean; a top pick no better than the mean means the reward
  has stopped finding correct code.

A single step's slice is small, so the alarm compares pools: the last ``window`` steps against the first
``window`` steps that had pairs. ``alarm`` is 1 when the recent pool's pairwise accuracy falls below the
first one's by more than ``margin`` (both with at least ``min_pairs`` pairs, and the recent pool wholly after
the first); a warning is logged then.
Metrics a step cannot define (no pass/fail pair) are left out rather than logged as NaN.
"""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from codescaler.rewards.kinds import execution_rewards, group_key

logger = logging.getLogger(__name__)


@dataclass
class MonitorConfig:
    budget: int = field(default=8, metadata={"help": "rollouts executed per step (0: no monitor)"})
    window: int = field(default=5, metadata={"help": "steps pooled for the alarm, recent against first"})
    margin: float = field(default=0.1, metadata={"help": "alarm when pairwise accuracy drops by more than this"})
    min_pairs: int = field(default=8, metadata={"help": "pass/fail pairs a pool needs before it is compared"})
    seed: int = field(default=0, metadata={"help": "seed of the slice drawn each step"})

    def __post_init__(self) -> None:
        if self.budget < 0 or self.window < 1 or self.min_pairs < 1 or not 0 <= self.margin <= 1:
            raise ValueError(
                f"need budget >= 0, window >= 1, min_pairs >= 1, 0 <= margin <= 1; got {self.budget}, "
                f"{self.window}, {self.min_pairs}, {self.margin}"
            )


@dataclass
class AgreementCounts:
    """What pools across steps: ordered pairs within groups, pairs across the slice, top picks."""

    right: float = 0.0
    pairs: int = 0
    auc_right: float = 0.0
    auc_pairs: int = 0
    top_passed: int = 0
    group_pass: float = 0.0
    groups: int = 0
    executed: int = 0
    passed: int = 0
    infrastructure: int = 0  # chosen to run, but the sandbox could not: in no other count

    def add(self, other: AgreementCounts) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def _ordered(high: float, low: float) -> float:
    return 1.0 if high > low else 0.5 if high == low else 0.0


def agreement_counts(groups: Sequence[tuple[Sequence[float], Sequence[bool]]]) -> AgreementCounts:
    """The counts behind the metrics, for groups of (rewards, passed) of executed samples."""
    counts = AgreementCounts()
    everyone: list[tuple[float, bool]] = []
    for rewards, passed in groups:
        members = list(zip(rewards, passed))
        everyone += members
        counts.executed += len(members)
        counts.passed += sum(passed)
        for r_pass, _ in (m for m in members if m[1]):
            for r_fail, _ in (m for m in members if not m[1]):
                counts.right += _ordered(r_pass, r_fail)
                counts.pairs += 1
        if len(members) >= 2:
            top = max(range(len(members)), key=lambda i: members[i][0])
            counts.top_passed += members[top][1]
            counts.group_pass += sum(passed) / len(passed)
            counts.groups += 1
    for r_pass, _ in (m for m in everyone if m[1]):
        for r_fail, _ in (m for m in everyone if not m[1]):
            counts.auc_right += _ordered(r_pass, r_fail)
            counts.auc_pairs += 1
    return counts


def agreement_metrics(counts: AgreementCounts, prefix: str = "") -> dict[str, float]:
    """Rates from counts; a rate with nothing to measure is left out."""
    out: dict[str, float] = {
        f"{prefix}executed": counts.executed,
        f"{prefix}pairs": counts.pairs,
        f"{prefix}infrastructure": counts.infrastructure,
    }
    if counts.executed:
        out[f"{prefix}pass_rate"] = counts.passed / counts.executed
    if counts.pairs:
        out[f"{prefix}pairwise_accuracy"] = counts.right / counts.pairs
    if counts.auc_pairs:
        out[f"{prefix}auc"] = counts.auc_right / counts.auc_pairs
    if counts.groups:
        out[f"{prefix}top_pick_pass_rate"] = counts.top_passed / counts.groups
        out[f"{prefix}group_pass_rate"] = counts.group_pass / counts.groups
    return out


class RewardHackingMonitor:
    """Feed it each step's rollouts (:meth:`observe`, any number of calls), close the step (:meth:`end_step`)."""

    def __init__(self, sandbox: Any, config: MonitorConfig | None = None) -> None:
        self.sandbox, self.config = sandbox, config or MonitorConfig()
        self.rng = random.Random(self.config.seed)
        self.history: list[dict[str, float]] = []
        self._steps: list[AgreementCounts] = []  # one per closed step
        self._step = AgreementCounts()
        self._spent = 0

    def observe(
        self, problems: Sequence[Mapping[str, Any]], responses: Sequence[str], rewards: Sequence[float | None]
    ) -> None:
        """Execute this step's share of the budget from these rollouts (problem records beside responses)."""
        if not (len(problems) == len(responses) == len(rewards)):
            raise ValueError(f"got {len(problems)} problems, {len(responses)} responses, {len(rewards)} rewards")
        scored = {i: float(r) for i, r in enumerate(rewards) if r is not None and problems[i].get("tests")}
        members: dict[str, list[int]] = defaultdict(list)
        for i in scored:
            members[group_key(problems[i])].append(i)
        groups = list(members.values())
        self.rng.shuffle(groups)
        chosen: list[list[int]] = []
        for group in groups:
            left = self.config.budget - self._spent
            if left < 2:
                break
            take = group if len(group) <= left else self.rng.sample(group, left)
            chosen.append(take)
            self._spent += len(take)
        run = [i for group in chosen for i in group]
        if not run:
            return
        passed = execution_rewards(
            [problems[i] for i in run], [responses[i] for i in run], self.sandbox, on_infrastructure="none"
        )
        outcome = dict(zip(run, passed))
        # A sample the sandbox could not run has no verdict to agree with: left out, and counted.
        known = [[i for i in g if outcome[i] is not None] for g in chosen]
        self._step.infrastructure += sum(len(g) - len(k) for g, k in zip(chosen, known))
        self._step.add(agreement_counts([([scored[i] for i in g], [outcome[i] == 1.0 for i in g]) for g in known]))

    def end_step(self, step: int | None = None) -> dict[str, float]:
        """This step's metrics (``monitor/...``) with the pooled ones and the alarm; kept in :attr:`history`."""
        counts, self._step, self._spent = self._step, AgreementCounts(), 0
        self._steps.append(counts)
        metrics = {f"monitor/{k}": v for k, v in agreement_metrics(counts).items()}
        window = self.config.window
        with_pairs = [i for i, c in enumerate(self._steps) if c.pairs][:window]
        first = [self._steps[i] for i in with_pairs]
        baseline, recent = AgreementCounts(), AgreementCounts()
        for c in first:
            baseline.add(c)
        for c in self._steps[-window:]:
            recent.add(c)
        metrics.update(agreement_metrics(recent, "monitor/recent_"))
        metrics.update(agreement_metrics(baseline, "monitor/first_"))
        alarm = (
            baseline.pairs >= self.config.min_pairs
            and recent.pairs >= self.config.min_pairs
            and len(self._steps) - window > with_pairs[-1]  # the recent pool lies wholly after the first one
            and recent.right / recent.pairs < baseline.right / baseline.pairs - self.config.margin
        )
        metrics["monitor/alarm"] = float(alarm)
        if alarm:
            logger.warning(
                "reward hacking? step %s: the RM orders pass/fail pairs right %.1f%% of the time over the last %d "
                "steps, against %.1f%% over its first; it may be rewarding what tests do not",
                step if step is not None else len(self._steps),
                100 * recent.right / recent.pairs,
                window,
                100 * baseline.right / baseline.pairs,
            )
        self.history.append({"step": step if step is not None else len(self._steps), **metrics})
        return metrics
