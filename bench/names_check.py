"""How often the undefined-name check (``ScoringConfig.check="names"``) rejects a program that passes.

For each labelled pool: of the answers that parse, how many the check rejects, and how many of those
pass every test (the check's false rejections: the name sits on a line the tests never run). The pools
are MultiPL-E's python completions (code-davinci-002 on HumanEval, labelled by MultiPL-E: evaluation
data, used here only to count) and any verified candidate files given, e.g. the on-policy samples of
``recipes/codescaler-mini-onpolicy.sh`` (``RUN/cand-sampled.jsonl``, MBPP: training data).

    python bench/names_check.py [VERIFIED.jsonl ...]
"""

from __future__ import annotations

import json
import sys
import time

from common import write_result

from codescaler import benchmarks
from codescaler.extraction.extract import extract_program


def pool_figures(records: list[dict]) -> dict:
    parsed = rejected = rejected_passing = passing = 0
    start = time.perf_counter()
    for record in records:
        labels = record.get("labels") or record["passed"]
        prefix = record.get("code_prefix")
        for response, passed in zip(record["responses"], labels):
            found = extract_program(response, "python", "strict", prefix, check="names")
            undefined = (found.reason or "").startswith("undefined_name")
            if not (found.valid or undefined):
                continue  # does not parse: invalid under either check
            parsed += 1
            passing += passed
            rejected += undefined
            rejected_passing += undefined and passed
    return {
        "problems": len(records),
        "answers_that_parse": parsed,
        "passing": passing,
        "rejected_by_names": rejected,
        "rejected_that_pass": rejected_passing,
        "pass_rate_of_kept": round((passing - rejected_passing) / max(1, parsed - rejected), 4),
        "seconds": round(time.perf_counter() - start, 2),
    }


def main() -> None:
    pools = {"multiple-python (HumanEval, eval)": benchmarks.load("multiple-python")}
    for path in sys.argv[1:]:
        with open(path) as f:
            pools[path] = [json.loads(line) for line in f if line.strip()]
    result = {name: pool_figures(records) for name, records in pools.items()}
    for name, r in result.items():
        print(
            f"{name}: {r['answers_that_parse']} answers parse ({r['passing']} pass); the names check rejects "
            f"{r['rejected_by_names']}, of which {r['rejected_that_pass']} pass; pass rate of the kept "
            f"{r['pass_rate_of_kept']:.1%} ({r['seconds']} s)"
        )
    print(write_result("names_check", {"pools": result}))


if __name__ == "__main__":
    main()
