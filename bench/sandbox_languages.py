"""The sandbox in six languages: HumanEvalPack's canonical and buggy solutions, and MultiPL-E's labelled pools.

HumanEvalPack (python, js, java, go, cpp, rust; 164 problems each): every canonical solution should pass
and every buggy one fail; each exception is listed with its verdict and the sandbox's detail. MultiPL-E
(code-davinci-002 completions for cpp, java, js): agreement of our pass/fail with each pool's own
``status``, every disagreement listed. Per language: programs/s, and the compile seconds apart. Each pool
is verified twice, the second time reusing the first's builds where they fit the workers' caches.

    make sandbox-languages   # Go, Rust's crates, javatuples, Boost, js-md5, the precompiled C++ header
    python bench/sandbox_languages.py [--pack go rust ...] [--pools cpp java js] [--per-problem N] [--cold]

``--cold`` measures each set twice on fresh workers, side by side: with javac per program
(``Sandbox(warm_compilers=False)``, as before Java compiled in batches) and as the sandbox runs by default.

``--per-problem N`` takes the first N completions of each MultiPL-E problem (a pool is 3,220 to 32,200
programs; compiling a C++ or Java one costs about a second of a core).
"""

from __future__ import annotations

import argparse
import os
import time

from common import write_result

from codescaler import benchmarks
from codescaler.execution.sandbox import Sandbox
from codescaler.execution.toolchains import missing_languages
from codescaler.execution.verify import verify_responses

PACK = ["python", "js", "java", "go", "cpp", "rust"]
POOLS = ["cpp", "java", "js"]


def measure(problems: list[dict], sandbox: Sandbox) -> dict:
    """Verify every response; agreement with the records' labels, throughput, and every disagreement."""
    start = time.perf_counter()
    verified = list(verify_responses(problems, sandbox))
    seconds = time.perf_counter() - start
    differ, compile_s, builds = [], 0.0, 0
    for problem, results in zip(problems, verified):
        for label, v in zip(problem["labels"], results):
            compile_s += v.compile_seconds
            builds += v.compile_seconds > 0
            if v.passed != label:
                differ.append({"id": problem["id"], "label": label, "status": v.status, "detail": v.detail})
    programs = sum(len(p["responses"]) for p in problems)
    return {
        "programs": programs,
        "seconds": round(seconds, 1),
        "programs_per_s": round(programs / seconds, 2),
        "compile_seconds": round(compile_s, 1),
        "builds": builds,
        "agreement": round(1 - len(differ) / programs, 5),
        "disagreements": differ,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pack", nargs="*", default=PACK, choices=PACK)
    parser.add_argument("--pools", nargs="*", default=POOLS, choices=POOLS)
    parser.add_argument("--per-problem", type=int, default=None, help="first N completions of each pool problem")
    parser.add_argument("--cold", action="store_true", help="each set also with warm_compilers=False, side by side")
    parser.add_argument("--result-name", default="sandbox_languages")
    args = parser.parse_args()
    missing = missing_languages()
    result: dict = {"workers": os.cpu_count(), "per_problem": args.per_problem, "humanevalpack": {}, "multiple": {}}
    modes = [False, True] if args.cold else [True]  # each on fresh workers, so no build carries over
    for lang in args.pack:
        if benchmarks.HUMANEVALPACK_LANGUAGES[lang] in missing:
            result["humanevalpack"][lang] = {"skipped": missing[benchmarks.HUMANEVALPACK_LANGUAGES[lang]]}
            continue
        for warm in modes:
            with Sandbox(warm_compilers=warm) as sandbox:
                run = measure(benchmarks.load(f"humanevalpack-{lang}"), sandbox)
            result["humanevalpack"][lang if warm else f"{lang}_cold"] = run
            print(
                f"humanevalpack-{lang}{'' if warm else ' (cold compilers)'}: {run['programs']} programs, "
                f"{len(run['disagreements'])} not as labelled, {run['programs_per_s']}/s "
                f"({run['compile_seconds']} s compiling)"
            )
            write_result(args.result_name, result)
    for lang in args.pools:
        problems = benchmarks.load(f"multiple-{lang}")
        if args.per_problem:
            problems = [
                dict(p, responses=p["responses"][: args.per_problem], labels=p["labels"][: args.per_problem])
                for p in problems
            ]
        for warm in modes:
            with Sandbox(warm_compilers=warm) as sandbox:
                run = measure(problems, sandbox)
                # The same programs again, as an RL run meets the same programs step after step: builds are
                # reused while they fit the workers' build caches.
                again = measure(problems, sandbox)
            run["again"] = {k: again[k] for k in ("seconds", "programs_per_s", "compile_seconds", "builds")}
            result["multiple"][lang if warm else f"{lang}_cold"] = run
            print(
                f"multiple-{lang}{'' if warm else ' (cold compilers)'}: {run['programs']} programs, agreement with "
                f"status {100 * run['agreement']:.2f}% ({len(run['disagreements'])} differ), {run['programs_per_s']}/s "
                f"({run['compile_seconds']} s compiling, {run['builds']} builds); again {again['programs_per_s']}/s "
                f"({again['compile_seconds']} s compiling, {again['builds']} builds)"
            )
            write_result(args.result_name, result)
    print(f"-> {write_result(args.result_name, result)}")


if __name__ == "__main__":
    main()
