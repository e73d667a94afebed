"""Training pairs for codescaler-mini's later stages: a chosen subset of a larger `codescaler pairs` file.

    python recipes/select_pairs.py ALL.jsonl OUT.jsonl [--exclude USED.jsonl] [--cap SOURCE=N ...] [--limit N]
                                   [--seed 0]

Only training rows are written. `--exclude` drops pairs an earlier stage already used (its file must come
from `codescaler pairs` over the same candidates with the same seed, so the problem-level splits agree).
`--cap SOURCE=N` keeps N random pairs of that source; pairs of other sources are all kept. Stage 1 already
separates unaligned programs (97% on validation) and deleted statements, so later stages cap them to
spend their steps on the harder mutants. `--limit N` then keeps N random pairs of all that is left (a replay
sample of an earlier stage's training file).
"""

import argparse
import json
import random


def read_rows(path: str) -> list[dict]:
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def pair_key(row: dict) -> tuple:
    return row["problem_id"], row["chosen"], row["rejected"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("all_pairs")
    parser.add_argument("output")
    parser.add_argument("--exclude", help="pairs file whose pairs are left out")
    parser.add_argument("--cap", action="append", default=[], metavar="SOURCE=N", help="keep N pairs of SOURCE")
    parser.add_argument("--limit", type=int, help="keep N random pairs of what the caps leave")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    caps = {}
    for cap in args.cap:
        source, _, n = cap.rpartition("=")
        if not source or not n.isdigit():
            parser.error(f"--cap {cap!r}: expected SOURCE=N")
        caps[source] = int(n)
    used = {pair_key(r) for r in read_rows(args.exclude)} if args.exclude else set()
    fresh = [r for r in read_rows(args.all_pairs) if r.get("split") != "validation" and pair_key(r) not in used]
    kept = [r for r in fresh if r["source"] not in caps]
    for source, n in caps.items():
        rows = [r for r in fresh if r["source"] == source]
        random.Random(args.seed).shuffle(rows)
        kept += rows[:n]
    if args.limit is not None:
        random.Random(args.seed).shuffle(kept)
        kept = kept[: args.limit]
    with open(args.output, "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in kept)
    print(f"{len(kept)} pairs of {len(fresh)} training pairs -> {args.output}")  # noqa: T201


if __name__ == "__main__":
    main()
