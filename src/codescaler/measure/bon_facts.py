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
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

from codescaler.execution.verify import InfrastructureError, program_of, require_verdicts, verify_responses
from codescaler.extraction.extract import Check, Mode
from codescaler.measure.bon_methods import generated_calls
from codescaler.records.batch import Engine, Process, run_chunked


class _FactCache:
    """A JSONL file of ``{key, value}`` rows: read whole on open, appended and flushed per row, closed after."""

    def __init__(self, path: Path) -> None:
        self.path, self.known = path, {}
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


# Builds the engine that runs a sandbox job (``truth_job``, ``generated_job``) elsewhere: ``--engine ray``'s actors
EngineFor = Callable[[Callable[[Any], Process]], Engine]


def ground_truth(
    pool: list[dict[str, Any]], sandbox, cache_dir: Path, engine_for: EngineFor | None = None
) -> list[dict[str, Any]]:
    """Per problem: ``passed``, per candidate, whether it passes every real test (the pool's ``labels`` where
    it has them), and the ``wall`` and ``cpu`` seconds and distinct ``programs`` of running them (None for
    labels: nothing ran)."""
    keys = [None if "labels" in p else _key("truth+cost", p["id"], p["responses"], p.get("tests")) for p in pool]
    with _FactCache(cache_dir / "ground_truth.jsonl") as cache:
        _run_uncached(cache, keys, pool, truth_job, sandbox, engine_for, "ground truth")
        return [
            {"passed": [bool(x) for x in p["labels"]], "wall": None, "cpu": None, "programs": None}
            if key is None
            else cache.known[key]
            for key, p in zip(keys, pool)
        ]


def run_generated(
    pool: list[dict[str, Any]], sandbox, cache_dir: Path, engine_for: EngineFor | None = None
) -> list[dict[str, Any]]:
    """Per problem: outputs of every candidate on its generated calls, with wall and CPU time.

    A problem with no usable generated test gets empty outputs: for CodeT and voting all its candidates
    tie (the pick is random), and ``rm+codet`` falls back to the RM.
    """
    calls = [generated_calls(p.get("generated_tests") or [], p.get("entry_point") or "") for p in pool]
    keys = [_key("generated", p["id"], p["responses"], c) if c else None for p, c in zip(pool, calls)]
    with _FactCache(cache_dir / "generated.jsonl") as cache:
        _run_uncached(cache, keys, pool, generated_job, sandbox, engine_for, "generated tests")
        nothing = {"expected": [], "wall": 0.0, "cpu": 0.0, "programs": 0, "tests": 0}
        # nothing to run: every candidate ties, as CodeT's groups would
        return [
            {"outputs": [[] for _ in p["responses"]], **nothing} if key is None else cache.known[key]
            for key, p in zip(keys, pool)
        ]


def _run_uncached(
    cache: _FactCache,
    keys: list[str | None],
    pool: list[dict[str, Any]],
    job: Callable[[Any], Process],
    sandbox,
    engine_for: EngineFor | None,
    desc: str,
) -> None:
    """Run ``job`` on each problem whose key is not cached (a key of None needs no run), in ``sandbox`` or on the
    engine ``engine_for(job)`` builds, and cache each answer as it comes back: a killed run keeps them."""
    answers: Iterator[dict[str, Any]]
    todo = list({k: p for k, p in zip(keys, pool) if k is not None and k not in cache.known}.items())
    if engine_for is None or not todo:
        process = job(sandbox)
        answers = (process([(0, {}, p)])[0] for _, p in todo)
    else:  # the actors read the problems from a file beside the cache (shared storage on a cluster)
        pending = cache.path.with_suffix(".todo.jsonl")
        pending.write_text("".join(json.dumps(p) + "\n" for _, p in todo))
        answers = run_chunked(pending, None, lambda number, p: p, engine=engine_for(job), desc=desc)
    for (key, _), facts in zip(todo, answers):
        if "error" in facts:
            raise InfrastructureError(facts["error"])
        cache.put(key, {k: v for k, v in facts.items() if k not in ("line", "id")})
    if engine_for is not None and todo:  # every answer is cached: the copy of the problems has served
        pending.unlink()


def truth_job(sandbox) -> Process:
    """Per problem, one after another (each timed alone): whether each candidate passes every test, the wall and
    CPU seconds, and the distinct programs run; ``error`` where the sandbox could not run them."""
    return partial(_each_problem, _truth, sandbox)


def generated_job(sandbox) -> Process:
    """Per problem with generated calls, one after another (each timed alone): every candidate's output on each
    call (None where it did not return), what the calls expect, and the wall and CPU seconds, distinct programs and
    calls run. Identical programs run once."""
    return partial(_each_problem, _generated, sandbox)


def _each_problem(fact: Callable[[dict, Any], dict], sandbox, items: list[tuple[int, dict, dict]]) -> list[dict]:
    return [fact(problem, sandbox) for _, _, problem in items]


def _truth(problem: dict[str, Any], sandbox) -> dict[str, Any]:
    wall, cpu = time.perf_counter(), sandbox.cpu_seconds
    try:
        verdicts = require_verdicts(next(verify_responses([problem], sandbox)), f"problem {problem['id']}")
    except InfrastructureError as err:
        return {"error": str(err)}
    wall, cpu = time.perf_counter() - wall, sandbox.cpu_seconds - cpu
    programs = len({i for i in program_ids(problem) if i is not None})
    return {"passed": [v.passed for v in verdicts], "wall": wall, "cpu": cpu, "programs": programs}


def _generated(problem: dict[str, Any], sandbox) -> dict[str, Any]:
    from codescaler.execution.sandbox import Job

    calls = generated_calls(problem.get("generated_tests") or [], problem.get("entry_point") or "")
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
    return {
        "outputs": outputs,
        "expected": [c["expected"] for c in calls],
        "wall": wall,
        "cpu": cpu,
        "programs": len(distinct),
        "tests": len(calls),
    }


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
