"""Plot GRPO runs side by side from their `codescaler rl` reports: reward, validity, completion length.

python bench/rl_curves.py bench/results/rl/rm/report.json bench/results/rl/execution/report.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def series(log: list[dict], key: str) -> tuple[list[int], list[float]]:
    rows = [r for r in log if key in r]
    return [r["step"] for r in rows], [r[key] for r in rows]


def main() -> None:
    reports = [json.loads(Path(p).read_text()) for p in sys.argv[1:]]
    panels = [
        ("reward", "reward (mean over the batch)"),
        ("reward_std", "reward std"),
        ("rewards/valid_code/mean", "fraction with valid code"),
        ("completions/mean_length", "completion length (tokens)"),
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6))
    for report in reports:
        c = report["config"]
        label = (
            f"{c['reward']} reward: pass {100 * report['pass_rate_before']:.0f}% -> "
            f"{100 * report['pass_rate_after']:.0f}%"
        )
        for ax, (key, title) in zip(axes, panels):
            ax.plot(*series(report["log_history"], key), marker=".", label=label)
            ax.set_title(title)
            ax.set_xlabel("GRPO step")
            ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("GRPO of SmolLM2-135M-Instruct on MBPP (greedy pass rate on held-out MBPP in the legend)")
    fig.tight_layout()
    out = Path(sys.argv[1]).parents[1] / "curves.png"
    fig.savefig(out, dpi=110)
    print(f"-> {out}")


if __name__ == "__main__":
    main()
