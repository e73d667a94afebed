"""Every judge side by side on the same splits, in one table (issue 16).

Per judge: best-of-N top-1 on CodeT's HumanEval pool (CodeGen-16B samples) at N = 4, 16, 100; pairwise
accuracy on held-out on-policy pairs (code-davinci-002's own passing against its own failing completion
of a MultiPL-E python problem) and on HumanEvalPack python (canonical against human-written bug); the
ECE and Brier score of its Platt-calibrated P(pass), fitted on half of the verified candidates of MBPP's
held-out problems and measured on the other half; and model seconds per problem at N = 100 here. Every
evaluation split is HumanEval-derived except the calibration's MBPP validation split, which no RM
trained on.

Each judge's raw scores are computed once per split and kept under ``--run-dir`` (a re-run computes
only what is missing; ``coder-reviewer`` is the sum of the cached ``coder`` and ``reviewer`` scores), and
each LM is loaded once for all its directions. Writes ``bench/results/judges.json`` and ``judges.md``.

    python bench/judges.py --run-dir runs/judges --codet-problems 30 --save-calibrations
    python bench/judges.py --run-dir runs/judges --group qwen     # the Qwen2.5-Coder-0.5B judges
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import RESULTS, write_result

from codescaler import benchmarks
from codescaler.judges.calibration import Calibration, fit_platt
from codescaler.judges.weights import save_likelihood_calibration
from codescaler.measure.bon import best_of_n
from codescaler.measure.bon_methods import BonConfig
from codescaler.measure.rm_eval import builtin_pairs, calibration_figures, pair_summary, verified_scores
from codescaler.training.pairs import problem_split

PAIR_SETS = ("multiple-python-onpolicy", "humanevalpack-python")
# group -> (reward model, causal LM, likelihood directions computed, calibrated, CodeT's pool run). The Qwen
# group (0.5B) costs ~4x SmolLM2's per token here: its likelihood judges, calibration and CodeT runs are left
# to a faster machine.
GROUPS = {
    "smollm2": ("codescaler-mini", "smollm2-135m", ("coder", "reviewer"), True, True),
    "qwen": ("runs/qwen-head", "qwen2.5-coder-0.5b", (), False, False),
}
CODET_METHODS = ["rm", "coder", "reviewer", "coder-reviewer", "rm+reviewer", "rm+coder-reviewer"]
REFERENCE_METHODS = ["codet", "rm+codet", "random", "oracle"]


def cached(path: Path, compute) -> Any:
    if path.is_file():
        return json.loads(path.read_text())
    value = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value) + "\n")
    return value


def calibration_candidates(run: Path) -> tuple[list[dict], list[dict]]:
    """Verified candidates (reference, mutants, unaligned) of MBPP's held-out problems, split in two halves
    by problem: the fit and the measurement."""
    path = run / "mbpp-heldout-candidates.jsonl"
    if not path.is_file():
        heldout = run / "mbpp-heldout.jsonl"
        rows = [r for r in benchmarks.load("mbpp") if problem_split(r["id"], 0.1, 0) == "validation"]
        heldout.write_text("".join(json.dumps(r) + "\n" for r in rows))
        command = ["codescaler", "candidates", str(heldout), "-o", str(path), "--timeout", "2", "--resume"]
        subprocess.run(command, check=True)
    rows = [r for r in map(json.loads, path.open()) if "error" not in r]
    return rows[0::2], rows[1::2]


def judge_scores(
    judges: dict[str, Any], run: Path, pair_sets: list[str], fit: list[dict] | None, held: list[dict] | None
) -> dict[str, dict]:
    """Raw scores of each judge on each pair set and calibration half, cached per judge."""
    out: dict[str, dict] = {}
    for name, judge in judges.items():
        scores: dict[str, Any] = {}
        for pair_set in pair_sets:
            pairs = builtin_pairs(pair_set)
            questions = [p["question"] for p in pairs] * 2
            codes = [p["chosen"] for p in pairs] + [p["rejected"] for p in pairs]

            def pair_scores(questions=questions, codes=codes, judge=judge) -> list[float]:
                return judge.score(questions, codes)

            both = cached(run / name / f"{pair_set}.json", pair_scores)
            scores[pair_set] = (both[: len(pairs)], both[len(pairs) :])
        for half, rows in (("fit", fit), ("eval", held)) if fit and held else ():

            def calibration_scores(rows=rows, judge=judge) -> tuple[list[float | None], list[bool]]:
                return verified_scores(judge, rows)

            scores[half] = cached(run / name / f"calibration-{half}.json", calibration_scores)
        out[name] = scores
    return out


def summed(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """coder-reviewer from its two directions' cached scores."""

    def add(x, y):
        return [None if p is None or q is None else p + q for p, q in zip(x, y)]

    out = {k: (add(a[k][0], b[k][0]), add(a[k][1], b[k][1])) for k in PAIR_SETS if k in a}
    for half in ("fit", "eval") if "fit" in a else ():
        out[half] = [add(a[half][0], b[half][0]), a[half][1]]
    return out


def figures(scores: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {k: pair_summary(*scores[k]) for k in PAIR_SETS if k in scores}
    if "fit" not in scores:
        return row
    fit_s, fit_p = scores["fit"]
    valid = [(s, p) for s, p in zip(fit_s, fit_p) if s is not None]
    calibration = fit_platt(
        [s for s, _ in valid],
        [p for _, p in valid],
        fitted_on=f"MBPP held-out candidates (fit half): {len(valid)} valid, {sum(p for _, p in valid)} passing",
    )
    eval_s, eval_p = scores["eval"]
    probs = [0.0 if s is None else calibration.p_pass(s) for s in eval_s]  # no valid program: it fails
    row["calibration"] = {**calibration.to_dict(), **calibration_figures(probs, eval_p)}
    row["ece_ci95"] = bootstrap_ece_interval(probs, eval_p)
    return row


def bootstrap_ece_interval(probs: list[float], passed: list[bool], draws: int = 200) -> list[float]:
    """95% interval of the held-out ECE, its programs resampled with replacement (the fit kept)."""
    from codescaler.judges.calibration import expected_calibration_error

    rng = random.Random(0)
    values = []
    for _ in range(draws):
        idx = [rng.randrange(len(probs)) for _ in probs]
        values.append(expected_calibration_error([probs[i] for i in idx], [passed[i] for i in idx]))
    values.sort()
    return [values[int(0.025 * draws)], values[int(0.975 * draws) - 1]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-dir", default="runs/judges")
    parser.add_argument("--group", choices=list(GROUPS), default="smollm2")
    parser.add_argument("--rm", default=None, help="the group's reward model (default: the group's)")
    parser.add_argument("--codet-problems", type=int, default=30, help="first N problems of CodeT's pool (0: none)")
    parser.add_argument("--pair-sets", nargs="+", default=list(PAIR_SETS), choices=PAIR_SETS, help="pair sets run")
    parser.add_argument(
        "--save-calibrations", action="store_true", help="ship the likelihood judges' fits (the LM's calibration table)"
    )
    args = parser.parse_args()
    from codescaler.execution.sandbox import Sandbox
    from codescaler.judges.likelihood import LikelihoodJudge
    from codescaler.judges.reward_model import RewardModel

    rm_name, lm_name, directions, calibrate, run_codet = GROUPS[args.group]
    rm_name = args.rm or rm_name
    run = Path(args.run_dir) / args.group
    fit, held = calibration_candidates(Path(args.run_dir)) if calibrate else (None, None)
    started = time.perf_counter()
    judges = {"rm": RewardModel.from_pretrained(rm_name, dtype="float32")}
    if directions:
        lm = LikelihoodJudge.from_pretrained(lm_name, dtype="float32")
        judges.update({d: lm.in_direction(d) for d in directions})
    scores = judge_scores(judges, run, args.pair_sets, fit, held)
    if {"coder", "reviewer"} <= set(scores):
        scores["coder-reviewer"] = summed(scores["coder"], scores["reviewer"])
    rows = {name: figures(s) for name, s in scores.items()}
    if args.save_calibrations:
        for name, row in rows.items():
            if name != "rm" and "calibration" in row:
                fit = Calibration(row["calibration"]["a"], row["calibration"]["b"], row["calibration"]["fitted_on"])
                print(f"{name}: saved in {save_likelihood_calibration(lm_name, name, fit)}", file=sys.stderr)
    report: dict[str, Any] = {"group": args.group, "rm": rm_name, "lm": lm_name, "judges": rows}
    if run_codet and args.codet_problems:
        pool = benchmarks.load("codet-humaneval")[: args.codet_problems]
        config = BonConfig(methods=CODET_METHODS + REFERENCE_METHODS, n=[1, 4, 16, 100])
        with Sandbox() as sandbox:
            bon = best_of_n(
                pool,
                run / "bon-codet",
                config=config,
                judges={"rm": judges["rm"], "coder": judges["coder"], "reviewer": judges["reviewer"]},
                judge_ids={"rm": rm_name, "coder": lm_name, "reviewer": lm_name},
                sandbox=sandbox,
            )
        report["codet"] = {"problems": len(pool), "accuracy": bon["accuracy"], "latency": bon["latency"]}
    report["seconds"] = time.perf_counter() - started
    path = write_result(f"judges_{args.group}", report)
    print(markdown(report))
    (RESULTS / f"judges_{args.group}.md").write_text(markdown(report))
    print(f"wrote {path}", file=sys.stderr)


def _cell(summary: dict[str, Any] | None) -> str:
    if not summary:
        return "—"
    return f"{100 * summary['accuracy']:.1f} [{100 * summary['ci95'][0]:.1f}, {100 * summary['ci95'][1]:.1f}]"


def _cell_range(summary: dict[str, Any] | None) -> str:
    if not summary:
        return "—"
    return f"{100 * summary['mean']:.1f} [{100 * summary['low']:.1f}, {100 * summary['high']:.1f}]"


def markdown(report: dict[str, Any]) -> str:
    codet = report.get("codet")
    lines = [
        f"# Judges: {report['rm']} and {report['lm']}",
        "",
        "| judge | CodeT N=4 | CodeT N=16 | CodeT N=100 | model s/problem (N=100) | on-policy pairs "
        "| HumanEvalPack python | ECE [95%] | Brier |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    names = list(dict.fromkeys([*report["judges"], *(codet["accuracy"] if codet else ())]))
    for name in names:
        row = report["judges"].get(name, {})
        if codet and name in codet["accuracy"]:
            acc = codet["accuracy"][name]
            at = [_cell_range(acc.get(n)) for n in ("4", "16", "100")]
            latency = codet["latency"].get(name, {}).get("100", {})
            seconds = f"{latency.get('model_wall_s', 0):.1f}"
            if latency.get("exec_wall_s"):
                seconds += f" + {latency['exec_wall_s']:.1f} exec"
        else:
            at, seconds = ["—"] * 3, "—"
        cal = row.get("calibration")
        ece = f"{cal['ece']:.3f} [{row['ece_ci95'][0]:.3f}, {row['ece_ci95'][1]:.3f}]" if cal else "—"
        brier = f"{cal['brier']:.3f}" if cal else "—"
        lines.append(
            f"| {name} | {' | '.join(at)} | {seconds} | {_cell(row.get(PAIR_SETS[0]))} | "
            f"{_cell(row.get(PAIR_SETS[1]))} | {ece} | {brier} |"
        )
    if codet:
        lines += ["", f"CodeT: the first {codet['problems']} problems of the pool, 100 candidates each."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
