"""``codescaler verify`` and ``codescaler evaluate``: execution labels, and pass@k from them. No torch here."""

from __future__ import annotations

import argparse
import json
from typing import Any

from codescaler.cli.flags import (
    add_batch_job,
    add_config_flags,
    add_engine_flags,
    add_sandbox_flags,
    config_from_args,
    input_file,
    output_file,
    sandbox_engine,
    say_sandbox_python,
)
from codescaler.execution.sandbox import Limits
from codescaler.execution.verify import TimeLimit
from codescaler.records.jsonl import writable


def register(commands: Any) -> None:
    verify = add_batch_job(
        commands,
        "verify",
        "run every response against its problem's tests",
        "problem records with responses and tests (see `codescaler data export`)",
        "output JSONL: passed, pass_fraction, status and detail per response",
    )
    add_sandbox_flags(verify)
    verify.add_argument(
        "--mode", default="lenient", choices=["strict", "lenient"], help="extraction (default: lenient)"
    )
    verify.add_argument(
        "--all-tests",
        action="store_true",
        help="run every test of a failing program, for its pass_fraction (default: stop at its first failure, as "
        "EvalPlus does; pass_fraction is then null)",
    )
    add_config_flags(verify, Limits)
    add_config_flags(verify, TimeLimit)
    add_engine_flags(verify)
    verify.set_defaults(run=run_verify)

    evaluate = commands.add_parser("evaluate", help="pass@k from `codescaler verify` output")
    evaluate.add_argument("input", type=input_file, help="output of codescaler verify")
    evaluate.add_argument("--k", type=int, nargs="+", default=[1, 10, 100], help="k values (default: 1 10 100)")
    evaluate.add_argument("-o", "--output", type=output_file, default=None, help="also write the figures as JSON")
    evaluate.set_defaults(run=run_evaluate)


def run_verify(args: argparse.Namespace) -> int:
    from codescaler.execution.jobs import verify_job
    from codescaler.execution.sandbox import Sandbox
    from codescaler.records.batch import problem_parser, run_chunked

    limits = config_from_args(args, Limits)
    time_limit = config_from_args(args, TimeLimit)
    say_sandbox_python(limits)
    parse = problem_parser("responses", "tests", runs=True)
    if args.engine == "ray":
        engine = sandbox_engine(args, verify_job, limits, args.mode, time_limit, args.all_tests)
        rows = list(run_chunked(args.input, args.output, parse, engine=engine, resume=args.resume, desc="verify"))
    else:
        with Sandbox(workers=args.workers, limits=limits) as sandbox:
            job = verify_job(sandbox, args.mode, time_limit, args.all_tests)
            rows = list(
                run_chunked(args.input, args.output, parse, job, resume=args.resume, chunk_size=32, desc="verify")
            )
    verdicts = [p for r in rows for p in r.get("passed", [])]
    passed, unrun = sum(p is True for p in verdicts), sum(p is None for p in verdicts)
    errors = sum("error" in r for r in rows)
    print(
        f"verified {len(verdicts)} programs of {len(rows)} problems: {passed} pass ({errors} records with errors"
        + (f"; {unrun} the sandbox could not run: status infrastructure)" if unrun else ")")
    )
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from codescaler.execution.pass_at_k import pass_at_k_report
    from codescaler.records.jsonl import read_lines

    report = pass_at_k_report((r for _, r in read_lines(args.input) if isinstance(r, dict)), args.k)
    print(f"{report['problems']} problems, {report['samples']} samples")
    for k in args.k:
        value = report[f"pass@{k}"]
        print(f"  pass@{k:<4} {'n/a' if value is None else f'{100 * value:6.2f}%'}")
    if args.output:
        with open(writable(args.output), "w") as f:
            json.dump(report, f, indent=2)
    return 0
