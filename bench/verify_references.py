"""Ground truth the sandbox must reproduce: every reference solution passes its own tests.

Runs the reference of each problem in mbpp, mbppplus, leetcode-train, humaneval and humanevalplus
(EvalPlus expected values come from the reference itself, so there the check is that execution is
deterministic and nothing in the jail breaks a correct program), and humanevalpack's canonical and
buggy solutions in every language with a toolchain here. Prints and writes the exceptions with reasons.

    python bench/verify_references.py
"""

from __future__ import annotations

import shutil
import time

from common import write_result

from codescaler import benchmarks
from codescaler.execution.sandbox import Limits, Sandbox
from codescaler.execution.verify import verify_responses

REFERENCE_SETS = ("mbpp", "mbppplus", "leetcode-train", "humaneval", "humanevalplus")
PACK_TOOLS = {"python": "python3", "js": "node", "cpp": "g++", "java": "javac", "go": "go", "rust": "rustc"}


def main() -> None:
    result: dict = {}
    with Sandbox(limits=Limits(timeout=20)) as sandbox:
        for name in REFERENCE_SETS:
            problems = benchmarks.load(name)
            for p in problems:
                p["responses"] = [f"```python\n{p['reference']}\n```"]
            start = time.perf_counter()
            outcomes = [v[0] for v in verify_responses(problems, sandbox)]
            failures = [
                {"id": p["id"], "status": v.status, "pass_fraction": round(v.pass_fraction, 4)}
                for p, v in zip(problems, outcomes)
                if not v.passed
            ]
            result[name] = {
                "problems": len(problems),
                "tests": sum(len(p["tests"]) for p in problems),
                "dropped_tests": sum(p.get("dropped_tests", 0) for p in problems),
                "reference_passes": len(problems) - len(failures),
                "failures": failures,
                "seconds": round(time.perf_counter() - start, 1),
            }
            print(
                f"{name:>16}: {result[name]['reference_passes']}/{len(problems)} references pass "
                f"({result[name]['tests']} tests, {result[name]['seconds']} s); exceptions: {failures[:5]}"
            )
        for lang, tool in PACK_TOOLS.items():
            name = f"humanevalpack-{lang}"
            if shutil.which(tool) is None or lang in ("go", "rust"):
                result[name] = {
                    "skipped": f"no {tool} runner in the sandbox" if lang in ("go", "rust") else f"no {tool}"
                }
                print(f"{name:>16}: skipped ({result[name]['skipped']})")
                continue
            problems = benchmarks.load(name)
            verified = list(verify_responses(problems, sandbox))
            canonical_fail = [p["id"] for p, v in zip(problems, verified) if not v[0].passed]
            buggy_pass = [p["id"] for p, v in zip(problems, verified) if v[1].passed]
            result[name] = {"problems": len(problems), "canonical_fail": canonical_fail, "buggy_pass": buggy_pass}
            print(
                f"{name:>16}: canonical fails {len(canonical_fail)} {canonical_fail[:5]}, "
                f"buggy passes {len(buggy_pass)} {buggy_pass[:5]}"
            )
    print(f"-> {write_result('verify_references', result)}")


if __name__ == "__main__":
    main()
