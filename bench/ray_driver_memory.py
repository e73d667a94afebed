"""What a ``--engine ray`` driver holds per block of input: the read tasks it hands Ray Data (a block's first line,
byte range and metadata each), measured with tracemalloc over a synthetic JSONL input. The answers themselves
stream through Ray Data's backpressure; this is the part that grows with the input.

    python bench/ray_driver_memory.py [--lines 400000] [--batch 4]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import tracemalloc
from pathlib import Path

from common import write_result

from codescaler.integrations.ray import _datasource, _read_tasks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=400_000)
    parser.add_argument("--batch", type=int, default=4, help="records a block (verify's default with one worker)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "input.jsonl"
        with open(path, "w") as f:
            f.writelines(json.dumps({"id": i, "question": "q", "response": "r"}) + "\n" for i in range(args.lines))
        tracemalloc.start()
        tasks = _read_tasks(str(path), frozenset(), args.batch)
        read_tasks = _datasource(str(path), tasks).get_read_tasks(1)
        held, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    blocks = len(read_tasks)
    result = {"lines": args.lines, "batch": args.batch, "blocks": blocks, "bytes_per_block": held / blocks}
    result["peak_bytes_per_block"] = peak / blocks
    print(f"{blocks:,} blocks of {args.batch} records: the driver holds {held / blocks:,.0f} bytes a block")
    print(f"-> {write_result('ray_driver_memory', result)}")


if __name__ == "__main__":
    main()
