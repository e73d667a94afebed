"""Does eval-policy's harness judge each benchmark right? Under the paper's protocol (LiveCodeBench's prompt
fields, the last block unparsed, 2 s per test), every reference solution must pass and a wrong program must fail:
per problem, the reference and its first three single-edit mutants (`codescaler.training.candidates.mutants`;
a mutant that passes may be equivalent, so a problem counts as caught when any of them fails). Benchmarks whose
data carries no reference solution (DeepCoder's LiveCodeBench, CodeContests and Codeforces) are reported so.

Then throughput on the same programs: the harness's verify step (``evaluate_policy`` over a run folder's
samples, from scratch) against ``codescaler verify --mode last`` on the same samples file (each problem carries
the protocol's time limit), alternating, medians.

    python bench/eval_agreement.py [--limit 0]
    python bench/eval_agreement.py --benchmarks --samples RUN_DIR --result-name eval_throughput
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from common import write_result

from codescaler.benchmarks import load
from codescaler.evaluation.policy import PAPER_BENCHMARKS, PolicyEvalConfig, evaluate_policy, prepare
from codescaler.execution.jobs import verify_job
from codescaler.execution.sandbox import Sandbox
from codescaler.execution.verify import verify_responses
from codescaler.records.batch import problem_parser, run_chunked
from codescaler.training.candidates import fenced, mutants


def agreement(name: str, limit: int, sandbox: Sandbox, work: Path) -> dict:
    records = load(name)[: limit or None]
    with_reference = [r for r in records if r.get("reference")]
    if not with_reference:
        return {"problems": len(records), "with_reference": 0, "note": "the data carries no reference solutions"}
    path = work / f"{name}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in with_reference))
    prepare(work / name, PolicyEvalConfig(benchmarks=[str(path)], n=1), "references")
    problems = [json.loads(line) for line in (work / name / "problems.jsonl").read_text().splitlines()]
    reference_of = {r["id"]: r["reference"] for r in with_reference}
    runs = []
    for p in problems:
        wrong = [m.code for m in mutants(reference_of[p["id"]])[:3]]
        runs.append({**p, "responses": [fenced(reference_of[p["id"]])] + [fenced(code) for code in wrong]})
    started = time.perf_counter()
    verdicts = list(verify_responses(runs, sandbox))
    seconds = time.perf_counter() - started
    failing = [
        {"id": p["id"], "status": v[0].status, "detail": v[0].detail} for p, v in zip(runs, verdicts) if not v[0].passed
    ]
    with_mutants = [v for v in verdicts if len(v) > 1]
    caught = sum(any(not m.passed for m in v[1:]) for v in with_mutants)
    return {
        "problems": len(records),
        "with_reference": len(runs),
        "references_pass": len(runs) - len(failing),
        "failing_references": failing,
        "with_mutants": len(with_mutants),
        "mutant_caught": caught,
        "seconds": round(seconds, 1),
    }


def run_harness(folder: Path, protocol: dict, config: PolicyEvalConfig, sandbox: Sandbox) -> None:
    evaluate_policy(protocol["model"], folder, config, sandbox)  # everything is sampled: it only verifies


def run_verify(folder: Path, protocol: dict, config: PolicyEvalConfig, sandbox: Sandbox) -> None:
    """`codescaler verify --mode last` on the folder's samples: the same programs, each problem's time limit."""
    job, parse = verify_job(sandbox, config.extraction), problem_parser("responses", "tests")
    for _ in run_chunked(folder / "samples.jsonl", folder / "verified.jsonl", parse, job):
        pass


def throughput(run_dir: Path, sandbox: Sandbox, work: Path, rounds: int = 5) -> dict:
    """The harness's verify step and `codescaler verify`'s on the same samples, alternating, ``rounds`` times;
    the medians. Each harness round starts from the run's samples with no verdicts."""
    protocol = json.loads((run_dir / "protocol.json").read_text())
    config = PolicyEvalConfig(**{k: v for k, v in protocol.items() if k != "model"})
    samples = sum(len(json.loads(line)["responses"]) for line in (run_dir / "samples.jsonl").read_text().splitlines())
    harness_s, verify_s = [], []
    for round_ in range(rounds):
        harness = work / f"harness{round_}"
        harness.mkdir()
        for name in ("protocol.json", "unrunnable.json", "problems.jsonl", "samples.jsonl"):
            shutil.copy(run_dir / name, harness / name)
        runs = [(harness_s, run_harness, harness), (verify_s, run_verify, harness)]
        for times, run, folder in runs if round_ % 2 == 0 else runs[::-1]:  # alternate which goes first
            started = time.perf_counter()
            run(folder, protocol, config, sandbox)
            times.append(time.perf_counter() - started)
    harness_median, verify_median = statistics.median(harness_s), statistics.median(verify_s)
    return {
        "samples": samples,
        "rounds": rounds,
        "harness_samples_per_s": round(samples / harness_median, 1),
        "verify_samples_per_s": round(samples / verify_median, 1),
        "harness_over_verify": round(verify_median / harness_median, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--benchmarks", nargs="*", default=PAPER_BENCHMARKS, help="none: only the throughput")
    parser.add_argument("--limit", type=int, default=0, help="first N problems of each (0: all)")
    parser.add_argument("--samples", type=Path, help="an eval-policy run folder whose samples time the harness")
    parser.add_argument("--result-name", default="eval_agreement")
    args = parser.parse_args()
    result: dict = {"benchmarks": {}}
    with Sandbox() as sandbox, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name in args.benchmarks:
            row = result["benchmarks"][name] = agreement(name, args.limit, sandbox, work)
            if "references_pass" in row:
                print(
                    f"{name:>14}: references pass {row['references_pass']}/{row['with_reference']}, a mutant fails on "
                    f"{row['mutant_caught']}/{row['with_mutants']} ({row['seconds']} s)"
                )
            else:
                print(f"{name:>14}: {row['problems']} problems; {row['note']}")
        if args.samples:
            result["throughput"] = t = throughput(args.samples, sandbox, work)
            print(
                f"{t['samples']} samples: harness {t['harness_samples_per_s']}/s, verify {t['verify_samples_per_s']}/s "
                f"(harness/verify {t['harness_over_verify']})"
            )
    print(f"-> {write_result(args.result_name, result)}")


if __name__ == "__main__":
    main()
