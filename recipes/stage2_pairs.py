"""Training pairs for codescaler-mini's second stage: the pairs of a larger set that stage 1 did not use.

    python recipes/stage2_pairs.py ALL.jsonl STAGE1.jsonl OUT.jsonl [--unaligned 300] [--seed 0]

ALL and STAGE1 come from `codescaler pairs` over the same candidates with the same seed, so their
problem-level splits agree; only training rows are written. Stage 1 already separates unaligned
programs (97% on validation), so most of them are left out to spend the steps on mutants.
"""

import argparse
import json
import random


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("all_pairs")
    parser.add_argument("stage1_pairs")
    parser.add_argument("output")
    parser.add_argument("--unaligned", type=int, default=300, help="unaligned pairs kept")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    def rows(path: str) -> list[dict]:
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def key(row: dict) -> tuple:
        return row["problem_id"], row["chosen"], row["rejected"]

    seen = {key(r) for r in rows(args.stage1_pairs)}
    fresh = [r for r in rows(args.all_pairs) if r.get("split") != "validation" and key(r) not in seen]
    unaligned = [r for r in fresh if r["source"] == "unaligned"]
    random.Random(args.seed).shuffle(unaligned)
    kept = [r for r in fresh if r["source"] != "unaligned"] + unaligned[: args.unaligned]
    with open(args.output, "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in kept)
    print(f"{len(kept)} stage-2 pairs ({len(fresh)} unused training pairs) -> {args.output}")  # noqa: T201


if __name__ == "__main__":
    main()
