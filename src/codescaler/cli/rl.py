"""``codescaler rl``: GRPO of a code policy with TRL."""

from __future__ import annotations

import argparse
from typing import Any

from codescaler.cli.flags import add_config_flags, config_from_args, quiet_transformers
from codescaler.rl.grpo import RLConfig


def register(commands: Any) -> None:
    rl = commands.add_parser("rl", help="GRPO of a code policy with TRL against the RM, execution, or both")
    add_config_flags(rl, RLConfig)
    rl.set_defaults(run=run_rl)


def run_rl(args: argparse.Namespace) -> int:
    from codescaler.rl.grpo import train_policy

    quiet_transformers(args)
    report = train_policy(config_from_args(args, RLConfig))
    print(
        f"greedy pass rate on {report['held_out_problems']} held-out problems: "
        f"{100 * report['pass_rate_before']:.1f}% before, {100 * report['pass_rate_after']:.1f}% after"
    )
    print(f"logs: {args.output_dir}/report.json")
    return 0
