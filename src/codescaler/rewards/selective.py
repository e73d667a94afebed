"""Selective execution: the judge decides which programs are worth running.

A judge is cheap and fallible, execution is exact and costly. These rules spend a bounded execution budget
where the judge's order says it matters; each is a plain function of the judge's rewards, so ``bon``
measures exactly the rule that ``rank --verify-top`` and the ``budgeted`` RL reward apply:

* :func:`program_order`: one problem's distinct runnable programs, best judged first. Identical programs
  run once, so budgets count programs, not candidates;
* :func:`verify_top`: run the judge's top programs against the problem's tests, in order, until one
  passes;
* :func:`budget_choice`: which samples of each GRPO group to execute: the judge's top K, or the K it is
  least sure of.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from codescaler.extraction.extract import Mode

BudgetRule = Literal["top", "unsure"]
BUDGET_RULES: tuple[str, ...] = ("top", "unsure")


def program_order(
    rewards: Sequence[float], programs: Sequence[Hashable | None], subset: Sequence[int] | None = None
) -> list[list[int]]:
    """The distinct runnable programs among ``subset`` (default: all candidates), best judged first, each as
    the candidate indices that share it. A program ranks by its best candidate; ties keep index order;
    candidates with no runnable program (``None``) are left out."""
    members: dict[Hashable, list[int]] = {}
    indices = range(len(rewards)) if subset is None else subset
    for i in sorted(indices, key=lambda i: (-rewards[i], i)):
        if programs[i] is not None:
            members.setdefault(programs[i], []).append(i)
    return list(members.values())


@dataclass(frozen=True)
class VerifiedTop:
    """What :func:`verify_top` did: ``pick`` is the first candidate that passed, else the judge's top-1."""

    pick: int
    passed: bool
    run: list[int]  # the candidates whose programs ran, in order (one per distinct program)
    verdicts: list[bool]  # passed, per program run


def verify_top(
    problem: dict[str, Any], rewards: Sequence[float], k: int, sandbox, *, mode: Mode = "lenient"
) -> VerifiedTop:
    """Run ``problem['responses']``' programs against ``problem['tests']`` in the judge's order (``rewards``),
    one at a time, until one passes or ``k`` programs have run.

    One at a time on purpose: the point is to run as few as possible, and the judge's top program passes
    most often.
    """
    from codescaler.execution.verify import program_of, require_verdicts, verify_responses

    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if not problem.get("tests"):
        raise ValueError(f"problem {problem.get('id')!r} has no tests to verify against")
    responses = problem["responses"]
    if len(rewards) != len(responses):
        raise ValueError(f"got {len(rewards)} rewards for {len(responses)} responses")
    programs = [program_of(problem, r, mode)[0] for r in responses]
    run, verdicts = [], []
    for members in program_order(rewards, programs)[:k]:
        run_one = verify_responses([{**problem, "responses": [responses[members[0]]]}], sandbox, mode=mode)
        (verdict,) = require_verdicts(next(run_one), f"problem {problem.get('id')!r}, response {members[0]}")
        run.append(members[0])
        verdicts.append(verdict.passed)
        if verdict.passed:
            return VerifiedTop(members[0], True, run, verdicts)
    top = min(range(len(rewards)), key=lambda i: (-rewards[i], i))
    return VerifiedTop(top, False, run, verdicts)


def budget_choice(
    pass_probabilities: Sequence[float], groups: Sequence[Hashable], k: int, rule: BudgetRule = "top"
) -> list[bool]:
    """Which samples to execute: in each group (the samples of one problem), the ``k`` the judge ranks highest
    (``top``: its false positives are what a policy learns to exploit) or the ``k`` whose P(pass) is nearest
    1/2 (``unsure``: where execution changes the reward most). Ties keep sample order."""
    if rule not in BUDGET_RULES:
        raise ValueError(f"rule must be one of {', '.join(BUDGET_RULES)}, got {rule!r}")
    if k < 0:
        raise ValueError(f"k must be at least 0, got {k}")
    if len(pass_probabilities) != len(groups):
        raise ValueError(f"got {len(pass_probabilities)} probabilities for {len(groups)} samples")
    members: dict[Hashable, list[int]] = {}
    for i, group in enumerate(groups):
        members.setdefault(group, []).append(i)
    chosen = [False] * len(groups)
    for indices in members.values():
        if rule == "top":
            indices = sorted(indices, key=lambda i: -pass_probabilities[i])
        else:
            indices = sorted(indices, key=lambda i: abs(pass_probabilities[i] - 0.5))
        for i in indices[:k]:
            chosen[i] = True
    return chosen
