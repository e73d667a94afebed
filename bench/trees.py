"""The same benchmarks over two source trees, side by side in one run: what a change of layout or code costs.

    python bench/trees.py --old /tmp/old --new . [--rounds 1]

Each tree is a checkout (its ``src`` is put first on ``PYTHONPATH``, its own ``bench/`` scripts run). The
benches alternate old, new, old, new..., ``--rounds`` times, and each side's median is kept, so drift on a
shared machine falls on both. Scoring: 128 MultiPL-E
records in fp32; ranking: 10 CodeT problems in fp32; execution: CodeT's first 40 problems (4,000 programs),
flat 3 s and scaled limits. Writes ``results/trees.json`` with each run's figures and the new/old ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from common import DATA, write_result

BENCHES = {
    "score": (["score_throughput.py", "--records", "128", "--dtypes", "float32"], "score_throughput"),
    "rank": (
        ["rank_throughput.py", "--problems", "10", "--ref-problems", "2", "--dtype", "float32"],
        "rank_throughput_float32_10problems",
    ),
    "verify": (
        [
            "verify_throughput.py",
            "--problems",
            "40",
            "--skip-multiple",
            "--time-limit-floor",
            "0.5",
            "--result-name",
            "verify_throughput_trees",
        ],
        "verify_throughput_trees",
    ),
}


def figures(name: str, result: dict) -> dict[str, float]:
    """The throughputs that matter for each bench: higher is better for all of them."""
    if name == "score":
        return {"score_fp32_records_per_s": result["score_float32"]["records_per_s"]}
    if name == "rank":
        return {"rank_programs_per_s": result["programs_per_s"]}
    return {
        "verify_flat_programs_per_s": result["flat"]["programs_per_s"],
        "verify_scaled_programs_per_s": result["scaled"][0]["programs_per_s"],
    }


def run(tree: Path, name: str) -> dict[str, float]:
    args, result_name = BENCHES[name]
    env = dict(os.environ, PYTHONPATH=str(tree / "src"), CODESCALER_DATA=str(DATA))
    subprocess.run([sys.executable, *args], cwd=tree / "bench", env=env, check=True)
    return figures(name, json.loads((tree / "bench" / "results" / f"{result_name}.json").read_text()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old", type=Path, required=True)
    parser.add_argument("--new", type=Path, required=True)
    parser.add_argument("--benches", nargs="+", default=list(BENCHES), choices=list(BENCHES))
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--result-name", default="trees")
    args = parser.parse_args()
    trees = {"old": args.old.resolve(), "new": args.new.resolve()}
    rounds: dict[str, list[dict[str, float]]] = {"old": [], "new": []}
    for _ in range(args.rounds):
        for side, tree in trees.items():
            figures_of_round: dict[str, float] = {}
            for name in args.benches:
                figures_of_round.update(run(tree, name))
            rounds[side].append(figures_of_round)
    runs = {side: {k: statistics.median(r[k] for r in rows) for k in rows[0]} for side, rows in rounds.items()}
    ratios = {k: round(runs["new"][k] / runs["old"][k], 3) for k in runs["old"]}
    result = {**{s: str(t) for s, t in trees.items()}, "rounds": rounds, "median": runs, "new_over_old": ratios}
    path = write_result(args.result_name, result)
    for k, ratio in ratios.items():
        print(f"{k:>32}: old {runs['old'][k]:8.2f}  new {runs['new'][k]:8.2f}  new/old {ratio:.3f}")
    print(f"-> {path}")


if __name__ == "__main__":
    main()
