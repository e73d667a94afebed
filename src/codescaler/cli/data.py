"""``codescaler data list`` and ``data export``: benchmark datasets as problem records. No torch here."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from codescaler.cli.flags import output_file
from codescaler.records.errors import InputError
from codescaler.records.jsonl import writable


def register(commands: Any) -> None:
    data = commands.add_parser("data", help="benchmark datasets in the problem record schema")
    data_commands = data.add_subparsers(dest="data_command", required=True)
    export = data_commands.add_parser("export", help="write a dataset as problem records")
    export.add_argument("name", help="dataset name; `codescaler data list` shows them")
    export.add_argument("-o", "--output", required=True, type=output_file, help="output file")
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

    output = Path(args.output)
    if (args.format == "verl") != (output.suffix == ".parquet"):  # a file's name says what it holds
        wanted = ".parquet" if args.format == "verl" else ".jsonl"
        raise InputError(f"--format {args.format} writes {wanted[1:]}: name the output {output.stem}{wanted}")
    records = benchmarks.load(args.name)
    if args.format == "verl":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise InputError("--format verl writes Parquet: pip install 'codescaler[verl]'") from None

        store = writable(output).with_suffix(".tests.jsonl")  # the tests, once; the rows name them
        rows = benchmarks.to_verl(records, args.name, args.prompt, args.time_limit, store=store)
        pq.write_table(pa.Table.from_pylist(rows), output)
        print(f"wrote {len(records)} {args.name} problems in verl's format:")
        for path in (output, store):
            print(f"  {path}  {_size(path.stat().st_size)}")
        return 0
    with open(writable(output), "w") as f:
        for record in records:
            f.write(json.dumps(record) + "\n")
    print(f"wrote {len(records)} {args.name} problems to {output}  {_size(output.stat().st_size)}")
    return 0


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


def run_list(args: argparse.Namespace) -> int:
    from codescaler import benchmarks
    from codescaler.benchmarks.registry import where

    print(f"{'dataset':<22} {'data':<8} {'on disk':>9}  folder (its size: several datasets may share one)")
    for name in benchmarks.names():
        folder = where(name)
        here = folder is not None and folder.is_dir()
        files = folder.rglob("*") if folder is not None and here else ()
        size = _size(sum(f.stat().st_size for f in files if f.is_file())) if here else ""
        shown = folder or "(no data root: set CODESCALER_DATA)"
        print(f"{name:<22} {'local' if here else 'missing':<8} {size:>9}  {shown}")
    return 0
