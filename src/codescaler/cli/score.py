"""``codescaler score`` and ``codescaler rank``: the reward of each answer, and each problem's answers best first."""

from __future__ import annotations

import argparse
from functools import partial
from typing import Any

from codescaler.cli.flags import (
    add_batch_job,
    add_config_flags,
    add_engine_flags,
    add_model_flags,
    add_sandbox_flags,
    config_from_args,
    load_model,
    model_kwargs,
    quiet_transformers,
    ray_engine,
)
from codescaler.judges import REWARD_JUDGE, SELECTION_JUDGE
from codescaler.records.errors import InputError
from codescaler.rewards.kinds import ScoringConfig


def register(commands: Any) -> None:
    score = add_batch_job(
        commands,
        "score",
        "score (question, response) records; one output line per input",
        'JSONL lines {"id", "question", "response", "code_prefix"?}',
        "output JSONL",
    )
    rank = add_batch_job(
        commands,
        "rank",
        "rank each problem's candidate responses, best first",
        'JSONL lines {"id", "question", "responses": [...], "code_prefix"?}',
        None,
    )
    rank.add_argument("--top", type=int, default=10, help="rows printed per problem (default: 10)")
    rank.add_argument(
        "--verify-top",
        type=int,
        default=0,
        metavar="K",
        help="run the judge's top programs against each record's tests, best first, until one passes (at most K)",
    )
    add_sandbox_flags(rank)
    for parser, run, judge in ((score, run_score, REWARD_JUDGE), (rank, run_rank, SELECTION_JUDGE)):
        add_model_flags(parser, default_judge=judge)
        add_config_flags(parser, ScoringConfig)
        add_engine_flags(parser)
        parser.set_defaults(run=run)


def _job(args: argparse.Namespace, kind: str, sandbox=None) -> dict[str, Any]:
    """How the score or rank job runs: a processor with the model loaded here, or a Ray Data engine that loads it
    once in each actor."""
    from codescaler.rewards import jobs

    config = config_from_args(args, ScoringConfig)
    if args.engine == "ray":
        if sandbox is not None:
            raise InputError("--verify-top runs the sandbox on this machine: use it without --engine ray")
        from codescaler.integrations.ray import score_process

        quiet_transformers(args)
        make = partial(score_process, model_kwargs(args), config, kind)
        return {"engine": ray_engine(args, make, batch_size=256 if kind == "score" else 16)}
    if kind == "score":
        return {"process": jobs.score_job(load_model(args), config), "chunk_size": 256}
    return {
        "process": jobs.rank_job(load_model(args), config, verify_top=args.verify_top, sandbox=sandbox),
        "chunk_size": 16,
    }


def run_score(args: argparse.Namespace) -> int:
    from codescaler.records.batch import parse_answer, run_chunked

    rows = list(
        run_chunked(args.input, args.output, parse_answer, **_job(args, "score"), resume=args.resume, desc="score")
    )
    errors = sum("error" in r for r in rows)
    print(f"wrote {len(rows)} records to {args.output} ({errors} with errors)")
    return 0


def _first_line(code: str, width: int = 60) -> str:
    line = next((s.strip() for s in code.splitlines() if s.strip()), "")
    return line if len(line) <= width else line[: width - 1] + "…"


def run_rank(args: argparse.Namespace) -> int:
    from contextlib import nullcontext

    from codescaler.records.batch import run_chunked

    if args.verify_top < 0:
        raise InputError(f"--verify-top must be at least 0, got {args.verify_top}")
    from codescaler.execution.sandbox import Sandbox

    with Sandbox(workers=args.workers) if args.verify_top else nullcontext() as sandbox:
        for problem in run_chunked(
            args.input,
            args.output,
            _rank_parser(args.verify_top),
            **_job(args, "rank", sandbox),
            resume=args.resume,
            desc="rank",
        ):
            _print_ranking(problem, args.top)
    return 0


def _rank_parser(verify_top: int) -> Any:
    """Records to rank; under ``--verify-top`` one with tests must be runnable here, and one without is ranked by the
    judge alone (``rank_job`` says so in its row)."""
    from codescaler.records.batch import problem_parser

    plain, runnable = problem_parser("responses"), problem_parser("responses", runs=True)
    if not verify_top:
        return plain
    return lambda number, record: (runnable if isinstance(record, dict) and record.get("tests") else plain)(
        number, record
    )


def _print_ranking(problem: dict[str, Any], top: int) -> None:
    print(f"\n{problem['id']!s}")
    if "error" in problem:
        print(f"  error: {problem['error']}")
        return
    verified = problem.get("verified")
    ran = dict(zip(verified["run"], verified["verdicts"])) if verified else {}
    run_column = f"  {'run':<6}" if verified else ""  # which programs --verify-top ran, and how they did
    print(
        f"  {'rank':>4}  {'cand':>4}  {'p_pass':>6}  {'score':>8}  {'reward':>8}  {'valid':<22}{run_column}"
        "  first code line"
    )
    for position, i in enumerate(problem["order"][:top], start=1):
        validity = "yes" if problem["valid"][i] else f"no ({problem['reasons'][i]})"
        p_pass, score = problem["p_pass"][i], problem["scores"][i]
        run = f"  {('passed' if ran[i] else 'failed') if i in ran else '':<6}" if verified else ""
        print(
            f"  {position:>4}  {i:>4}  {'' if p_pass is None else f'{p_pass:.3f}':>6}  "
            f"{'' if score is None else f'{score:.3f}':>8}  {problem['rewards'][i]:>8.4f}  {validity:<22}{run}  "
            f"{_first_line(problem['codes'][i])}"
        )
    if verified:
        print(f"  pick: candidate {verified['pick']} ({_verified_outcome(verified, problem['order'][0])})")
    elif problem.get("not_run"):
        print(f"  pick: candidate {problem['order'][0]} (the judge's top-1; nothing run: {problem['not_run']})")


def _verified_outcome(verified: dict[str, Any], top: int) -> str:
    """Why ``--verify-top`` picked what it picked, in words."""
    ran = f"{len(verified['run'])} program(s) run in the judge's order"
    if not verified["passed"]:
        return f"the judge's top-1; none of the {ran} passed its tests"
    if verified["pick"] == top:
        return "the judge's top-1, and it passed its tests"
    return f"passed its tests; the judge's top-1 failed them; {ran}"
