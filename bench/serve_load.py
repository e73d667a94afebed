"""`codescaler serve` under load: dynamic batching against batching disabled, side by side in one run.

32 concurrent clients on loopback send single-item /score requests (MBPP questions with their
reference solutions, in random order) for a fixed time against one server process, first with
dynamic batching, then with `--max-batch-items 1`. Prints throughput, p50/p99 latency and failures.

    python bench/serve_load.py [--model codescaler-mini] [--seconds 30] [--clients 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import subprocess
import sys
import time

import httpx
import torch
from common import write_result

from codescaler import benchmarks


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model: str, port: int, extra: list[str]) -> subprocess.Popen:
    """The CLI in a child process, as a user runs it; returns once /health answers."""
    server = subprocess.Popen(
        [sys.executable, "-m", "codescaler", "serve", "--model", model, "--port", str(port), *extra],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.5)
    server.kill()
    raise RuntimeError("server did not start")


async def load(port: int, items: list[dict], clients: int, seconds: float) -> dict:
    latencies: list[float] = []
    failures = 0
    stop = time.perf_counter() + seconds

    async def client(k: int) -> None:
        nonlocal failures
        rng = random.Random(k)
        async with httpx.AsyncClient(timeout=120) as http:
            while time.perf_counter() < stop:
                item = rng.choice(items)
                started = time.perf_counter()
                try:
                    r = await http.post(f"http://127.0.0.1:{port}/score", json={"items": [item]})
                    ok = r.status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - started)
                else:
                    failures += 1

    started = time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(clients)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else float("nan")  # noqa: E731
    return {
        "requests": len(latencies),
        "failures": failures,
        "seconds": elapsed,
        "throughput_rps": len(latencies) / elapsed,
        "p50_s": pick(0.50),
        "p99_s": pick(0.99),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="codescaler-mini")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--items", default=None, help="JSONL of {question, response} (default: MBPP references)")
    parser.add_argument("--server-args", default="", help="extra flags for `codescaler serve`, e.g. '--dtype bfloat16'")
    parser.add_argument("--result-name", default="serve_load")
    args = parser.parse_args()
    if args.items:
        items = [json.loads(line) for line in open(args.items) if line.strip()]
    else:
        items = [
            {"question": p["question"], "response": f"```python\n{p['reference']}\n```"}
            for p in benchmarks.load("mbpp")
        ]
    result = {
        "model": args.model,
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        "clients": args.clients,
        "seconds": args.seconds,
        "server_args": args.server_args,
        "modes": {},
    }
    for mode, extra in (("dynamic batching", ["--max-wait-ms", "10"]), ("no batching", ["--max-batch-items", "1"])):
        port = free_port()
        server = start_server(args.model, port, extra + args.server_args.split())
        try:
            asyncio.run(load(port, items[:32], 4, 5))  # warm-up
            result["modes"][mode] = asyncio.run(load(port, items, args.clients, args.seconds))
        finally:
            server.terminate()
            server.wait(timeout=60)
        m = result["modes"][mode]
        print(
            f"{mode:<17} {m['throughput_rps']:7.2f} req/s  p50 {m['p50_s']:.3f} s  p99 {m['p99_s']:.3f} s  "
            f"failures {m['failures']}"
        )
    ratio = result["modes"]["dynamic batching"]["throughput_rps"] / result["modes"]["no batching"]["throughput_rps"]
    result["throughput_ratio"] = ratio
    print(f"dynamic batching / none: {ratio:.2f}x throughput")
    write_result(args.result_name, result)


if __name__ == "__main__":
    main()
