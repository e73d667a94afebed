"""Rank CodeT's whole HumanEval pool (164 problems x 100 CodeGen-16B samples) with the default RM.

Each sample continues its prompt, so the program is prompt + sample and the question is the prompt:
the shape of best-of-N and of a GRPO group. The reward path (validity check, shared-prefix cache,
duplicate removal, shaping) runs over the whole pool; the model-card reference loop (chat template,
pad to longest, batches of 8, fp32, no_grad) runs over the first --ref-problems problems of a seeded
shuffle, which gives its rate and the fp32 scores that the rankings are checked against.

    python bench/rank_throughput.py [--dtype bf16-mixed] [--problems 164] [--ref-problems 3]
"""

from __future__ import annotations

import argparse
import json
import random
import time

import numpy as np
from common import DATA, kendall_tau, write_result
from score_throughput import reference_scores

from codescaler import RewardModel, ScoringConfig, reward

POOL = "HumanEval_codegen16B_temp0.8_topp0.95_num100_max300_code_solution.jsonl"


def load_pool() -> list[dict]:
    with open(DATA / "codet" / POOL) as f:
        problems = [json.loads(line) for line in f]
    random.Random(0).shuffle(problems)
    return problems


def rewards_of(rm: RewardModel, problems: list[dict]) -> tuple[list[list[float]], list[list[bool]], float]:
    questions = [p["prompt"] for p in problems for _ in p["samples"]]
    responses = [s for p in problems for s in p["samples"]]
    start = time.perf_counter()
    results = reward(rm, questions, responses, code_prefixes=questions, config=ScoringConfig(), show_progress=True)
    seconds = time.perf_counter() - start
    per_problem, valid, at = [], [], 0
    for p in problems:
        chunk = results[at : at + len(p["samples"])]
        at += len(p["samples"])
        per_problem.append([r.reward for r in chunk])
        valid.append([r.valid for r in chunk])
    return per_problem, valid, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dtype", default="bf16-mixed", choices=["float32", "bfloat16", "bf16-mixed"])
    parser.add_argument("--problems", type=int, default=164)
    parser.add_argument("--ref-problems", type=int, default=3)
    parser.add_argument("--model", default="codescaler-mini", help="packaged name, folder or hub id")
    args = parser.parse_args()

    problems = load_pool()[: args.problems]
    n_programs = sum(len(p["samples"]) for p in problems)
    rm = RewardModel.from_pretrained(args.model, dtype=args.dtype)
    rm.score(["warm up"] * 2, ["x = 1", "x = 2"], show_progress=False)
    ranked, valid, seconds = rewards_of(rm, problems)

    fp32 = RewardModel.from_pretrained(args.model, dtype="float32")
    ref = problems[: args.ref_problems]
    taus, spreads, ref_seconds, ref_programs = [], [], 0.0, 0
    for i, p in enumerate(ref):
        keep = [j for j, ok in enumerate(valid[i]) if ok]  # the reference scores valid programs only, as we do
        codes = [(p["prompt"] + p["samples"][j]).rstrip() for j in keep]
        start = time.perf_counter()
        truth = reference_scores(fp32, [p["prompt"]] * len(codes), codes)
        ref_seconds += time.perf_counter() - start
        ref_programs += len(codes)
        taus.append(kendall_tau([ranked[i][j] for j in keep], truth))
        spreads.append(float(np.std(truth)))

    result = {
        "model": args.model,
        "dtype": args.dtype,
        "problems": len(problems),
        "programs": n_programs,
        "valid_programs": sum(map(sum, valid)),
        "seconds": round(seconds, 1),
        "programs_per_s": round(n_programs / seconds, 2),
        "reference_programs": ref_programs,
        "reference_programs_per_s": round(ref_programs / ref_seconds, 3),
        "reference_hours_for_pool": round(n_programs / (ref_programs / ref_seconds) / 3600, 2),
        "speedup": round((n_programs / seconds) / (ref_programs / ref_seconds), 1),
        "kendall_tau_vs_fp32_reference": [round(t, 4) for t in taus],
        "kendall_tau_min": round(min(taus), 4),
        "reference_score_std": [round(s, 4) for s in spreads],
    }
    subset = "" if len(problems) == 164 else f"_{len(problems)}problems"
    path = write_result(f"rank_throughput_{args.dtype}{subset}", result)
    print(
        f"{n_programs} programs in {seconds / 60:.1f} min ({result['programs_per_s']} programs/s, {args.dtype}); "
        f"reference {result['reference_programs_per_s']} programs/s ({result['reference_hours_for_pool']} h for "
        f"the pool): {result['speedup']}x; Kendall tau vs fp32 reference on {len(taus)} problems: "
        f"min {result['kendall_tau_min']} -> {path}"
    )


if __name__ == "__main__":
    main()
