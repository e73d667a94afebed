"""HumanEvalPack's canonical Go/95 run many times through the sandbox, under each Go toolchain: how often a solution
labelled correct fails its own tests (it depends on map iteration order). Explains a run that reports one
canonical Go solution wrong.

    python bench/go_flaky.py [--runs 200] [--go '' /usr/bin/go]
"""

from __future__ import annotations

import argparse
import os

from common import write_result

from codescaler import benchmarks
from codescaler.execution import toolchains
from codescaler.execution.sandbox import Job, Sandbox
from codescaler.execution.verify import program_of


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--problem", default="Go/95")
    parser.add_argument("--go", nargs="*", default=["", "/usr/bin/go"], help="Go binaries ('': the sandbox's default)")
    args = parser.parse_args()
    problem = next(p for p in benchmarks.load("humanevalpack-go") if p["id"] == args.problem)
    canonical = next(r for r, label in zip(problem["responses"], problem["labels"]) if label)
    program = program_of(problem, canonical)[0]
    result: dict = {"problem": args.problem, "runs": args.runs, "fails": {}}
    for go in args.go:
        os.environ.pop("CODESCALER_GO", None)
        if go:
            os.environ["CODESCALER_GO"] = go
        for cached in (toolchains.go_binary, toolchains.toolchains):
            cached.cache_clear()
        version = ".".join(map(str, toolchains.go_version(toolchains.go_binary()) or ()))
        with Sandbox() as sandbox:
            jobs = [Job(program, problem["tests"], "go")] * args.runs
            outcomes = list(sandbox.run(jobs))
        fails = sum(any(o["status"] != "passed" for o in run) for run in outcomes)
        result["fails"][f"go{version}"] = fails
        print(f"go {version}: the canonical {args.problem} failed {fails} of {args.runs} runs")
    print(f"-> {write_result('go_flaky', result)}")


if __name__ == "__main__":
    main()
