"""``codescaler data list`` and ``data export``: benchmark datasets as problem records. No torch here."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(commands: Any) -> None:
    data = commands.add_parser("data", help="benchmark datasets in the problem record schema")
    data_commands = data.add_subparsers(dest="data_command", required=True)
    export = data_commands.add_parser("export", help="write a dataset as problem records")
    export.add_argument("name", help="dataset name; `codescaler data list` shows them")
    export.add_argument("-o", "--output", required=True, help="output file")
    export.add_argument(
        "--format",
        default="records",
        choices=["records", "verl"],
        help="records: codescaler JSONL; verl: verl's RL parquet (prompt, data_source, reward_model)",
    )
    export.add_argument(
        "--prompt",
        default="train",
        choices=["train", "eval"],
        help="verl: train (the RL prompt, strict extraction) or eval (validation data asked and judged as "
        "`codescaler eval-policy` does: LiveCodeBench's prompt, the last block, --time-limit per test)",
    )
    export.add_argument("--time-limit", type=float, default=2.0, help="verl --prompt eval: seconds per test")
    export.set_defaults(run=run_export)
    listing = data_commands.add_parser("list", help="the dataset names")
    listing.set_defaults(run=run_list)


def run_export(args: argparse.Namespace) -> int:
    from codescaler import benchmarks

    records = benchmarks.load(args.name)
    if args.format == "verl":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise SystemExit("--format verl writes Parquet: pip install 'codescaler[verl]'") from None

        pq.write_table(
            pa.Table.from_pylist(benchmarks.to_verl(records, args.name, args.prompt, args.time_limit)), args.output
        )
        print(f"wrote {len(records)} {args.name} problems in verl's format to {args.output}")
        return 0
    with open(args.output, "w") as f:
        for record in records:
            f.write(json.dumps(record) + "\n")
    print(f"wrote {len(records)} {args.name} problems to {args.output}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from codescaler import benchmarks

    print("\n".join(benchmarks.names()))
    return 0
