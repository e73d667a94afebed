"""verl rows of HumanEval+ with their tests inline (before) and by reference to a test store (after): file sizes,
and the reward function's time per sample, side by side in one run.

Each problem is scored as a GRPO step scores it: ``--group`` samples (its reference solution), each a separate
call with the row's ground truth, as verl's reward loop makes them. ``ground truth`` times reading the ground truth
alone (what every call pays before any test runs); ``execution reward`` times the whole execution reward on the
first ``--run-problems`` problems.

python bench/verl_ground_truth.py [--group 4] [--run-problems 16]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from common import write_result

from codescaler import benchmarks
from codescaler.integrations import verl
from codescaler.records.test_store import forget_tests


def _rows(records: list[dict], folder: Path, by_reference: bool) -> tuple[list[dict], dict[str, int]]:
    store = folder / "humanevalplus.tests.jsonl" if by_reference else None
    rows = benchmarks.to_verl(records, "humanevalplus", store=store)
    parquet = folder / ("after.parquet" if by_reference else "before.parquet")
    pq.write_table(pa.Table.from_pylist(rows), parquet)
    sizes = {"parquet_bytes": parquet.stat().st_size, "largest_ground_truth_bytes": 0}
    sizes["largest_ground_truth_bytes"] = max(len(r["reward_model"]["ground_truth"]) for r in rows)
    if store is not None:
        sizes["store_bytes"] = store.stat().st_size
    return pq.read_table(parquet).to_pylist(), sizes  # as verl reads them back


def _per_sample(rows: list[dict], group: int, responses: list[str], reward: str | None) -> float:
    """Seconds per sample: each of ``group`` samples per row in its own call."""
    forget_tests()  # each layout starts cold, as a fresh reward worker does
    started, calls = time.perf_counter(), 0
    for row, response in zip(rows, responses):
        truth, info = row["reward_model"]["ground_truth"], row["extra_info"]
        for _ in range(group):
            if reward is None:
                verl._problems([truth], [info])
            else:
                verl.compute_score_batch([row["data_source"]], [response], [truth], [info], reward=reward)
            calls += 1
    return (time.perf_counter() - started) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--group", type=int, default=4, help="samples per problem (a GRPO group)")
    parser.add_argument("--run-problems", type=int, default=16, help="problems whose samples run their tests")
    args = parser.parse_args()
    records = benchmarks.load("humanevalplus")
    responses = [f"```python\n{r['reference']}\n```" for r in records]
    result: dict = {"problems": len(records), "group": args.group}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        layouts = {name: _rows(records, folder, name == "by reference") for name in ("inline", "by reference")}
        for name, (rows, sizes) in layouts.items():
            truth = _per_sample(rows, args.group, responses, None)
            n = args.run_problems
            run = _per_sample(rows[:n], args.group, responses[:n], "execution")
            result[name] = {
                **sizes,
                "ground_truth_ms_per_sample": 1000 * truth,
                "execution_reward_ms_per_sample": 1000 * run,
            }
            print(
                f"{name:>13}: parquet {sizes['parquet_bytes'] / 1e6:7.1f} MB"
                + (f" + store {sizes['store_bytes'] / 1e6:.1f} MB" if "store_bytes" in sizes else "")
                + f"; largest ground truth {sizes['largest_ground_truth_bytes'] / 1e6:.1f} MB; "
                f"ground truth {1000 * truth:8.2f} ms/sample; execution reward {1000 * run:8.1f} ms/sample"
            )
    before, after = result["inline"], result["by reference"]
    result["ground_truth_speedup"] = before["ground_truth_ms_per_sample"] / after["ground_truth_ms_per_sample"]
    result["execution_reward_speedup"] = (
        before["execution_reward_ms_per_sample"] / after["execution_reward_ms_per_sample"]
    )
    print(
        f"ground truth {result['ground_truth_speedup']:.1f}x faster per sample, "
        f"execution reward {result['execution_reward_speedup']:.2f}x"
    )
    print(write_result("verl_ground_truth", json.loads(json.dumps(result))))


if __name__ == "__main__":
    main()
