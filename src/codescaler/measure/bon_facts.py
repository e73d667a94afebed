"""The facts best-of-N reads, computed once and cached: ground truth, outputs on generated tests, judges' scores.

Expensive facts are computed once and cached under the report folder: ground truth per candidate (the
pool's ``labels`` or a sandbox run of its ``tests``), each candidate's outputs on the generated tests, and
RM rewards with their per-problem timings, in ``<report folder>/cache``. A second run of the report
executes and scores nothing new.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

from codescaler.execution.verify import program_of
from codescaler.extraction.extract import Check, Mode
from codescaler.measure.bon_methods import generated_calls


class _FactCache:
    """A JSONL file of ``{key, value}`` rows: read whole on open, appended and flushed per row, closed after."""

    def __init__(self, path: Path) -> None:
        self.known: dict[str, Any] = {}
        if path.exists():
            for line in path.read_text().splitlines():
                if line.strip():
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError:
                        continue  # a half-written last line from a killed run: recomputed
                    self.known[row["key"]] = row["value"]
        self._file = open(path, "a")

    def put(self, key: str, value: Any) -> None:
        self.known[key] = value
        self._file.write(json.dumps({"key": key, "value": value}) + "\n")
        self._file.flush()

    def __enter__(self) -> _FactCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()


def _key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


def program_ids(problem: dict[str, Any]) -> list[int | None]:
    """Per candidate, which of the problem's distinct runnable programs it is (None: no program), as the
    sandbox runs them: identical programs run once."""
    ids: dict[str, int] = {}
    out: list[int | None] = []
    for response in problem["responses"]:
        program = program_of(problem, response, "lenient")[0]
        out.append(None if program is None else ids.setdefault(program, len(ids)))
    return out


def ground_truth(pool: list[dict[str, Any]], sandbox, cache_dir: Path) -> list[dict[str, Any]]:
    """Per problem: ``passed``, per candidate, whether it passes every real test (the pool's ``labels`` where
    it has them), and the ``wall`` and ``cpu`` seconds and distinct ``programs`` of running them (None for
    labels: nothing ran)."""
    from codescaler.execution.verify import require_verdicts, verify_responses

    out = []
    with _FactCache(cache_dir / "ground_truth.jsonl") as cache:
        for problem in pool:
            if "labels" in problem:
                out.append(
                    {"passed": [bool(x) for x in problem["labels"]], "wall": None, "cpu": None, "programs": None}
                )
                continue
            key = _key("truth+cost", problem["id"], problem["responses"], problem.get("tests"))
            if key not in cache.known:
                wall, cpu = time.perf_counter(), sandbox.cpu_seconds
                verdicts = require_verdicts(next(verify_responses([problem], sandbox)), f"problem {problem['id']}")
                wall, cpu = time.perf_counter() - wall, sandbox.cpu_seconds - cpu
                programs = len({i for i in program_ids(problem) if i is not None})
                cache.put(key, {"passed": [v.passed for v in verdicts], "wall": wall, "cpu": cpu, "programs": programs})
            out.append(cache.known[key])
    return out


def run_generated(pool: list[dict[str, Any]], sandbox, cache_dir: Path) -> list[dict[str, Any]]:
    """Per problem: outputs of every candidate on its generated calls, with wall and CPU time.

    A problem with no usable generated test gets empty outputs: for CodeT and voting all its candidates
    tie (the pick is random), and ``rm+codet`` falls back to the RM.
    """
    with _FactCache(cache_dir / "generated.jsonl") as cache:
        return [_generated_facts(problem, sandbox, cache) for problem in pool]


def _generated_facts(problem: dict[str, Any], sandbox, cache: _FactCache) -> dict[str, Any]:
    from codescaler.execution.sandbox import Job

    calls = generated_calls(problem.get("generated_tests") or [], problem.get("entry_point") or "")
    if not calls:  # nothing to run: every candidate ties, as CodeT's groups would
        return {
            "outputs": [[] for _ in problem["responses"]],
            "expected": [],
            "wall": 0.0,
            "cpu": 0.0,
            "programs": 0,
            "tests": 0,
        }
    key = _key("generated", problem["id"], problem["responses"], calls)
    if key not in cache.known:
        tests = [{"type": "call", "fn": c["fn"], "args": c["args"], "entry_point": c["fn"]} for c in calls]
        programs = [program_of(problem, r, "lenient")[0] for r in problem["responses"]]
        distinct = sorted({p for p in programs if p is not None})
        wall, cpu = time.perf_counter(), sandbox.cpu_seconds
        results = dict(zip(distinct, sandbox.run([Job(p, tests) for p in distinct])))
        wall, cpu = time.perf_counter() - wall, sandbox.cpu_seconds - cpu
        outputs = [
            [[o["value"]] if o.get("status") == "returned" else None for o in results[p]] if p else [None] * len(calls)
            for p in programs
        ]
        cache.put(
            key,
            {
                "outputs": outputs,
                "expected": [c["expected"] for c in calls],
                "wall": wall,
                "cpu": cpu,
                "programs": len(distinct),
                "tests": len(calls),
            },
        )
    return cache.known[key]


def judge_facts(
    pool: list[dict[str, Any]], judge, judge_id: str, mode: Mode, check: Check, cache_dir: Path
) -> list[dict[str, Any]]:
    """Per problem: every candidate's raw score and shaped reward under ``judge``, with the wall and CPU time
    and the tokens it took."""
    from codescaler.rewards.kinds import ScoringConfig, reward

    config = ScoringConfig(mode=mode, check=check)
    # A name says nothing of the weights behind it (a re-trained codescaler-mini keeps its name).
    weights = judge.fingerprint()
    extraction = mode if check == "syntax" else f"{mode}+{check}"
    out = []
    with _FactCache(cache_dir / "judges.jsonl") as cache:
        for problem in pool:
            key = _key(
                "judge", judge_id, weights, extraction, problem["id"], problem["responses"], problem.get("code_prefix")
            )
            if key not in cache.known:
                n = len(problem["responses"])
                prefixes = [problem.get("code_prefix")] * n if problem.get("code_prefix") is not None else None
                wall, cpu = time.perf_counter(), time.process_time()
                results = reward(
                    judge,
                    [problem["question"]] * n,
                    problem["responses"],
                    code_prefixes=prefixes,
                    config=config,
                    show_progress=False,
                )
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                cache.put(
                    key,
                    {
                        "scores": [r.score for r in results],
                        "rewards": [r.reward for r in results],
                        "wall": wall,
                        "cpu": cpu,
                        "tokens": sum(r.num_tokens for r in results),
                    },
                )
            out.append(cache.known[key])
    return out
