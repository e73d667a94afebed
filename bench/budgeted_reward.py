"""The budgeted RL reward on a stored batch of rollouts: how much execution buys how much agreement.

A pool of sampled programs with their ground truth stands for the rollouts of GRPO steps: each problem's
candidates are cut, in order, into groups of ``--group-size`` (the samples of one prompt). For each budget
K and rule (``top``: the judge's top K of each group run; ``unsure``: the K whose P(pass) is nearest 1/2;
``random``: K at random, the control a judge's choice must beat),
the budgeted reward is the execution reward where the sample ran and the judge's P(pass) elsewhere, decided
by the same :func:`codescaler.rewards.selective.budget_choice` the ``budgeted`` reward calls. It is measured against
full execution (every sample run, the paper's baseline reward):

* ``executed``: the fraction of samples run (the sandbox cost per step, relative to full execution);
* ``pair_agreement``: within groups, the fraction of (passing, failing) sample pairs the reward orders as
  execution does (ties count half): the comparisons GRPO's advantages are made of;
* ``advantage_r``: Pearson correlation of the group-normalised advantages with full execution's, over
  the groups where execution has any signal (both outcomes present).

No RL run and no model compute: the judge's rewards and the ground truth come from a ``codescaler bon``
report folder's caches (the judge is loaded only to name its weights).

    python bench/budgeted_reward.py runs/codet.jsonl --bon-dir runs/bon-codet164 --name codet_humaneval
"""

from __future__ import annotations

import argparse
import math
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import write_result

from codescaler.execution.sandbox import Sandbox
from codescaler.judges import load_judge
from codescaler.measure.bon_facts import ground_truth, judge_facts
from codescaler.records.jsonl import read_lines
from codescaler.rewards.selective import BUDGET_RULES, budget_choice
from codescaler.rewards.shaping import pass_probability


def advantages(rewards: list[float]) -> list[float]:
    """GRPO's group-normalised advantages (population std, as TRL's default scaling)."""
    mean = sum(rewards) / len(rewards)
    sd = math.sqrt(sum((r - mean) ** 2 for r in rewards) / len(rewards))
    return [(r - mean) / (sd + 1e-4) for r in rewards]


def choose(estimates: list[float], k: int, rule: str, rng: random.Random) -> list[bool]:
    """The library's choice for one group; ``random`` (K samples at random) is the control it must beat."""
    if rule == "random":
        picked = set(rng.sample(range(len(estimates)), min(k, len(estimates))))
        return [i in picked for i in range(len(estimates))]
    return budget_choice(estimates, [0] * len(estimates), k, rule)


def measure(groups: list[tuple[list[float], list[bool]]], k: int, rule: str) -> dict[str, Any]:
    """Budgeted against full execution over ``groups`` of (judge P(pass), passed) per sample."""
    executed = total = 0
    agree = pairs = 0.0
    budgeted_adv: list[float] = []
    execution_adv: list[float] = []
    rng = random.Random(0)
    for estimates, passed in groups:
        chosen = choose(estimates, k, rule, rng)
        rewards = [float(y) if c else p for p, y, c in zip(estimates, passed, chosen)]
        executed, total = executed + sum(chosen), total + len(chosen)
        for i, yi in enumerate(passed):
            for j, yj in enumerate(passed):
                if yi and not yj:
                    pairs += 1
                    agree += 1.0 if rewards[i] > rewards[j] else 0.5 if rewards[i] == rewards[j] else 0.0
        if any(passed) and not all(passed):
            budgeted_adv += advantages(rewards)
            execution_adv += advantages([float(y) for y in passed])
    return {
        "k": k,
        "rule": rule,
        "executed": executed / total,
        "pair_agreement": agree / pairs if pairs else float("nan"),
        "advantage_r": float(np.corrcoef(budgeted_adv, execution_adv)[0, 1]) if budgeted_adv else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pool", help="problems with responses and tests or labels (the bon run's input)")
    parser.add_argument("--bon-dir", required=True, help="a `codescaler bon` report folder: its cache is read")
    parser.add_argument("--model", default="codescaler-mini", help="the RM the bon run scored with")
    parser.add_argument("--group-size", type=int, default=8, help="samples per GRPO group (default: 8)")
    parser.add_argument("--k", type=int, nargs="+", default=[0, 1, 2, 4, 8], help="budgets per group")
    parser.add_argument("--limit", type=int, default=0, help="only the first this many problems (0: all)")
    parser.add_argument("--name", required=True, help="result name: bench/results/budgeted_reward_{name}.json")
    args = parser.parse_args()

    pool = [record for _, record in read_lines(args.pool)][: args.limit or None]
    cache = Path(args.bon_dir) / "cache"
    judge = load_judge("rm", args.model, dtype="float32")
    start = time.perf_counter()
    facts = judge_facts(pool, judge, args.model, "strict", "syntax", cache)  # cached by the bon run
    with Sandbox() as sandbox:
        truth = ground_truth(pool, sandbox, cache)
    groups = []
    for fact, t in zip(facts, truth):
        estimates = [pass_probability(r) for r in fact["rewards"]]
        for g in range(0, len(estimates) - args.group_size + 1, args.group_size):
            groups.append((estimates[g : g + args.group_size], t["passed"][g : g + args.group_size]))
    rows = [measure(groups, k, rule) for rule in (*BUDGET_RULES, "random") for k in args.k if k or rule == "top"]
    print(f"{len(groups)} groups of {args.group_size} from {len(pool)} problems, judge {args.model}")
    print(f"{'rule':<7} {'K':>3} {'executed':>9} {'pair agreement':>15} {'advantage r':>12}")
    for row in rows:
        print(
            f"{row['rule']:<7} {row['k']:>3} {100 * row['executed']:>8.1f}% "
            f"{100 * row['pair_agreement']:>14.1f}% {row['advantage_r']:>12.3f}"
        )
    path = write_result(
        f"budgeted_reward_{args.name}",
        {
            "pool": args.pool,
            "model": args.model,
            "problems": len(pool),
            "groups": len(groups),
            "group_size": args.group_size,
            "pass_rate": sum(sum(p) for _, p in groups) / sum(len(p) for _, p in groups),
            "seconds": time.perf_counter() - start,
            "rows": rows,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
