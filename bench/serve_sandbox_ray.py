"""``codescaler serve-sandbox`` on Ray Serve (two replicas of one worker) against the single process (one worker per
core), side by side in one run, under ``--clients`` concurrent SandboxFusion clients.

The same programs both ways: CodeT's HumanEval samples (``--per-problem`` per problem), each with its problem's
tests, sent to ``POST /run_code`` by the real ``sandbox-fusion`` client, a pass being exit status 0; the
verdicts are checked against the in-process sandbox's. A third run kills one Serve replica (``ray.kill``, as a lost
node would) a third of the way in: every request must still get its answer, none a wrong one.

    python bench/serve_sandbox_ray.py [--per-problem 10] [--clients 128] [--result-name serve_sandbox_ray]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import ray
from common import codet_programs, write_result
from ray import serve
from sandbox_fusion import RunCodeRequest, run_code

from codescaler.execution.sandbox import Limits, Sandbox
from codescaler.execution.verify import verify_responses
from codescaler.integrations.ray_serve import sandbox_application
from codescaler.serving.http import ReplicaConfig
from codescaler.serving.sandbox_server import SandboxServeConfig, start_service


def hammer(url: str, scripts: list[str], clients: int, timeout: float, kill=None) -> dict:
    """Every script through ``/run_code`` from ``clients`` threads; ``kill()`` once a third are answered."""
    failures: list[str] = []
    answered = [0]
    lock = threading.Lock()

    def ask(script: str) -> bool | None:
        try:
            answer = run_code(RunCodeRequest(code=script, language="python", run_timeout=timeout), url, 1)
        except Exception as err:  # counted, not retried: the service must not need a client's retries
            failures.append(f"{type(err).__name__}: {err}"[:200])
            return None
        with lock:
            answered[0] += 1
            if kill is not None and answered[0] == len(scripts) // 3:
                kill()
        return None if answer.status == "SandboxError" else answer.run_result.return_code == 0

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        verdicts = list(pool.map(ask, scripts))
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "verdicts": verdicts, "failures": failures}


def kill_a_replica() -> None:
    actor = next(a for a in ray.util.list_named_actors(all_namespaces=True) if "#SandboxWorker#" in a["name"])
    ray.kill(ray.get_actor(actor["name"], namespace=actor["namespace"]), no_restart=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-problem", type=int, default=10)
    parser.add_argument("--clients", type=int, default=128)
    parser.add_argument("--timeout", type=float, default=3.0)
    parser.add_argument("--result-name", default="serve_sandbox_ray")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    problems, scripts = codet_programs(args.per_problem)
    with Sandbox(workers=cores, limits=Limits(timeout=args.timeout)) as sandbox:
        local = [v.passed for vs in verify_responses(problems, sandbox) for v in vs]
    runs: dict[str, dict] = {}

    def record(name: str, run: dict) -> None:
        agree = sum(a == b for a, b in zip(local, run["verdicts"]))
        runs[name] = {
            "seconds": round(run["seconds"], 1),
            "programs_per_s": round(len(scripts) / run["seconds"], 1),
            "failed_requests": len(run["failures"]),
            "failures": run["failures"][:10],
            "sandbox_errors": sum(v is None for v in run["verdicts"]) - len(run["failures"]),
            "agreement": round(agree / len(scripts), 5),
        }
        print(f"{name}: {runs[name]}")

    flags = ["--workers", str(cores), "--timeout", str(args.timeout), "--max-queue", str(4 * args.clients)]
    server, url = start_service(*flags)
    try:
        record("single_process", hammer(url, scripts, args.clients, args.timeout))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=120)

    ray.init(num_cpus=cores, include_dashboard=False, log_to_driver=False)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    config = SandboxServeConfig(workers=1, max_queue=4 * args.clients)
    serve.run(sandbox_application(Limits(timeout=args.timeout), config, ReplicaConfig(cores, cores)), route_prefix="/")
    url = f"http://127.0.0.1:{port}"
    record("ray_serve", hammer(url, scripts, args.clients, args.timeout))
    record("ray_serve_replica_killed", hammer(url, scripts, args.clients, args.timeout, kill_a_replica))
    serve.shutdown()
    ray.shutdown()

    result = {
        "programs": len(scripts),
        "clients": args.clients,
        "cores": cores,
        "replicas": cores,
        "runs": runs,
        "ray_serve_over_single_process": round(runs["single_process"]["seconds"] / runs["ray_serve"]["seconds"], 3),
    }
    print(f"Ray Serve over the single process: {result['ray_serve_over_single_process']}x")
    print(f"-> {write_result(args.result_name, result)}")


if __name__ == "__main__":
    main()
