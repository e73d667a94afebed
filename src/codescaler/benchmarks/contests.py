"""Contest problem sets in DeepCoder's layout: LiveCodeBench (stdin/stdout and call-based tests), CodeContests,
Codeforces."""

from __future__ import annotations

import json
import re
from pathlib import Path

from codescaler.benchmarks.registry import Record, loader

# "Your answer is considered correct if its absolute or relative error does not exceed 10^{-4}": the judge the
# statement asks for (the default token check allows 1e-6 relative, which is stricter than 1e-4 and looser than
# 1e-9).
_TOLERANCE = re.compile(
    r"(?:absolute|relative)(?:\s+or\s+(?:absolute|relative))?\s+error[^.]*?10\s*\^\s*\{?\s*[-−]\s*(\d+)\s*\}?", re.I
)


# "If there are multiple answers, print any of them": many right outputs, one expected, and no checker in the data.
_SEVERAL_ANSWERS = re.compile(
    r"(print|output) any|any of them will be accepted|any (valid|correct|such|possible) (answer|solution|one)|"
    r"if there are (several|multiple|many) (possible |correct |valid |optimal )?(answers|solutions)",
    re.I,
)


def several_answers(statement: str) -> dict[str, bool]:
    """``{"several_answers": True}`` for a statement that accepts any of several outputs; else nothing."""
    return {"several_answers": True} if _SEVERAL_ANSWERS.search(statement) else {}


def stated_tolerance(statement: str) -> dict[str, float]:
    """The ``rtol``/``atol`` a statement grants its real-valued answers, or nothing where it grants none."""
    found = _TOLERANCE.search(statement)
    if found is None:
        return {}
    tolerance = 10.0 ** -int(found.group(1))
    return {"rtol": tolerance, "atol": tolerance}


def _stdio(given: str, expected: str, statement: str) -> Record:
    return {"type": "stdio", "input": given, "output": expected, **stated_tolerance(statement)}


# What LiveCodeBench's grader runs before every program (lcb_runner/evaluation/testing_util.py): these star imports
# and a recursion limit of 50,000. Its verdicts are the reference for this benchmark.
LCB_PRELUDE = (
    "".join(
        f"from {m} import *\n"
        for m in "string re datetime collections heapq bisect copy math random statistics itertools functools "
        "operator io sys json builtins typing".split()
    )
    + "import string, re, datetime, collections, heapq, bisect, copy, math, random, statistics, itertools, "
    "functools, operator, io, sys, json\nsys.setrecursionlimit(50000)"
)


def _lcb_test(test: dict, starter: str) -> Record:
    """A LiveCodeBench test judged as its own grader judges it (``checker``/``compare`` ``lcb``)."""
    if test["testtype"] == "stdin":
        return {"type": "stdio", "input": test["input"], "output": test["output"], "checker": "lcb"}
    method = re.search(r"def (\w+)\(\s*self", starter) or re.search(r"def (\w+)\(", starter)
    if method is None:
        raise ValueError(f"starter code defines no function: {starter[:80]!r}")
    fn = f"Solution().{method.group(1)}" if "self" in method.group(0) else method.group(1)
    return {
        "type": "call",
        "fn": fn,
        "args": [json.loads(line) for line in test["input"].split("\n") if line.strip()],
        "expected": json.loads(test["output"]),
        "compare": "lcb",
    }


@loader("lcb", "lcb-train", folder="deepcoder_rllm")
def _lcb(root: Path, name: str) -> list[Record]:
    file = "train_livecodebench.json" if name == "lcb-train" else "test_livecodebench.json"
    with open(root / "deepcoder_rllm" / file) as f:
        problems = json.load(f)
    return [
        {
            "id": f"{name}/{i}",
            "question": p["problem"],
            "starter_code": p["starter_code"] or None,
            "language": "python",
            "prelude": LCB_PRELUDE,
            "tests": [_lcb_test(t, p["starter_code"]) for t in p["tests"]],
            **several_answers(p["problem"]),
            "split": "train" if name == "lcb-train" else "test",
            "source": name,
        }
        for i, p in enumerate(problems)
    ]


@loader("codecontests", "codeforces", folder="deepcoder_rllm")
def _stdio_sets(root: Path, name: str) -> list[Record]:
    file = {"codecontests": "test_code_contests.json", "codeforces": "test_codeforces.json"}[name]
    with open(root / "deepcoder_rllm" / file) as f:
        problems = json.load(f)
    records = []
    for i, p in enumerate(problems):
        pairs = (
            zip(p["tests"]["inputs"], p["tests"]["outputs"])
            if isinstance(p["tests"], dict)
            else ((t["input"], t["output"]) for t in p["tests"])
        )
        records.append(
            {
                "id": f"{name}/{i}",
                "question": p["problem"].strip(),
                "language": "python",
                "tests": [_stdio(a, b, p["problem"]) for a, b in pairs],
                **several_answers(p["problem"]),
                "split": "test",  # DeepCoder's test files
                "source": name,
            }
        )
    return records
