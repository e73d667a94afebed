"""``codescaler eval-policy``: a policy on the paper's benchmarks, its Avg@n and pass@k, beside a baseline."""

from __future__ import annotations

import argparse
import json
from functools import partial
from pathlib import Path
from typing import Any

from codescaler.cli.flags import (
    add_config_flags,
    add_engine_flags,
    add_sandbox_flags,
    config_from_args,
    quiet_transformers,
    ray_engine,
    sandbox_engine,
    say_sandbox_python,
)
from codescaler.evaluation.policy import PolicyEvalConfig
from codescaler.records.errors import InputError


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "eval-policy",
        help="sample a policy on the paper's benchmarks and run every sample: Avg@n, pass@k, a baseline beside it",
    )
    parser.add_argument("model", help="hub id, folder, packaged name, or an OpenAI-compatible openai+http://host/v1")
    parser.add_argument("-o", "--output", required=True, help="run folder: samples, verdicts, report (resumable)")
    parser.add_argument("--baseline", type=Path, help="another run's folder: paired per-problem differences")
    add_config_flags(parser, PolicyEvalConfig)
    add_sandbox_flags(parser)
    parser.add_argument("--python", default="", help="the interpreter samples run under (see verify --python)")
    add_engine_flags(parser)  # sampling on actors that hold the policy (--ray-gpus each), then verifying on CPU actors
    parser.set_defaults(run=run_eval_policy)


def run_eval_policy(args: argparse.Namespace) -> int:
    from codescaler.evaluation.policy import evaluate_policy, sample_job
    from codescaler.evaluation.report import build_report
    from codescaler.execution.jobs import verify_job
    from codescaler.execution.sandbox import Limits, Sandbox

    config = config_from_args(args, PolicyEvalConfig)
    try:
        limits = Limits(python=args.python)
    except ValueError as err:
        raise InputError(str(err)) from None
    if not args.model.startswith("openai+"):  # a served policy needs no transformers here
        quiet_transformers(args)
    if args.baseline is not None and not (args.baseline / "report.json").is_file():
        raise InputError(f"--baseline {args.baseline}: no report.json there (a finished eval-policy run's folder)")
    engines = {}
    if args.engine == "ray":
        engines = {
            "sampling": ray_engine(args, partial(sample_job, args.model, config), batch_size=config.chunk_size),
            "verifying": sandbox_engine(args, verify_job, limits, config.extraction),
        }
    python = say_sandbox_python(limits)
    try:
        with Sandbox(workers=args.workers, limits=limits) as sandbox:
            evaluate_policy(args.model, args.output, config, sandbox, **engines)
        (Path(args.output) / "sandbox.json").write_text(json.dumps(python, indent=1) + "\n")  # what samples ran under
    except ValueError as err:
        raise InputError(str(err)) from None
    report = build_report(Path(args.output), config.ks, args.baseline, config.train_data)
    n = report["n"]
    for name, b in report["benchmarks"].items():
        avg = b[f"avg@{n}"]
        print(
            f"{name:>16}: Avg@{n} {100 * avg['mean']:5.1f}% [{100 * avg['low']:.1f}, {100 * avg['high']:.1f}] "
            f"over {b['problems']} problems; {b['tokens_per_sample']:.0f} tokens/sample, code in "
            f"{100 * b['validity']:.0f}%, cut off {100 * b['truncated']:.0f}%"
        )
    for name, d in report.get("baseline", {}).get("benchmarks", {}).items():
        diff = d["difference"]
        print(
            f"{name:>16}: {100 * diff['mean']:+.1f} points vs the baseline "
            f"[{100 * diff['low']:+.1f}, {100 * diff['high']:+.1f}]"
        )
    print(f"-> {Path(args.output) / 'report.md'}")
    return 0
