"""``codescaler verify`` on Ray Data against the local sandbox, side by side in one run, on CodeT's HumanEval pool.

Four runs of the same job over the same file (``--problems`` problems x 100 programs), each through the CLI:

* ``local``: the default engine, one sandbox of one worker per core;
* ``ray_one_node``: ``--engine ray`` on a Ray started here with as many CPUs as cores, one actor of one
  sandbox worker per core (the engine's overhead: same cores, same programs);
* ``ray_three_nodes``: a local three-node cluster (``ray.cluster_utils.Cluster``), one CPU each, one actor a node;
* ``ray_node_killed``: the same cluster, one worker node removed once a third of the records are written.

Every Ray run's verdicts are checked against the local run's, record by record. On this 2-core machine the three
nodes share two cores, so their figure is the engine's cost of spreading, not a speed-up.

    python bench/ray_verify.py [--problems 164] [--result-name ray_verify]

Each run's ``first_record_s`` is the engine's fixed start (actors started, a sandbox each, the first block answered);
the rest is its rate.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from pathlib import Path

import ray
from common import write_result
from ray.cluster_utils import Cluster

from codescaler import benchmarks
from codescaler.cli import main as cli

FIRST: dict[str, float] = {}  # output path -> seconds until its first record was written (the engine's start)


def verify(problems: Path, out: Path, *flags: str) -> float:
    start = time.perf_counter()

    def first_record() -> None:
        while not (out.exists() and out.stat().st_size):
            time.sleep(0.05)
        FIRST[str(out)] = time.perf_counter() - start

    threading.Thread(target=first_record, daemon=True).start()
    assert cli(["verify", str(problems), "-o", str(out), "--timeout", "3", *flags]) == 0
    return time.perf_counter() - start


def verdicts(path: Path) -> list:
    return [(r["line"], r.get("passed"), r.get("status")) for r in map(json.loads, path.read_text().splitlines())]


def remove_node_at(cluster: Cluster, out: Path, lines: int, when: dict) -> threading.Thread:
    def watch() -> None:
        while not (out.exists() and out.read_text().count("\n") >= lines):
            time.sleep(0.05)
        when["written"] = out.read_text().count("\n")
        cluster.remove_node(cluster.list_all_nodes()[-1], allow_graceful=False)
        when["at"] = time.perf_counter()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", type=int, default=164)
    parser.add_argument("--result-name", default="ray_verify")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    pool = benchmarks.load("codet-humaneval")[: args.problems]
    folder = Path(tempfile.mkdtemp(prefix="ray-verify-"))
    problems = folder / "problems.jsonl"
    problems.write_text("".join(json.dumps(p) + "\n" for p in pool))
    programs = sum(len(p["responses"]) for p in pool)
    runs: dict[str, dict] = {}

    def record(name: str, seconds: float, out: Path, **extra) -> None:
        # programs whose status differs from the local run's (a program at its time limit can land either side)
        differ = [
            f"line {a[0]} program {i}: {sa} here, {sb} there"
            for a, b in zip(verdicts(folder / "local.jsonl"), verdicts(out))
            for i, (sa, sb) in enumerate(zip(a[2] or [], b[2] or []))
            if sa != sb
        ]
        same_records = [line for line, _, _ in verdicts(out)] == [
            line for line, _, _ in verdicts(folder / "local.jsonl")
        ]
        runs[name] = {
            "seconds": round(seconds, 1),
            "programs_per_s": round(programs / seconds, 1),
            "every_record_once_in_order": same_records,
            "first_record_s": round(FIRST.get(str(out), seconds), 1),
            "programs_differ": differ,
        }
        runs[name].update(extra)
        print(
            f"{name}: {seconds:.1f} s, {programs / seconds:.1f} programs/s, records as local: {same_records}, "
            f"{len(differ)} programs differ {differ[:3]} {extra or ''}"
        )

    record("local", verify(problems, folder / "local.jsonl", "--workers", str(cores)), folder / "local.jsonl")

    ray.init(num_cpus=cores, include_dashboard=False, log_to_driver=False)
    flags = ["--engine", "ray", "--workers", str(cores), "--ray-actors", "1"]  # one actor a node, a worker a core
    record("ray_one_node", verify(problems, folder / "one.jsonl", *flags), folder / "one.jsonl")
    ray.shutdown()

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    for _ in range(2):
        cluster.add_node(num_cpus=1)
    ray.init(address=cluster.address, log_to_driver=False)
    flags = ["--engine", "ray", "--workers", "1", "--ray-actors", "3", "--ray-min-actors", "3"]
    record("ray_three_nodes", verify(problems, folder / "three.jsonl", *flags), folder / "three.jsonl")
    when: dict = {}
    watcher = remove_node_at(cluster, folder / "killed.jsonl", args.problems // 3, when)
    started = time.perf_counter()
    seconds = verify(problems, folder / "killed.jsonl", *flags)
    watcher.join()
    records = verdicts(folder / "killed.jsonl")
    record(
        "ray_node_killed",
        seconds,
        folder / "killed.jsonl",
        node_removed_at_s=round(when["at"] - started, 1),
        records_written_then=when["written"],
        records=len(records),
        distinct_lines=len({line for line, _, _ in records}),
    )
    ray.shutdown()
    cluster.shutdown()

    result = {
        "problems": args.problems,
        "programs": programs,
        "cores": cores,
        "runs": runs,
        "ray_one_node_over_local": round(runs["local"]["seconds"] / runs["ray_one_node"]["seconds"], 3),
        "ray_three_nodes_over_local": round(runs["local"]["seconds"] / runs["ray_three_nodes"]["seconds"], 3),
        "killed_over_three_nodes": round(runs["ray_three_nodes"]["seconds"] / runs["ray_node_killed"]["seconds"], 3),
    }
    print(
        f"Ray Data over local: one node {result['ray_one_node_over_local']}x, three nodes "
        f"{result['ray_three_nodes_over_local']}x; with a node killed {result['killed_over_three_nodes']}x of three"
    )
    print(f"-> {write_result(args.result_name, result)}")


if __name__ == "__main__":
    main()
