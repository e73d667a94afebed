"""``codescaler bon``, ``pairwise`` and ``rmbench``: measure selection and reward models."""

from __future__ import annotations

import argparse
import dataclasses
import json
from functools import partial
from pathlib import Path
from typing import Any

from codescaler.cli.flags import (
    add_config_flags,
    add_engine_flags,
    add_model_flags,
    add_sandbox_flags,
    check_engine_flags,
    config_from_args,
    input_file,
    load_model,
    model_name,
    output_file,
    sandbox_engine,
)
from codescaler.judges.weights import DEFAULT_LM
from codescaler.measure.bon_methods import BonConfig
from codescaler.measure.rm_eval import BUILTIN_PAIRS
from codescaler.records.jsonl import writable


def register(commands: Any) -> None:
    bon = commands.add_parser("bon", help="best-of-N selection: RM against unit-test methods, with a report")
    bon.add_argument(
        "input", type=input_file, help="pool: problem records with responses and tests or labels (+ generated_tests)"
    )
    bon.add_argument("-o", "--output", required=True, help="report folder (also holds the caches)")
    add_sandbox_flags(bon)
    bon.add_argument("--limit", type=int, default=0, help="only the first this many problems (0: all)")
    add_model_flags(bon, judge=False)
    bon.add_argument("--lm", default=DEFAULT_LM, help="causal LM of the likelihood methods (default: %(default)s)")
    add_config_flags(bon, BonConfig)
    add_engine_flags(bon)  # the ground truth's sandboxes on Ray Data
    bon.set_defaults(run=run_bon)

    pairwise = commands.add_parser("pairwise", help="pairwise accuracy r(chosen) > r(rejected) of one or more RMs")
    pairwise.add_argument("input", help=f"pairs JSONL, or a built-in set ({', '.join(BUILTIN_PAIRS)})")
    pairwise.add_argument("--group-by", nargs="+", default=[], help="fields to break accuracy down by")
    pairwise.add_argument("--extract", action="store_true", help="extract code from chosen/rejected first")
    pairwise.set_defaults(run=run_pairwise)

    rmbench = commands.add_parser("rmbench", help="the RM-Bench protocol (3 chosen x 3 rejected styles)")
    rmbench.add_argument(
        "input", type=input_file, help="JSON list (or JSONL) of {prompt, chosen[3], rejected[3], language?}"
    )
    rmbench.add_argument("--extract", action="store_true", help="extract code from each response first")
    rmbench.set_defaults(run=run_rmbench)
    calibrate = commands.add_parser("calibrate", help="fit P(pass) = sigmoid(a*score + b) on verified candidates")
    calibrate.add_argument(
        "input", type=input_file, help="verified candidates (`codescaler candidates` or `verify` output): held out"
    )
    calibrate.add_argument(
        "--eval", type=input_file, default=None, help="verified or labelled records to measure ECE and Brier on"
    )
    calibrate.add_argument("--save", action="store_true", help="write the fit into the model folder's config")
    calibrate.set_defaults(run=run_calibrate)
    for parser in (pairwise, rmbench, calibrate):
        parser.add_argument("--models", nargs="+", default=None, help="models compared side by side (default: --model)")
        parser.add_argument("-o", "--output", type=output_file, default=None, help="also write the figures as JSON")
        add_model_flags(parser)


def run_bon(args: argparse.Namespace) -> int:
    from codescaler.execution.sandbox import Limits, Sandbox
    from codescaler.measure.bon import best_of_n

    config = config_from_args(args, BonConfig)
    check_engine_flags(args)
    # a pool's ground truth: its own labels, or its tests run in the sandbox
    from codescaler.records.batch import read_problems

    pool = list(read_problems(args.input, lambda r: ("id", "responses") + (() if "labels" in r else ("tests",))))
    pool = pool[: args.limit or None]
    names = {"rm": model_name(args), "coder": args.lm, "reviewer": args.lm}
    judges, lm = {}, None
    for judge in config.judges():
        if judge == "rm":
            judges[judge] = load_model(args)
        else:  # one load of the LM serves both directions
            lm = lm or load_model(argparse.Namespace(**{**vars(args), "judge": judge}), args.lm)
            judges[judge] = lm.in_direction(judge)
    limits = dataclasses.replace(Limits(), timeout=config.test_timeout)
    engine_for = None
    if args.engine == "ray":  # each problem alone in an actor's sandbox, one at a time: its timing is its own
        engine_for = partial(sandbox_engine, args, limits=limits, batch_size=1, concurrent=1)
    with Sandbox(workers=args.workers, limits=limits) as sandbox:
        best_of_n(
            pool, args.output, config=config, judges=judges, judge_ids=names, sandbox=sandbox, engine_for=engine_for
        )
    print((Path(args.output) / "report.md").read_text())
    return 0


def _write(args: argparse.Namespace, results: dict[str, Any]) -> None:
    if args.output:
        with open(writable(args.output), "w") as f:
            json.dump({"input": args.input, "results": results}, f, indent=2)


def run_pairwise(args: argparse.Namespace) -> int:
    from codescaler.measure.rm_eval import builtin_pairs, pairwise
    from codescaler.training.pairs import read_pairs

    pairs = builtin_pairs(args.input) if args.input in BUILTIN_PAIRS else read_pairs(args.input)
    results = {
        name: pairwise(load_model(args, name), pairs, group_by=args.group_by, extract=args.extract)
        for name in args.models or [model_name(args)]
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
    from codescaler.measure.rm_eval import rmbench

    text = Path(args.input).read_text()
    items = (
        json.loads(text) if text.lstrip().startswith("[") else [json.loads(x) for x in text.splitlines() if x.strip()]
    )
    results = {
        name: rmbench(load_model(args, name), items, extract=args.extract) for name in args.models or [model_name(args)]
    }
    print(f"{'model':<40} {'group':<20} {'easy':>7} {'normal':>7} {'hard':>7} {'average':>8}")
    for name, by_group in results.items():
        for group, row in by_group.items():
            cells = " ".join(f"{100 * row[k]['accuracy']:>6.1f}%" for k in ("easy", "normal", "hard"))
            print(f"{name:<40} {group:<20} {cells} {100 * row['average']:>7.1f}%")
    _write(args, results)
    return 0


def _verified(path: str) -> list[Any]:
    from codescaler.records.batch import read_problems

    return list(read_problems(path, lambda _: ("responses",)))


def run_calibrate(args: argparse.Namespace) -> int:
    from codescaler.judges.calibration import fit_platt
    from codescaler.judges.weights import resolve_model_path, save_calibration, save_likelihood_calibration
    from codescaler.measure.rm_eval import calibration_figures, verified_scores

    judge = load_model(args)
    scores, passed = verified_scores(judge, _verified(args.input), show_progress=True)
    fit = [(s, p) for s, p in zip(scores, passed) if s is not None]  # no valid program: P(pass) is 0 anyway
    calibration = fit_platt(
        [s for s, _ in fit],
        [p for _, p in fit],
        fitted_on=f"{args.input}: {len(fit)} valid programs, {sum(p for _, p in fit)} passing",
    )
    report: dict[str, Any] = {"model": model_name(args), "judge": args.judge, "calibration": calibration.to_dict()}
    for name, path in (("fit", args.input), ("eval", args.eval)):
        if path:
            s, p = (scores, passed) if name == "fit" else verified_scores(judge, _verified(path), show_progress=True)
            report[name] = calibration_figures([0.0 if x is None else calibration.p_pass(x) for x in s], p)
            print(
                f"{name:>5} ({path}): {report[name]['programs']} programs, pass rate "
                f"{100 * report[name]['pass_rate']:.1f}%, ECE {report[name]['ece']:.4f}, "
                f"Brier {report[name]['brier']:.4f}"
            )
    print(f"p_pass = sigmoid({calibration.a:.4f} * score + {calibration.b:.4f})")
    if args.save and args.judge == "rm":
        folder, _ = resolve_model_path(model_name(args), None)
        save_calibration(folder, calibration)
        print(f"saved in {folder}/codescaler_config.json")
    elif args.save:
        print(f"saved in {save_likelihood_calibration(model_name(args), args.judge, calibration)}")
    _write(args, report)
    return 0
