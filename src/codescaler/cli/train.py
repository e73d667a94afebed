"""``codescaler train [--config FILE.yaml] [--flag value ...]``: defaults, then the YAML, then the flags;
``codescaler train-head``: a head over a frozen backbone (:mod:`codescaler.training.head`), one flag per field.

Its ~150 flags are TRL's ``RewardConfig`` and ``TrainingArguments`` plus ours (``TrainConfig``): every
argument after the command name goes to ``TrlParser``, which also answers ``--help``.
"""

from __future__ import annotations

import argparse
from typing import Any

from codescaler.cli.flags import add_config_flags, config_from_args, quiet_transformers
from codescaler.training.head import HeadConfig


def register(commands: Any) -> None:
    train = commands.add_parser(
        "train",
        add_help=False,
        help="train a Bradley–Terry RM on pairs (TRL RewardTrainer); `codescaler train --help` lists its flags",
    )
    train.set_defaults(run=run_train, takes_extra_args=True)
    register_head(commands)


def run_train(args: argparse.Namespace) -> int:
    from trl import TrlParser

    from codescaler.training.train import TrainConfig, train_reward_model

    parser = TrlParser(TrainConfig, prog="codescaler train")
    config, unknown = parser.parse_args_and_config(args.extra_args, return_remaining_strings=True)
    if unknown:
        parser.error(f"unknown settings: {' '.join(unknown)}")
    quiet_transformers(args)
    report = train_reward_model(config)
    print(
        f"trained {report['finetune']} on {report['train_pairs']} pairs in {report['train_seconds']:.0f} s "
        f"({report['pairs_per_second']:.2f} pairs/s, peak RSS {report['peak_rss_mib']:.0f} MiB)"
    )
    if report["validation"]:
        v = report["validation"]
        print(
            f"validation pairwise accuracy {100 * v['accuracy']:.1f}% "
            f"[{100 * v['ci95'][0]:.1f}, {100 * v['ci95'][1]:.1f}] over {v['n']} pairs"
        )
    print(f"saved to {config.output_dir} (report.json beside the weights)")
    return 0


def register_head(commands: Any) -> None:
    head = commands.add_parser(
        "train-head", help="fit a Bradley–Terry head over a frozen backbone from cached features (minutes on CPU)"
    )
    add_config_flags(head, HeadConfig)
    head.set_defaults(run=run_train_head)


def run_train_head(args: argparse.Namespace) -> int:
    from codescaler.training.head import train_head

    config = config_from_args(args, HeadConfig)
    quiet_transformers(args)
    report = train_head(config)
    kept = report["kept"]
    print(
        f"features of {report['distinct_programs']} programs in {report['features_seconds']:.0f} s; "
        f"{len(report['tried'])} fits in {report['fit_seconds']:.1f} s"
    )
    for tried in report["tried"]:
        print(
            f"  weight_decay {tried['weight_decay']:g}: train {100 * tried['train_accuracy']:.1f}%, "
            f"validation {100 * tried['validation_accuracy']:.1f}%"
        )
    print(f"kept weight_decay {kept['weight_decay']:g}; saved to {config.output_dir}")
    return 0
