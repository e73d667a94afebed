"""pass@k: the unbiased estimator (Chen et al., 2021), and the report ``codescaler evaluate`` prints from verdicts."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k (Chen et al., 2021): 1 - C(n-c, k) / C(n, k)."""
    if k > n:
        raise ValueError(f"k={k} exceeds the number of samples n={n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod((n - c - i) / (n - i) for i in range(k))


def pass_at_k_report(rows: Iterable[dict[str, Any]], ks: Iterable[int]) -> dict[str, Any]:
    """Mean unbiased pass@k over problems, from ``codescaler verify`` output rows (error rows skipped).

    A k larger than a problem's sample count is reported only over the problems that have k samples.
    """
    # A sample the sandbox could not run (passed: null) has no verdict: it is left out, not counted as failed.
    known = [[p for p in r["passed"] if p is not None] for r in rows if "passed" in r]
    counts = [(len(k), sum(k)) for k in known if k]
    report: dict[str, Any] = {"problems": len(counts), "samples": sum(n for n, _ in counts)}
    for k in ks:
        eligible = [pass_at_k(n, c, k) for n, c in counts if n >= k]
        report[f"pass@{k}"] = sum(eligible) / len(eligible) if eligible else None
    return report
