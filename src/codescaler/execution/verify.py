"""Execution labels: run each response's program against its problem's tests and judge the outcomes.

Problem records and their three kinds of test are written down in :mod:`codescaler.records.schema`. Judging
happens here, never in the sandbox, so a program never sees the expected answers. Each verdict comes
with a short ``detail`` where one is known: the exception a program raised, or the value it returned
against the one expected.
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Literal, cast

from codescaler.execution.compare import call_matches, stdout_matches
from codescaler.execution.sandbox import Job, Limits, Sandbox
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
    # None where no fraction of the tests is known: infrastructure, or a failing program whose other tests were not
    # run (the default stops at the first failure; ``all_tests`` runs every test)
    pass_fraction: float | None
    status: Status  # "passed", or the first failing test's verdict; a program that failed no test but could not
    # run them all is "infrastructure" (never a failure of the program)
    verdicts: list[Status]  # of the tests that ran, in order
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
    """Time limits: each benchmark's own harness's (``auto``), the sandbox's flat ``timeout``, or ``scaled``.

    ``scaled`` is EvalPlus 0.3.1's rule (``evalplus/evaluate.py``, ``evalplus/eval/__init__.py``): each test gets
    max(floor, factor x the reference's time on that test), floor 1 s and factor 4 there, and a program all its
    tests together min(``budget_cap``, the sum of its limits) + 1 s. ``auto`` applies it to the problems whose
    ``protocol`` is ``evalplus`` (HumanEval+, MBPP+) and keeps the flat timeout for the rest."""

    time_limit: Literal["auto", "flat", "scaled"] = field(
        default="auto",
        metadata={
            "help": "auto: each benchmark's reference harness (evalplus's scaled limits on HumanEval+ and MBPP+, "
            "flat elsewhere); flat: the sandbox timeout per test; scaled: max(floor, factor x the reference's time)"
        },
    )
    time_limit_factor: float = field(default=4.0, metadata={"help": "scaled: multiple of the reference's time"})
    time_limit_floor: float = field(default=1.0, metadata={"help": "scaled: the least seconds a test gets"})
    budget_cap: float = field(
        default=60.0, metadata={"help": "scaled: a program's seconds for all its tests, at most (plus 1 s)"}
    )
    reference_runs: int = field(default=3, metadata={"help": "scaled: runs of each reference, median kept"})

    def __post_init__(self) -> None:
        positive = (self.time_limit_factor, self.time_limit_floor, self.budget_cap)
        if min(positive) <= 0 or self.reference_runs < 1:
            raise ValueError("time-limit factor, floor and budget cap must be positive and reference-runs at least 1")


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


def sandbox_test(test: dict[str, Any], entry_point: str | None = None) -> dict[str, Any]:
    """What the sandbox gets: the test without its expected answer (and its own ``timeout``, where it has one)."""
    return _sent(test, entry_point) | ({"timeout": test["timeout"]} if "timeout" in test else {})


def _sent(test: dict[str, Any], entry_point: str | None) -> dict[str, Any]:
    if test["type"] == "assert":
        sent = {"type": "assert", "code": test["code"], "entry_point": test.get("entry_point", entry_point)}
        return sent | ({"fix_imports": True} if test.get("fix_imports") else {})
    if test["type"] == "call":
        sent = {"type": "call", "fn": test["fn"], "args": test["args"], "entry_point": entry_point}
        return sent | ({"reduce": "not_none"} if test.get("oracle") == "not_none" else {})
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
        if call_matches(test, got, expected):
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


def reference_seconds(problems: list[dict[str, Any]], sandbox: Sandbox, runs: int = 3) -> list[list[float] | None]:
    """Per problem, each test's seconds under its reference (the median of ``runs``); ``None`` where it has no
    reference or tests, or the reference does not pass them all. Timed once per machine and cached, keyed by a hash
    of the reference and its tests, as EvalPlus caches its reference's times with its expected outputs."""
    path = cache_dir() / "reference-test-seconds.json"
    cached: dict[str, list[float] | None] = json.loads(path.read_text()) if path.exists() else {}
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
            timings = [
                [o.get("time", 0.0) for o in run]
                for run in outcomes[i * runs : (i + 1) * runs]
                if len(run) == len(problem["tests"])
                and all(judge(t, o, sandbox) == "passed" for t, o in zip(problem["tests"], run))
            ]
            cached[key] = [statistics.median(times) for times in zip(*timings)] if len(timings) == runs else None
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}")
        partial.write_text(json.dumps(cached))
        os.replace(partial, path)  # whole or not at all: another process may be reading it
    return [None if key is None else cached[key] for key in keys]


def _evalplus(problem: dict[str, Any]) -> bool:  # its scaled limits (under ``auto``) and its harness's guard
    return problem.get("protocol") == "evalplus"


def with_time_limits(problems: list[dict[str, Any]], sandbox: Sandbox, config: TimeLimit) -> list[dict[str, Any]]:
    """``problems`` with each test's ``timeout`` and the program's ``budget`` set by ``config`` (``scaled``, or
    ``auto`` on a problem whose ``protocol`` asks for it): max(floor, factor x the reference's time on the test),
    and min(cap, their sum) + 1 s. A problem with a ``time_limit`` of its own, or whose reference does not pass,
    keeps that limit, or the sandbox's timeout, flat."""
    if config.time_limit == "flat":
        return problems
    wanted = ["time_limit" not in p and (config.time_limit == "scaled" or _evalplus(p)) for p in problems]
    timed = [p for p, w in zip(problems, wanted) if w]
    seconds = iter(reference_seconds(timed, sandbox, config.reference_runs))
    scaled = []
    for problem, w in zip(problems, wanted):
        reference = next(seconds) if w else None
        if reference is not None:
            limits = [round(max(config.time_limit_floor, config.time_limit_factor * t), 4) for t in reference]
            tests = [dict(t, timeout=limit) for t, limit in zip(problem["tests"], limits)]
            problem = dict(problem, tests=tests, budget=round(min(config.budget_cap, sum(limits)) + 1, 4))
        scaled.append(problem)
    return scaled


def _summary(judged: list[tuple[Status, str | None]], outcomes: list[Outcome], total: int) -> Verification:
    """A program's verification from its judged tests; ``total`` is how many it has (fewer ran when it stopped at
    its first failure)."""
    verdicts = [v for v, _ in judged]
    passed = sum(v == "passed" for v in verdicts)
    # A test the program failed decides; only when it failed none does a test the sandbox could not run.
    failing: tuple[Status, str | None] = next(
        ((v, d) for v, d in judged if v not in ("passed", "infrastructure")),
        next(((v, d) for v, d in judged if v == "infrastructure"), ("passed", None)),
    )
    known = failing[0] != "infrastructure" and len(verdicts) == total
    return Verification(
        passed=passed == total,
        pass_fraction=passed / total if known else None,
        status=failing[0],
        verdicts=verdicts,
        detail=failing[1],
        seconds=round(sum(o.get("time", 0.0) for o in outcomes), 4),
        compile_seconds=round(sum(o.get("compile_time", 0.0) for o in outcomes), 4),
    )


# Where the tests of a Python program judged here (calls, stdio) are cut, so that a wrong answer stops the run: the
# sandbox stops by itself at a failure it can see (an exception, a timeout, an assert), never at a wrong value, which
# only the judge here knows. Each cut costs one more start of the program.
_ROUNDS = (10, 100)


@dataclass
class _Run:
    """One distinct program of a problem, run round by round until it fails or has run every test."""

    tests: list[dict[str, Any]]  # the problem's tests, with their expected answers (the job's are without)
    job: Job
    limits: Limits
    budget: float | None
    judged: list[tuple[Status, str | None]] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    exhausted: bool = False  # the sandbox gave no outcome for a round

    @property
    def done(self) -> bool:
        """Every test judged, or one failed (only a first-failure run has tests left then), or nothing came back."""
        failed = bool(self.judged) and self.judged[-1][0] != "passed"
        return self.exhausted or failed or len(self.judged) == len(self.tests)

    def next_job(self, all_tests: bool) -> Job:
        """The next round: the tests not yet run, up to the next cut, in what is left of the budget. All asserts (judged
        in the sandbox), a compiled program (a round would rebuild it), or every test asked for: one round."""
        start, tests = len(self.judged), self.job.tests
        cuts = [c for c in _ROUNDS if c > start and not all_tests and self.job.language == "python"]
        if any(t["type"] != "assert" for t in tests) and cuts:
            tests = tests[: cuts[0]]
        left = None if self.budget is None else max(self.budget - sum(o.get("time", 0.0) for o in self.outcomes), 0.01)
        limits = replace(self.limits, first_failure=not all_tests, budget=left)
        return replace(self.job, tests=tests[start:], limits=limits)

    def take(self, outcomes: list[Outcome], sandbox: Sandbox, all_tests: bool) -> None:
        self.exhausted = not outcomes
        for test, outcome in zip(self.tests[len(self.judged) :], outcomes):
            self.judged.append(judge_with_detail(test, outcome, sandbox))
            self.outcomes.append(outcome)
            if not all_tests and self.judged[-1][0] != "passed":
                break


def verify_responses(
    problems: Iterable[dict[str, Any]],
    sandbox: Sandbox,
    *,
    mode: Mode = "lenient",
    time_limit: TimeLimit | None = None,
    all_tests: bool = False,
) -> Iterator[list[Verification]]:
    """For each problem, a :class:`Verification` per response, in order, using every sandbox worker.

    A program's tests stop at its first failure, as EvalPlus's do: its verdict is known, and ``pass_fraction`` is
    then None. ``all_tests`` runs every test, for the consumers that weigh the fraction (pairs' hard negatives).
    A problem's ``time_limit`` (seconds per test) replaces the sandbox's timeout; ``time_limit`` sets them by each
    problem's protocol (:func:`with_time_limits`)."""
    problems = with_time_limits(list(problems), sandbox, time_limit or TimeLimit())
    untested = next((i for i, p in enumerate(problems) if p.get("responses") and not p.get("tests")), None)
    if untested is not None:
        raise ValueError(f"problem {problems[untested].get('id', untested)!r} has no tests: nothing to verify it by")
    # Per response: the reason no program could be read, or its run; identical programs of a problem run once.
    plan: list[list[str | _Run]] = []
    runs: list[_Run] = []
    for problem in problems:
        entry = problem.get("entry_point")
        # EvalPlus's protocol runs programs under its harness's guard too (worker_python._evalplus_guard)
        guard = {"guard": "evalplus"} if _evalplus(problem) else {}
        tests = [sandbox_test(t, entry) | guard for t in problem["tests"]]
        limits = replace(sandbox.limits, timeout=problem["time_limit"]) if problem.get("time_limit") else sandbox.limits
        seen: dict[str, _Run] = {}
        plan.append([])
        for response in problem.get("responses") or []:
            program, reason = program_of(problem, response, mode)
            if program is None:
                plan[-1].append(cast(str, reason))
                continue
            if program not in seen:
                job = Job(program, tests, problem.get("language", "python"))
                seen[program] = _Run(problem["tests"], job, limits, problem.get("budget"))
                runs.append(seen[program])
            plan[-1].append(seen[program])
    pending = runs
    while pending:
        for run, outcomes in zip(pending, sandbox.run([r.next_job(all_tests) for r in pending])):
            run.take(outcomes, sandbox, all_tests)
        pending = [r for r in pending if not r.done]
    for problem, answers in zip(problems, plan):
        verifications = []
        for answer in answers:
            if isinstance(answer, str):
                # Code that does not parse would not compile; an answer with no code at all answers nothing right.
                verdict: Status = "compile_error" if answer.startswith("syntax_error") else "wrong_answer"
                verifications.append(
                    Verification(False, 0.0, verdict, [verdict] * len(problem["tests"]), extraction=answer)
                )
            else:
                verifications.append(_summary(answer.judged, answer.outcomes, len(problem["tests"])))
        yield verifications
