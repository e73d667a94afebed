"""``codescaler bon``, ``pairwise`` and ``rmbench``: measure selection and reward models."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

from codescaler.bon import BonConfig
from codescaler.cli.flags import add_config_flags, add_model_flags, add_sandbox_flags, config_from_args, load_model
from codescaler.rm_eval import BUILTIN_PAIRS


def register(commands: Any) -> None:
    bon = commands.add_parser("bon", help="best-of-N selection: RM against unit-test methods, with a report")
    bon.add_argument("input", help="pool: problem records with responses and tests or labels (+ generated_tests)")
    bon.add_argument("-o", "--output", required=True, help="report folder (also holds the caches)")
    add_sandbox_flags(bon)
    bon.add_argument("--limit", type=int, default=0, help="only the first this many problems (0: all)")
    add_model_flags(bon)
    add_config_flags(bon, BonConfig)
    bon.set_defaults(run=run_bon)

    pairwise = commands.add_parser("pairwise", help="pairwise accuracy r(chosen) > r(rejected) of one or more RMs")
    pairwise.add_argument("input", help=f"pairs JSONL, or a built-in set ({', '.join(BUILTIN_PAIRS)})")
    pairwise.add_argument("--group-by", nargs="+", default=[], help="fields to break accuracy down by")
    pairwise.add_argument("--extract", action="store_true", help="extract code from chosen/rejected first")
    pairwise.set_defaults(run=run_pairwise)

    rmbench = commands.add_parser("rmbench", help="the RM-Bench protocol (3 chosen x 3 rejected styles)")
    rmbench.add_argument("input", help="JSON list (or JSONL) of {prompt, chosen[3], rejected[3], language?}")
    rmbench.add_argument("--extract", action="store_true", help="extract code from each response first")
    rmbench.set_defaults(run=run_rmbench)
    for parser in (pairwise, rmbench):
        parser.add_argument("--models", nargs="+", default=None, help="models compared side by side (default: --model)")
        parser.add_argument("-o", "--output", default=None, help="also write the figures as JSON")
        add_model_flags(parser)


def run_bon(args: argparse.Namespace) -> int:
    from codescaler.bon import best_of_n
    from codescaler.jsonl import read_lines
    from codescaler.sandbox import Limits, Sandbox
    from codescaler.schema import Problem, RecordError, check_record

    config = config_from_args(args, BonConfig)
    pool = []
    try:
        for number, record in read_lines(args.input):
            if isinstance(record, RecordError):
                raise record
            needed = ("id", "responses") + (() if "labels" in record else ("tests",))
            pool.append(check_record(record, Problem, number, required=needed))
    except RecordError as err:
        raise SystemExit(f"{args.input}: {err}") from None
    pool = pool[: args.limit or None]
    model = load_model(args) if config.needs_rm else None
    with Sandbox(workers=args.workers, limits=dataclasses.replace(Limits(), timeout=config.test_timeout)) as sandbox:
        best_of_n(pool, args.output, config=config, model=model, model_id=args.model, sandbox=sandbox)
    print((Path(args.output) / "report.md").read_text())
    return 0


def _write(args: argparse.Namespace, results: dict[str, Any]) -> None:
    if args.output:
        with open(args.output, "w") as f:
            json.dump({"input": args.input, "results": results}, f, indent=2)


def run_pairwise(args: argparse.Namespace) -> int:
    from codescaler.pairs import read_pairs
    from codescaler.rm_eval import builtin_pairs, pairwise

    pairs = builtin_pairs(args.input) if args.input in BUILTIN_PAIRS else read_pairs(args.input)
    results = {
        name: pairwise(load_model(args, name), pairs, group_by=args.group_by, extract=args.extract)
        for name in args.models or [args.model]
    }
    print(f"{'model':<40} {'group':<30} {'n':>6} {'accuracy':>9}  95% interval")
    for name, result in results.items():
        rows = [("all", result["overall"])] + [
            (f"{key}={value}", summary) for key, by in result["groups"].items() for value, summary in by.items()
        ]
        for group, s in rows:
            print(
                f"{name:<40} {group:<30} {s['n']:>6} {100 * s['accuracy']:>8.1f}%  "
                f"[{100 * s['ci95'][0]:.1f}, {100 * s['ci95'][1]:.1f}]"
            )
    _write(args, results)
    return 0


def run_rmbench(args: argparse.Namespace) -> int:
    from codescaler.rm_eval import rmbench

    text = Path(args.input).read_text()
    items = (
        json.loads(text) if text.lstrip().startswith("[") else [json.loads(x) for x in text.splitlines() if x.strip()]
    )
    results = {
        name: rmbench(load_model(args, name), items, extract=args.extract) for name in args.models or [args.model]
    }
    print(f"{'model':<40} {'group':<20} {'easy':>7} {'normal':>7} {'hard':>7} {'average':>8}")
    for name, by_group in results.items():
        for group, row in by_group.items():
            cells = " ".join(f"{100 * row[k]['accuracy']:>6.1f}%" for k in ("easy", "normal", "hard"))
            print(f"{name:<40} {group:<20} {cells} {100 * row['average']:>7.1f}%")
    _write(args, results)
    return 0
