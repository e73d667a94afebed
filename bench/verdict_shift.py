"""eval-policy's HumanEval+ and MBPP+ figures before and after the verdicts follow EvalPlus, on one fixed sample set.

The samples are real programs (``bench/evalplus_agreement.py``'s: CodeT's and MultiPL-E's HumanEval pools, MBPP+'s
references, MBPP's solutions and mutants), each given as eval-policy's samples are, an answer with one code block
read by the paper's rule (the last block, unparsed), judged under eval-policy's protocol (a flat 2 s a test). The
same records are verified by ``codescaler verify`` as it was before (``--before``, a commit, checked out in a
temporary worktree) and as it is now; eval-policy's Avg@n over these samples is their mean verdict. EvalPlus's own
figures on the same programs are ``bench/results/evalplus_agreement.json``'s.

    .venv/bin/python bench/verdict_shift.py        # bench/results/verdict_shift.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import evalplus_agreement as agreement

ROOT = agreement.ROOT
PROTOCOL = {"time_limit": 2.0, "extraction": "last"}  # eval-policy's defaults (PolicyEvalConfig)


def verdicts(source: Path, dataset: str, programs: list[tuple[str, str, str]], folder: Path) -> list[bool | None]:
    """Each program's ``passed`` under ``codescaler verify`` run from the package in ``source`` (None where the
    record was refused: an error row)."""
    env = dict(os.environ, PYTHONPATH=str(source))
    exported = folder / f"{dataset}.jsonl"
    command = [sys.executable, "-m", "codescaler"]
    subprocess.run([*command, "data", "export", agreement.SETS[dataset][0], "-o", str(exported)], env=env, check=True)
    problems = {json.loads(line)["id"]: json.loads(line) for line in exported.read_text().splitlines()}
    by_task: dict[str, list[str]] = {}
    for task, program, _ in programs:
        by_task.setdefault(task, []).append(f"```python\n{program}\n```")
    records = folder / f"{dataset}-samples.jsonl"
    records.write_text(
        "".join(json.dumps(problems[t] | PROTOCOL | {"responses": r}) + "\n" for t, r in by_task.items())
    )
    out = folder / f"{dataset}-verdicts.jsonl"
    subprocess.run([*command, "verify", str(records), "-o", str(out)], env=env, check=True)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    return [p for row, answers in zip(rows, by_task.values()) for p in row.get("passed", [None] * len(answers))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", default="4e7fc78", help="the commit whose verifier is 'before'")
    parser.add_argument("--out", type=Path, default=agreement.RESULTS / "verdict_shift.json")
    args = parser.parse_args()
    sets = {"humaneval": agreement.humaneval_programs(10, 7), "mbpp": agreement.mbpp_programs()}
    evalplus = json.loads((agreement.RESULTS / "evalplus_agreement.json").read_text())["sets"]
    report: dict = {"before": args.before, "protocol": PROTOCOL, "sets": {}}
    with tempfile.TemporaryDirectory() as folder:
        tree = Path(folder) / "before"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), args.before], check=True)
        try:
            for dataset, programs in sets.items():
                before = verdicts(tree / "src", dataset, programs, Path(folder))
                after = verdicts(ROOT / "src", dataset, programs, Path(folder))
                row = {
                    "programs": len(programs),
                    "pass_before": round(sum(p is True for p in before) / len(programs), 4),
                    "pass_after": round(sum(p is True for p in after) / len(programs), 4),
                    "changed": sum(b != a for b, a in zip(before, after)),
                    "refused_before": sum(b is None for b in before),
                    "refused_after": sum(a is None for a in after),
                    "evalplus_pass_own_protocol": evalplus[dataset]["pass_rate_evalplus"],
                }
                report["sets"][agreement.SETS[dataset][0]] = row
                print(
                    f"{agreement.SETS[dataset][0]}: {row['programs']} samples, Avg@n {100 * row['pass_before']:.1f}% "
                    f"before, {100 * row['pass_after']:.1f}% after ({row['changed']} verdicts changed, "
                    f"{row['refused_before']} and {row['refused_after']} refused); EvalPlus "
                    f"under its own limits {100 * row['evalplus_pass_own_protocol']:.1f}%"
                )
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
