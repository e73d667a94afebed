"""Which problems of a training set are evaluation problems too, so that "did RL help" is never measured on
trained problems: a problem overlaps when its id (``mbpp/602`` is MBPP+'s ``Mbpp/602``) or its normalised
question text is one of an evaluation benchmark's.

The evaluation benchmarks are the paper's (:data:`EVALUATION`, ``eval-policy``'s defaults). Their ids and
question hashes ship in ``eval_fingerprints.json`` (no problem text), so a machine without the datasets can
check too; ``python -m codescaler.benchmarks.overlap`` writes it anew from the data, and a test checks it is
current. HumanEval-derived problems have their own, stricter guard (``training.pairs.humaneval_match``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

EVALUATION = ("lcb", "codecontests", "codeforces", "leetcode-test", "mbppplus", "humanevalplus")
_FILE = "eval_fingerprints.json"


def id_key(problem_id: object) -> str:
    return str(problem_id).strip().lower()


def question_key(question: str) -> str:
    normalised = re.sub(r"\s+", " ", question).strip().lower()
    return hashlib.sha256(normalised.encode()).hexdigest()[:24]


def fingerprints(by_benchmark: Mapping[str, Iterable[Mapping[str, Any]]]) -> dict[str, dict[str, list[str]]]:
    """Per benchmark, the sorted id and question keys of its problems."""
    return {
        name: {
            "ids": sorted({id_key(r["id"]) for r in records}),
            "questions": sorted({question_key(r["question"]) for r in records}),
        }
        for name, records in ((name, list(records)) for name, records in by_benchmark.items())
    }


@cache
def _shipped() -> dict[str, tuple[frozenset[str], frozenset[str]]]:
    data = json.loads(resources.files("codescaler").joinpath(_FILE).read_text())
    return {name: (frozenset(v["ids"]), frozenset(v["questions"])) for name, v in data.items()}


def evaluation_overlap(problem: Mapping[str, Any]) -> str | None:
    """``"<benchmark> id"`` or ``"<benchmark> question"`` when ``problem`` (a problem record, or a pair with its
    ``problem_id``) is one of an evaluation benchmark's problems; else None."""
    ident = id_key(problem.get("id", problem.get("problem_id", "")))
    question = question_key(problem.get("question", ""))
    for name, (ids, questions) in _shipped().items():
        if ident in ids:
            return f"{name} id"
        if question in questions:
            return f"{name} question"
    return None


def without_evaluation_problems(
    problems: Iterable[dict[str, Any]], what: str
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """``problems`` less those that are evaluation problems, and how many were dropped per benchmark; ``what``
    names the set in the log line."""
    import logging

    kept: list[dict[str, Any]] = []
    dropped: dict[str, int] = {}
    for problem in problems:
        why = evaluation_overlap(problem)
        if why is None:
            kept.append(problem)
        else:
            name = why.split()[0]
            dropped[name] = dropped.get(name, 0) + 1
    if dropped:
        counts = ", ".join(f"{n} from {name}" for name, n in sorted(dropped.items()))
        logging.getLogger(__name__).warning(
            "%s: dropped %d evaluation problems (%s)", what, sum(dropped.values()), counts
        )
    return kept, dropped


def main() -> None:
    from codescaler.benchmarks.registry import load

    path = Path(__file__).resolve().parents[1] / _FILE
    path.write_text(json.dumps(fingerprints({name: load(name) for name in EVALUATION}), indent=0) + "\n")
    print(path)  # noqa: T201 - a maintenance script's one line


if __name__ == "__main__":
    main()
