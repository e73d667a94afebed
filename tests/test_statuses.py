"""Every outcome has one status from a closed set, each provoked here by a program; and when the sandbox, not
the program, fails (``infrastructure``), no reward, pair, pick or report reads it as a failed program."""

import os
import random
import shutil
import signal
import threading
import time

import pytest

from codescaler.evaluation.report import benchmark_figures
from codescaler.execution.jobs import verdicts
from codescaler.execution.pass_at_k import pass_at_k_report
from codescaler.execution.sandbox import Limits, Sandbox
from codescaler.execution.verify import VERDICTS, InfrastructureError, verify_responses
from codescaler.rewards.kinds import budgeted_rewards, execution_rewards, kind_rewards
from codescaler.serving.sandbox_server import run_code_response
from codescaler.training.pairs import PairsConfig, problem_pairs

CALL = [{"type": "call", "fn": "f", "args": [2], "expected": 4}]
STDIO = [{"type": "stdio", "input": "3\n", "output": "9\n"}]
CPP_MAIN = "#include <iostream>\nint main() { int x; std::cin >> x; std::cout << x * x << std::endl; }\n"
CPP_BAD_ALLOC = "#include <vector>\nint main() { std::vector<char> v(std::size_t(1) << 40); return v[7]; }"


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=2, limits=Limits(timeout=3.0, memory=512)) as sb:
        yield sb


def verification_of(sandbox, program, tests, language="python"):
    # The last block, unparsed: every program reaches the sandbox, as under eval-policy's protocol.
    problem = {"tests": tests, "language": language, "responses": [program], "extraction": "last"}
    (verification,) = next(verify_responses([problem], sandbox))
    assert set(verification.verdicts) <= set(VERDICTS)
    return verification


def status_of(sandbox, program, tests, language="python"):
    return verification_of(sandbox, program, tests, language).status


def fenced(code, language="python"):
    return f"```{language}\n{code}\n```"


@pytest.mark.parametrize(
    "program, tests, status",
    [
        ("def f(x):\n    return x * x", CALL, "passed"),
        ("def f(x):\n    return x + 3", CALL, "wrong_answer"),
        ("def f(x):\n    return x // 0", CALL, "runtime_error"),
        ("def f(x):\n    while True:\n        pass", CALL, "timeout"),
        ("def f(x):\n    return bytearray(10**10)", CALL, "memory_limit"),
        ("def f(x) return x", CALL, "compile_error"),
        ("print(int(input()) ** 2)", STDIO, "passed"),
        ("print(int(input()) + 1)", STDIO, "wrong_answer"),
        ("while True:\n    print('x' * 1000)", STDIO, "runtime_error"),  # past the output cap
    ],
)
def test_each_python_status_from_a_program_that_provokes_it(sandbox, program, tests, status):
    assert status_of(sandbox, fenced(program), tests) == status
    assert status in VERDICTS


@pytest.mark.skipif(not shutil.which("g++"), reason="g++ is not installed")
@pytest.mark.parametrize(
    "program, status",
    [
        (CPP_MAIN, "passed"),
        (CPP_BAD_ALLOC, "memory_limit"),
        ("int main() { return 1 }", "compile_error"),
        ("int main() { int *p = nullptr; return *p; }", "runtime_error"),
    ],
)
def test_compiled_programs_get_the_same_statuses(sandbox, program, status):
    verification = verification_of(sandbox, fenced(program, "cpp"), STDIO, "cpp")
    assert verification.status == status, verification.detail


@pytest.mark.skipif(not shutil.which("g++"), reason="g++ is not installed")
@pytest.mark.parametrize(
    "program, status",
    [('#include <cstdio>\nint main() { std::puts("9"); }', "passed"), (CPP_BAD_ALLOC, "memory_limit")],
)
def test_a_compiled_program_that_exits_before_reading_its_input_keeps_its_own_verdict(sandbox, program, status):
    # More input than a pipe holds: writing it always outlives the program, which never reads it.
    tests = [{"type": "stdio", "input": "3\n" + " " * (1 << 20), "output": "9\n"}]
    verification = verification_of(sandbox, fenced(program, "cpp"), tests, "cpp")
    assert verification.status == status, verification.detail


@pytest.mark.skipif(not shutil.which("g++"), reason="g++ is not installed")
def test_a_cpp_stub_that_returns_nothing_does_not_pass(sandbox):
    """Flowing off a non-void function is undefined; at -O1 g++ took such a path as unreachable and this stub,
    MultiPL-E's HumanEval_31 #7 word for word, passed its asserts (13 of the C++ pool's first 1,610 did,
    against their labels). Now it traps."""
    head = "#include<assert.h>\n#include<bits/stdc++.h>\nbool is_prime(long n) {\n"
    tests = [
        {
            "type": "assert",
            "code": "int main() {\n    auto candidate = is_prime;\n    assert(candidate((6)) == (false));\n"
            "    assert(candidate((101)) == (true));\n}",
        }
    ]
    assert status_of(sandbox, fenced(head + "  // TODO:\n}", "cpp"), tests, "cpp") == "runtime_error"
    body = "  for (long d = 2; d * d <= n; d++) if (n % d == 0) return false;\n  return n > 1;\n}"
    assert status_of(sandbox, fenced(head + body, "cpp"), tests, "cpp") == "passed"


@pytest.mark.skipif(not shutil.which("javac"), reason="javac is not installed")
def test_a_java_program_past_its_heap_is_memory_limit(sandbox):
    program = "public class Main { public static void main(String[] a) { long[] x = new long[1 << 30]; } }"
    assert status_of(sandbox, fenced(program, "java"), STDIO, "java") == "memory_limit"


def test_code_the_extractor_rejects_never_runs_and_is_a_compile_error(sandbox):
    (verification,) = next(verify_responses([{"tests": CALL, "responses": [fenced("def f(x) return x")]}], sandbox))
    assert verification.verdicts == ["compile_error"] and verification.status == "compile_error"
    assert verification.extraction == "syntax_error: 1"  # the extractor's reason, in a field of its own


def test_a_missing_toolchain_is_infrastructure(sandbox, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    (outcome,) = sandbox.run_one(CPP_MAIN, [{"type": "stdio", "input": "3\n"}], "cpp")
    assert outcome["status"] == "infrastructure" and "g++ is not installed" in outcome["detail"]


def kill_worker_soon(sandbox, delay=0.4):
    def kill():
        time.sleep(delay)
        for pid in sandbox.worker_pids():
            os.kill(pid, signal.SIGKILL)

    threading.Thread(target=kill, daemon=True).start()


def test_a_job_whose_worker_dies_runs_again_on_a_fresh_worker():
    slow = "import time\ndef f(x):\n    time.sleep(1.0)\n    return x * x"
    with Sandbox(workers=1, limits=Limits(timeout=5.0)) as sandbox:
        first = sandbox.worker_pids()
        kill_worker_soon(sandbox)
        assert status_of(sandbox, fenced(slow), CALL) == "passed"
        assert sandbox.worker_pids() != first
    with Sandbox(workers=1, limits=Limits(timeout=5.0), retries=0) as sandbox:
        kill_worker_soon(sandbox)
        (verification,) = next(verify_responses([{"tests": CALL, "responses": [fenced(slow)]}], sandbox))
        assert verification.infrastructure and not verification.passed
        assert verification.pass_fraction is None  # no fraction of the tests is known either
        (row,) = [verdicts([verification])]
        assert row["passed"] == [None] and row["pass_fraction"] == [None] and row["status"] == ["infrastructure"]
        assert verification.detail.startswith("sandbox worker died")
        assert status_of(sandbox, fenced("def f(x):\n    return x * x"), CALL) == "passed"  # the pool healed


# With g++ off the PATH, a C++ problem is deterministic infrastructure for the reward paths.
BROKEN = {"id": "cpp-1", "question": "square it", "tests": STDIO, "language": "cpp"}
GOOD = {"id": "py-1", "question": "square it", "tests": CALL}
ANSWER = fenced("def f(x):\n    return x * x")
RESPONSES = [ANSWER, fenced(CPP_MAIN, "cpp")]


@pytest.fixture
def no_compiler(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")


def constant_rm(value):
    return lambda questions, responses, prefixes=None: [value] * len(responses)


def test_execution_rewards_raise_or_mark_never_score_zero(sandbox, no_compiler):
    with pytest.raises(InfrastructureError, match="cpp-1.*g\\+\\+ is not installed"):
        execution_rewards([GOOD, BROKEN], RESPONSES, sandbox)
    assert execution_rewards([GOOD, BROKEN], RESPONSES, sandbox, on_infrastructure="none") == [1.0, None]


def test_hybrid_and_budgeted_fall_back_to_the_judge_when_asked(sandbox, no_compiler):
    problems, responses = [GOOD, BROKEN], RESPONSES
    with pytest.raises(InfrastructureError):
        kind_rewards("hybrid", problems, responses, rm=constant_rm(0.7), sandbox=sandbox)
    hybrid = kind_rewards("hybrid", problems, responses, rm=constant_rm(0.7), sandbox=sandbox, on_infrastructure="none")
    assert hybrid == [1.0, 0.7]
    rewards, executed = budgeted_rewards(
        problems, responses, rm=constant_rm(3.0), sandbox=sandbox, budget_k=1, on_infrastructure="none"
    )
    assert executed == [True, False] and rewards[0] == 1.0 and 0.0 < rewards[1] < 1.0  # the judge's P(pass)


def test_an_unrun_sample_is_neither_a_pair_nor_a_failure_in_a_report():
    row = {
        "id": "p",
        "question": "square it",
        "responses": [ANSWER, fenced("def f(x):\n    return 0"), fenced("def f(x):\n    return 1")],
        "passed": [True, None, False],
        "pass_fraction": [1.0, 0.0, 0.0],
    }
    pairs = problem_pairs(row, PairsConfig(), random.Random(0))
    assert len(pairs) == 1 and "return 1" in pairs[0]["rejected"]
    assert pass_at_k_report([row], [1])["pass@1"] == pytest.approx(0.5)
    figures = benchmark_figures(
        [dict(row, status=["passed", "infrastructure", "wrong_answer"], tokens=[1] * 3, seconds=[0.1] * 3)], [1]
    )
    assert figures["infrastructure"] == 1 and figures["avg@3"]["mean"] == pytest.approx(0.5)
    assert figures["failures"]["wrong_answer"] == pytest.approx(1 / 3)


def test_a_report_counts_cut_off_samples_apart_and_no_code_by_its_reason():
    row = {
        "id": "p",
        "passed": [True, False, False, False],
        "status": ["passed", "wrong_answer", "compile_error", "wrong_answer"],
        "reasons": [None, None, None, "no_block"],
        "truncated": [False, True, False, False],
        "tokens": [5, 256, 7, 3],
        "seconds": [0.1] * 4,
    }
    figures = benchmark_figures([row], [1])
    assert figures["truncated"] == 0.25
    assert figures["validity"] == 0.5  # the cut-off sample is not one that "has code", nor the one with none
    assert figures["failures"]["no_code"] == 0.25 and figures["failures"]["compile_error"] == 0.25


def test_serve_sandbox_says_sandbox_error_not_failed():
    answer = run_code_response("python", {"status": "infrastructure", "detail": "sandbox worker died"})
    assert answer["status"] == "SandboxError" and answer["message"] == "sandbox worker died"
