import json
import math

import pytest

from codescaler import benchmarks
from codescaler.cli import main
from codescaler.execution.compare import outputs_match, values_match
from codescaler.execution.pass_at_k import pass_at_k, pass_at_k_report
from codescaler.execution.sandbox import Limits, Sandbox
from codescaler.execution.verify import (
    TimeLimit,
    judge,
    verify_responses,
    with_time_limits,
)
from codescaler.records.errors import InputError


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=2, limits=Limits(timeout=2.0)) as sb:
        yield sb


def test_values_match_tolerance_and_types():
    assert values_match(0.1 + 0.2, 0.3)
    assert values_match(1.0, 1.05, atol=0.1) and not values_match(1.0, 1.05)
    assert values_match([1, (2.0, "a")], [1, (2.0 + 1e-12, "a")])
    assert not values_match((1, 2), [1, 2])  # a tuple is not a list
    assert not values_match(True, 1) and not values_match(1, True)
    assert not values_match("1", 1)
    assert values_match(math.nan, math.nan)
    assert not values_match(1.5, None) and not values_match(None, 1.5)  # a float against nothing
    assert values_match({"a": [1.0]}, {"a": [1.0]}) and not values_match({"a": 1}, {"b": 1})


def test_outputs_match_token_wise():
    assert outputs_match("1 2\n3  \n", "1 2 3")
    assert outputs_match("0.3333333", "0.33333333")
    assert not outputs_match("1 2", "1 2 3") and not outputs_match("yes", "YES")


def test_judge_compares_outside_the_sandbox():
    call = {"type": "call", "fn": "f", "args": [1], "expected": {"__tuple__": [1, 2]}}
    assert judge(call, {"status": "returned", "value": {"__tuple__": [1, 2]}}) == "passed"
    assert judge(call, {"status": "returned", "value": [1, 2]}) == "wrong_answer"
    stdio = {"type": "stdio", "input": "", "output": "42\n"}
    assert judge(stdio, {"status": "completed", "stdout": "42"}) == "passed"
    assert judge(stdio, {"status": "timeout"}) == "timeout"
    assert judge(stdio, {"status": "weird"}) == "runtime_error"


def test_pass_at_k_matches_the_estimator():
    assert pass_at_k(10, 0, 1) == 0.0 and pass_at_k(10, 10, 5) == 1.0
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert pass_at_k(5, 2, 2) == pytest.approx(1 - math.comb(3, 2) / math.comb(5, 2))
    with pytest.raises(ValueError, match="exceeds"):
        pass_at_k(3, 1, 5)
    report = pass_at_k_report([{"passed": [True, False]}, {"passed": [False, False]}, {"error": "x"}], [1, 2, 3])
    assert report == {"problems": 2, "samples": 4, "pass@1": 0.25, "pass@2": 0.5, "pass@3": None}


def test_verify_all_three_test_kinds(sandbox):
    problems = [
        {
            "id": "add",
            "question": "add",
            "entry_point": "f",
            "tests": [
                {"type": "assert", "code": "assert f(1, 2) == 3"},
                {"type": "call", "fn": "f", "args": [2, 2], "expected": 4},
                {"type": "call", "fn": "f", "args": [0.1, 0.2], "expected": 0.3, "atol": 1e-9},
            ],
            "responses": [
                "```python\ndef f(a, b):\n    return a + b\n```",
                "```python\ndef f(a, b):\n    return a * b\n```",
                "no code at all",
                "```python\ndef f(a, b)\n```",
            ],
        },
        {"id": "empty", "question": "q", "tests": [], "responses": []},
        {
            "id": "echo",
            "question": "double",
            "tests": [
                {"type": "stdio", "input": "2\n", "output": "4\n"},
                {"type": "stdio", "input": "5\n", "output": "10"},
            ],
            "responses": ["```python\nprint(2 * int(input()))\n```", "```python\nprint(4)\n```"],
        },
    ]
    add, empty, echo = verify_responses(problems, sandbox, all_tests=True)
    assert [v.passed for v in add] == [True, False, False, False]
    assert add[1].verdicts == ["wrong_answer", "passed", "wrong_answer"]
    assert add[1].pass_fraction == pytest.approx(1 / 3)
    # By default a program stops at its first failure, as EvalPlus's does: the verdict is the same, the
    # fraction unknown.
    stopped, _, echo_stopped = verify_responses(problems, sandbox)
    assert [v.passed for v in stopped] == [True, False, False, False]
    assert stopped[1].verdicts == ["wrong_answer"] and stopped[1].pass_fraction is None
    assert stopped[0].pass_fraction == 1.0
    assert [v.verdicts for v in echo_stopped] == [["passed", "passed"], ["passed", "wrong_answer"]]
    # the closed set of statuses, and the extractor's reason apart
    assert (add[2].status, add[2].extraction) == ("wrong_answer", "no_block")
    assert add[3].status == "compile_error" and add[3].extraction.startswith("syntax_error")
    assert empty == []
    assert [v.verdicts for v in echo] == [["passed", "passed"], ["passed", "wrong_answer"]]


def test_every_failing_verdict_says_why(sandbox):
    """`status: runtime_error` alone did not say which exception; each failure now carries a short detail."""
    problem = {
        "id": "div",
        "question": "f",
        "entry_point": "f",
        "tests": [{"type": "call", "fn": "f", "args": [4], "expected": 2}],
        "responses": [
            "```python\ndef f(x):\n    return x // 0\n```",
            "```python\ndef f(x):\n    return x + 1\n```",
            "```python\ndef f(x):\n    return x // 2\n```",
            "```python\ndef f(x):\n    return 'x' * 10**6\n```",
        ],
    }
    crash, wrong, right, long = next(verify_responses([problem], sandbox))
    assert crash.status == "runtime_error" and crash.detail.startswith("ZeroDivisionError: integer division")
    assert wrong.status == "wrong_answer" and wrong.detail == "f(...) returned 5, expected 2"
    assert right.passed and right.detail is None
    assert len(long.detail) == 200 and long.detail.endswith("…")
    echo = {
        "id": "e",
        "question": "q",
        "tests": [{"type": "stdio", "input": "", "output": "1"}],
        "responses": ["```python\nprint(2)\n```"],
    }
    assert next(verify_responses([echo], sandbox))[0].detail == "printed '2\\n', expected '1'"


def test_completion_is_run_with_its_prefix(sandbox):
    problem = {
        "id": "p",
        "question": "q",
        "code_prefix": "def f(x):\n",
        "prelude": "OFFSET = 1",
        "tests": [{"type": "assert", "code": "assert f(1) == 2"}],
        "responses": ["    return x + OFFSET\n", "    return x\n"],
    }
    (result,) = verify_responses([problem], sandbox)
    assert [v.passed for v in result] == [True, False]


@pytest.mark.data
def test_every_dataset_loads_into_the_schema():
    for name in benchmarks.names():
        if name in ("humanevalplus", "mbppplus"):
            continue  # computing their expected values runs every reference: covered in bench/verify_checks.py
        records = benchmarks.load(name)
        assert records, name
        for record in records[:5]:
            assert {"id", "question", "language", "tests", "split", "source"} <= set(record), name
            assert all(t["type"] in ("assert", "call", "stdio") for t in record["tests"]), name
        humaneval_derived = name.startswith(("humaneval", "codet", "multiple"))
        splits = {r["split"] for r in records}
        if humaneval_derived:
            assert splits == {"eval"}, name
        elif name.startswith("mbpp"):  # MBPP's official split of its task ids
            assert splits <= {"prompt", "test", "validation", "train"}, name
        else:
            assert splits == ({"train"} if name in ("lcb-train", "leetcode-train") else {"test"}), name


@pytest.mark.data
def test_mbpp_keeps_its_official_splits():
    split = {r["id"]: r["split"] for r in benchmarks.load("mbpp")}
    assert [split[f"mbpp/{i}"] for i in (1, 10, 11, 510, 511, 600, 601, 974)] == [
        *("prompt", "prompt", "test", "test", "validation", "validation", "train", "train")
    ]


def test_unknown_dataset_suggests_a_name():
    with pytest.raises(InputError, match="did you mean humaneval"):
        benchmarks.load("humanevl")


@pytest.mark.data
def test_reference_solutions_pass(sandbox):
    for name in ("humaneval", "mbpp", "mbpp-codet", "leetcode-train"):
        problems = [p for p in benchmarks.load(name) if p.get("reference")][:8]
        for p in problems:  # a completion problem is answered by what follows its prefix
            prefix = p.get("code_prefix")
            p["responses"] = [p["reference"][len(prefix) :] if prefix else f"```python\n{p['reference']}\n```"]
        results = list(verify_responses(problems, sandbox))
        assert all(r[0].passed for r in results), (name, [r[0].status for r in results])


@pytest.mark.data
def test_cli_verify_evaluate_and_export(tmp_path, capsys):
    exported = tmp_path / "hep.jsonl"
    assert main(["data", "export", "humanevalpack-python", "-o", str(exported)]) == 0
    lines = exported.read_text().splitlines()[:6] + ["{broken"]
    subset = tmp_path / "subset.jsonl"
    subset.write_text("\n".join(lines) + "\n")
    out = tmp_path / "verified.jsonl"
    assert main(["verify", str(subset), "-o", str(out), "--workers", "2", "--timeout", "3"]) == 0
    verified = [json.loads(x) for x in out.read_text().splitlines()]
    assert all(len(r["detail"]) == len(r["passed"]) for r in verified if "error" not in r)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 7 and "error" in rows[-1]
    assert all(r["passed"] == [True, False] for r in rows[:6])  # canonical passes, buggy fails
    assert main(["evaluate", str(out), "--k", "1", "2"]) == 0
    printed = capsys.readouterr().out
    assert "6 problems, 12 samples" in printed and "pass@1     50.00%" in printed


SLOW_PROBLEM = {
    "id": "slow",
    "question": "f",
    "entry_point": "f",
    "tests": [{"type": "assert", "code": "assert f() == 1"}],
    "reference": "import time\ndef f():\n    time.sleep(0.05)\n    return 1",
    "responses": [
        "```python\ndef f():\n    return 1\n```",
        "```python\nimport time\ndef f():\n    time.sleep(0.8)\n    return 1\n```",
    ],
}


def test_scaled_time_limits_follow_the_reference(sandbox, tmp_path, monkeypatch):
    """EvalPlus's rule: each test max(floor, factor x the reference's time on it), a program min(cap, their sum)
    + 1 s. A program 16x slower than the reference passes under the flat limit and times out under the scaled one;
    references are timed once, cached; ``auto`` scales only the problems whose protocol is evalplus's."""
    monkeypatch.setenv("CODESCALER_CACHE", str(tmp_path))
    scaled = TimeLimit("scaled", time_limit_factor=4.0, time_limit_floor=0.3)
    no_reference = {k: v for k, v in SLOW_PROBLEM.items() if k != "reference"} | {"id": "free"}
    failing_reference = SLOW_PROBLEM | {"id": "wrong", "reference": "def f():\n    return 2"}
    problems = [SLOW_PROBLEM, no_reference, failing_reference]
    limited = with_time_limits(problems, sandbox, scaled)
    assert 0.3 <= limited[0]["tests"][0]["timeout"] < 1.0
    assert limited[0]["budget"] == pytest.approx(limited[0]["tests"][0]["timeout"] + 1)
    assert "budget" not in limited[1] and "budget" not in limited[2]  # the sandbox's timeout stays
    assert with_time_limits(problems, sandbox, TimeLimit())[0] is SLOW_PROBLEM  # auto: no protocol, flat
    assert "budget" in with_time_limits([SLOW_PROBLEM | {"protocol": "evalplus"}], sandbox, TimeLimit())[0]
    flat = [[v.status for v in vs] for vs in verify_responses(problems, sandbox, time_limit=TimeLimit("flat"))]
    fitted = [[v.status for v in vs] for vs in verify_responses(problems, sandbox, time_limit=scaled)]
    assert flat == [["passed", "passed"]] * 3
    assert fitted == [["passed", "timeout"], ["passed", "passed"], ["passed", "passed"]]
    cache = tmp_path / "reference-test-seconds.json"
    timed = json.loads(cache.read_text())
    assert sorted(v is None for v in timed.values()) == [False, True]
    cache.write_text(json.dumps({k: (None if v is None else [1.0]) for k, v in timed.items()}))  # a slow machine's
    assert with_time_limits(problems, sandbox, scaled)[0]["tests"][0]["timeout"] == 4.0


def test_cli_verify_takes_the_time_limit_flags(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CODESCALER_CACHE", str(tmp_path))
    records = tmp_path / "slow.jsonl"
    records.write_text(json.dumps(SLOW_PROBLEM) + "\n")
    out = tmp_path / "verified.jsonl"
    args = ["verify", str(records), "-o", str(out), "--workers", "1", "--time-limit", "scaled"]
    assert main([*args, "--time-limit-floor", "0.3", "--time-limit-factor", "4"]) == 0
    assert json.loads(out.read_text())["status"] == ["passed", "timeout"]
    assert main([*args, "--time-limit-floor", "0", "--resume"]) == 2  # one line naming the flag, no traceback
    assert "must be positive" in capsys.readouterr().err


def test_a_returned_int_too_large_to_print_is_a_wrong_answer_not_a_crash(sandbox):
    """Python refuses to print an int of more than 4,300 digits: the detail names it, the verdict stands."""
    problem = {
        "id": "huge",
        "question": "Return 1.",
        "tests": [{"type": "call", "fn": "f", "args": [], "expected": 1}],
        "responses": [
            "```python\ndef f():\n    return 10 ** 5000\n```",
            "```python\ndef f():\n    return [10 ** 5000]\n```",
        ],
    }
    (verdicts,) = verify_responses([problem], sandbox)
    assert [v.status for v in verdicts] == ["wrong_answer", "wrong_answer"]
    assert verdicts[0].detail == "f(...) returned <int too large to print>, expected 1"
    assert "<list too large to print>" in verdicts[1].detail
