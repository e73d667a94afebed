"""Verdicts as the reference harnesses give them (issue 42): EvalPlus's comparison rule and oracles, MBPP+'s inputs
as EvalPlus builds them, a program's full recursion depth, first-failure stops and a program's budget, the sandbox's
declared Python, and nothing left running after a SIGTERM. The differential tests against EvalPlus itself are in
``tests/in_evalplus``."""

from __future__ import annotations

import json
import math
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from codescaler.benchmarks.python_sets import mbpp_plus_inputs
from codescaler.execution.compare import call_matches
from codescaler.execution.sandbox import Job, Limits, Sandbox
from codescaler.execution.sandbox_python import describe_python
from codescaler.execution.verify import TimeLimit, verify_responses
from codescaler.records.batch import problem_parser
from codescaler.records.errors import RecordError
from codescaler.records.tagged_json import to_json


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=2, limits=Limits(timeout=5.0)) as sb:
        yield sb


def _call(expected, args=(), **fields):
    return {"type": "call", "fn": "f", "args": to_json(list(args)), "expected": to_json(expected), **fields}


def test_equal_is_evalplus_rule():
    """HumanEval/114 on [True, True, True, False, True, True]: the reference returns False and a correct program 0.
    EvalPlus compares with ==, so it passes there; the strict rule (types apart) stays as an option."""
    assert call_matches(_call(False), 0, False) and call_matches(_call(1), 1.0, 1)
    assert not call_matches(_call(False, compare="strict"), 0, False)
    assert not call_matches(_call([1, 2]), (1, 2), [1, 2])  # == tells a tuple from a list, as in EvalPlus
    # floats: atol 1e-6 when the problem sets none and the expected value is a float or a list of them
    assert call_matches(_call(0.3), 0.1 + 0.2, 0.3) and not call_matches(_call(0.3), 0.30001, 0.3)
    assert call_matches(_call([1.0, 2.0]), [1.0000001, 2.0], [1.0, 2.0])
    assert not call_matches(_call([1.0, 2.0]), (1.0000001, 2.0), [1.0, 2.0])  # the types must agree first
    assert not call_matches(_call(1.0), float("nan"), 1.0) and not call_matches(_call(1.0), math.inf, 1.0)
    assert not call_matches(_call(math.inf), 1e300, math.inf)
    # an explicit atol applies beyond floats, as numpy's allclose does
    assert call_matches(_call(3, atol=0.5), 3.2, 3) is False  # float vs int: the types differ
    assert call_matches(_call([[1.0, 2.0]], atol=0.01), [[1.005, 2.0]], [[1.0, 2.0]])
    assert not call_matches(_call([[1.0, 2.0]], atol=0.01), [[1.0], [2.0]], [[1.0, 2.0]])


def test_evalplus_special_oracles():
    assert call_matches(_call([4, 5], oracle="set"), (5, 4), [4, 5])  # Mbpp/2: compared as sets
    assert not call_matches(_call([4, 5], oracle="set"), [4], [4, 5])
    assert not call_matches(_call([4, 5], oracle="set"), [[4]], [4, 5])  # unhashable: not the right value
    assert call_matches(_call(False, oracle="any"), "whatever", False)
    assert call_matches(_call(7, oracle="sum_div"), 0, 7) and not call_matches(_call(7, oracle="sum_div"), 6, 7)
    # Mbpp/581: 35 by the accepted reading (height perpendicular to the base), whatever the reference says
    assert call_matches(_call(33, [3, 4], oracle="surface_area", atol=1), 35.4, 33)
    assert not call_matches(_call(33, [3, 4], oracle="surface_area", atol=1), 36.5, 33)
    assert call_matches(_call(9, [123, 256], oracle="digit_distance"), 7, 9)  # 1-2, 2-5, 3-6: 1 + 3 + 3
    # HumanEval/32: any root of the polynomial within atol, not only the reference's
    assert call_matches(_call(1.0, [[-2.0, 0.0, 2.0]], oracle="poly_root", atol=1e-4), -1.0, 1.0)
    assert not call_matches(_call(1.0, [[-2.0, 0.0, 2.0]], oracle="poly_root", atol=1e-4), 0.5, 1.0)


def test_not_none_oracle_reduces_in_the_sandbox(sandbox):
    """EvalPlus checks only that a regex task's value is not None: a re.Match, which no JSON carries, passes."""
    problem = {
        "id": "match",
        "question": "q",
        "entry_point": "f",
        "code_prefix": "",
        "tests": [_call(True, ["ab"], oracle="not_none"), _call(False, ["zz"], oracle="not_none")],
        "responses": ["import re\ndef f(s):\n    return re.search('a', s)", "def f(s):\n    return 'yes'"],
    }
    right, wrong = next(verify_responses([problem], sandbox))
    assert right.passed and not wrong.passed


def test_mbpp_plus_inputs_are_evalplus_tuples_and_sets():
    assert mbpp_plus_inputs(2, [[[3, 4, 5, 6], [5, 7, 4, 10]]]) == [[(3, 4, 5, 6), (5, 7, 4, 10)]]
    assert mbpp_plus_inputs(115, [[[[1, 2], []]]]) == [[[{1, 2}, {}]]]
    assert mbpp_plus_inputs(124, [[1, "1+2j"]]) == [(1.0, 1 + 2j)]
    assert mbpp_plus_inputs(580, [[[1, [2, 3]]]]) == [((1, (2, 3)),)]
    assert mbpp_plus_inputs(3, [[[1, 2]]]) == [[[1, 2]]]  # a task EvalPlus leaves alone


def test_a_tuple_argument_reaches_the_program_as_a_tuple(sandbox):
    """Mbpp/2's inputs are tuples: a correct program that checks for one failed with AssertionError('list')."""
    args = to_json(mbpp_plus_inputs(2, [[[3, 4, 5, 6], [5, 7, 4, 10]]])[0])
    program = "def f(a, b):\n    assert isinstance(a, tuple), type(a).__name__\n    return tuple(set(a) & set(b))"
    (outcome,) = sandbox.run_one(program, [{"type": "call", "fn": "f", "args": args}])
    assert outcome["status"] == "returned" and set(outcome["value"]["__tuple__"]) == {4, 5}


RECURSIVE = "def depth(n):\n    return 0 if n == 0 else 1 + depth(n - 1)\n"


@pytest.mark.parametrize("n", [600, 950])
def test_a_program_gets_cpython_default_depth(sandbox, n):
    """The entry point's guard cost a frame per call: depth 495 raised RecursionError where CPython reaches ~990."""
    plain = subprocess.run([sys.executable, "-c", RECURSIVE + f"depth({n})"], capture_output=True)
    assert plain.returncode == 0
    call = [{"type": "call", "fn": "depth", "args": [n]}]
    check = [{"type": "assert", "code": f"assert depth({n}) == {n}", "entry_point": "depth"}]
    assert sandbox.run_one(RECURSIVE, call)[0]["value"] == n
    assert sandbox.run_one(RECURSIVE, check)[0]["status"] == "passed"


def test_an_assert_still_sees_a_guarded_entry_point(sandbox):
    """The checks' copy of the entry point is guarded: a value whose == says yes to everything fails there."""
    program = "class Yes:\n    def __eq__(self, other):\n        return True\ndef f():\n    return Yes()\n"
    check = [{"type": "assert", "code": "assert f() == 42", "entry_point": "f"}]
    assert sandbox.run_one(program, check)[0]["status"] != "passed"


def test_first_failure_stops_the_job(sandbox):
    program = "import time\ndef f(x):\n    time.sleep(0.2)\n    assert x != 2\n    return x"
    tests = [{"type": "call", "fn": "f", "args": [x]} for x in range(6)]
    stopped = sandbox.run_one(program, tests, limits=Limits(timeout=5.0, first_failure=True))
    every = sandbox.run_one(program, tests, limits=Limits(timeout=5.0))
    assert [o["status"] for o in stopped] == ["returned", "returned", "wrong_answer"]
    assert len(every) == 6


def test_a_wrong_value_stops_verification_early(sandbox):
    """A wrong value is known only to the judge: the tests run in rounds and the rest are never run."""
    program = "import time\ndef f(x):\n    time.sleep(0.05)\n    return x + (x == 0)"
    problem = {
        "id": "slow-wrong",
        "question": "q",
        "code_prefix": "",
        "tests": [{"type": "call", "fn": "f", "args": [x], "expected": x} for x in range(200)],
        "responses": [program],
    }
    start = time.monotonic()
    (quick,) = next(verify_responses([problem], sandbox))
    quick_seconds = time.monotonic() - start
    (whole,) = next(verify_responses([problem], sandbox, all_tests=True))
    assert quick.status == whole.status == "wrong_answer"
    assert len(quick.verdicts) < 10 and quick.pass_fraction is None
    assert len(whole.verdicts) == 200 and whole.pass_fraction == pytest.approx(199 / 200)
    assert quick_seconds < 5  # all 200 tests would take 10 s


def test_a_program_budget_ends_it_as_a_timeout(sandbox):
    program = "import time\ndef f(x):\n    time.sleep(0.3)\n    return x"
    tests = [{"type": "call", "fn": "f", "args": [x]} for x in range(10)]
    outcomes = sandbox.run_one(program, tests, limits=Limits(timeout=5.0, budget=1.0))
    statuses = [o["status"] for o in outcomes]
    assert statuses[:3] == ["returned"] * 3 and statuses[3:] == ["timeout"] * 7
    assert "budget of 1.0 s" in outcomes[3]["detail"]


def test_scaled_protocol_gives_each_test_its_own_limit(sandbox, tmp_path, monkeypatch):
    """EvalPlus's limits are per input: a program slow on one input only times out on that one."""
    monkeypatch.setenv("CODESCALER_CACHE", str(tmp_path))
    reference = "import time\ndef f(x):\n    time.sleep(x)\n    return x"
    slow_on_small = "import time\ndef f(x):\n    time.sleep(0.6 if x < 0.1 else x)\n    return x"
    problem = {
        "id": "timed",
        "question": "q",
        "code_prefix": "",
        "protocol": "evalplus",
        "reference": reference,
        "tests": [{"type": "call", "fn": "f", "args": [s], "expected": s} for s in (0.3, 0.01)],
        "responses": [reference, slow_on_small],
    }
    config = TimeLimit(time_limit_floor=0.2)
    fine, slow = next(verify_responses([problem], sandbox, time_limit=config))
    assert fine.passed and slow.status == "timeout"
    flat = next(verify_responses([problem], sandbox, time_limit=TimeLimit("flat")))
    assert all(v.passed for v in flat)


def test_unknown_compare_oracle_or_protocol_is_that_record_error():
    parse = problem_parser("responses", "tests", runs=True)
    good = {"id": "a", "question": "q", "responses": ["x"], "tests": [_call(1, oracle="set")], "protocol": "evalplus"}
    assert parse(1, json.loads(json.dumps(good)))
    for field, value, where in [
        ("compare", "fuzzy", "tests[0].compare"),
        ("oracle", "psychic", "tests[0].oracle"),
        ("protocol", "humaneval-1.0", "protocol"),
    ]:
        bad = json.loads(json.dumps(good))
        (bad if field == "protocol" else bad["tests"][0])[field] = value
        with pytest.raises(RecordError, match=rf"line 3 \(id 'a'\).*{re.escape(where)}.*{value}"):
            parse(3, bad)


def test_cli_verify_goes_on_past_a_record_with_an_unknown_rule(tmp_path, capsys):
    from codescaler.cli import main

    good = {
        "id": "ok",
        "question": "q",
        "code_prefix": "",
        "tests": [_call(2, [1])],
        "responses": ["def f(x): return 2"],
    }
    bad = {**good, "id": "bad", "tests": [_call(2, [1], compare="fuzzy")]}
    records = tmp_path / "in.jsonl"
    records.write_text("".join(json.dumps(r) + "\n" for r in (good, bad, good)))
    out = tmp_path / "out.jsonl"
    assert main(["verify", str(records), "-o", str(out), "--workers", "1"]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r.get("passed") for r in rows] == [[True], None, [True]]
    assert "fuzzy" in rows[1]["error"] and "line 2 (id 'bad')" in rows[1]["error"]
    assert "sandbox python:" in capsys.readouterr().err


def test_the_sandbox_python_is_declared(sandbox, tmp_path):
    """Programs used to see codescaler's own environment: one importing torch passed here and failed on a
    verify-only worker. The default is the standard library and the declared packages; --python names another."""
    stdio = [{"type": "stdio", "input": ""}]
    for name in ("torch", "transformers", "codescaler"):
        outcome = sandbox.run_one(f"import {name}", stdio)[0]
        assert outcome["status"] == "runtime_error" and "ModuleNotFoundError" in outcome["detail"], name
    assert sandbox.run_one("import sortedcontainers, numpy", stdio)[0]["status"] == "completed"
    described = describe_python()
    assert [p.split("==")[0] for p in described["packages"]] == ["numpy", "sortedcontainers"]
    with Sandbox(workers=1, limits=Limits(python=sys.executable)) as own:
        assert own.run_one("import transformers", stdio)[0]["status"] == "completed"
    assert any(p.startswith("transformers==") for p in describe_python(sys.executable)["packages"])
    with pytest.raises(ValueError, match="not an executable file"):
        Limits(python=str(tmp_path / "nope"))


def _descendants(pid: int) -> set[int]:
    found, frontier = set(), [pid]
    while frontier:
        parent = frontier.pop()
        for task in Path(f"/proc/{parent}/task").iterdir():
            children = (task / "children").read_text().split()
            for child in map(int, children):
                if child not in found:
                    found.add(child)
                    frontier.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


# A program that starts a process of its own, then spins: ``sleep`` with a number no other test uses marks it.
SPINNER = "import subprocess\ndef f(x):\n    subprocess.Popen(['sleep', '{mark}'])\n    while True:\n        pass\n"


def _wait_for_sleep(root: int, mark: str) -> set[int]:
    """The processes under ``root`` once the program's ``sleep mark`` runs (the sandbox's /tmp is its own: no file
    the program writes can be seen here)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = _descendants(root)
        for pid in found:
            try:
                if Path(f"/proc/{pid}/cmdline").read_bytes() == f"sleep\0{mark}\0".encode():
                    return found
            except FileNotFoundError:
                pass
        time.sleep(0.1)
    raise AssertionError("the program never started")


def test_sigterm_to_verify_leaves_nothing_running(tmp_path):
    """SIGTERM used to leave a sandbox worker and its program running. Now nothing outlives the job."""
    program = SPINNER.format(mark=4242)
    record = {"id": "spin", "question": "q", "code_prefix": "", "tests": [_call(1, [1])], "responses": [program]}
    records = tmp_path / "in.jsonl"
    records.write_text(json.dumps(record) + "\n")
    cli = subprocess.Popen(
        [sys.executable, "-m", "codescaler", "verify", str(records), "-o", str(tmp_path / "out.jsonl"),
         "--workers", "1", "--timeout", "60"],
        stderr=subprocess.PIPE,
    )  # fmt: skip
    started = _wait_for_sleep(cli.pid, "4242")
    assert len(started) >= 3  # the worker, the program's process, its sleep
    cli.send_signal(signal.SIGTERM)
    assert cli.wait(timeout=30) == 128 + signal.SIGTERM
    time.sleep(0.5)
    assert [pid for pid in started if _alive(pid)] == []


def test_a_worker_whose_sandbox_is_killed_ends_its_job():
    """SIGKILL leaves no handler to run: the worker notices its parent is gone and sweeps its program."""
    script = (
        "from codescaler.execution.sandbox import Sandbox\n"
        f"program = {SPINNER.format(mark=4343)!r}\n"
        "with Sandbox(workers=1) as sb:\n"
        "    sb.run_one(program, [{'type': 'call', 'fn': 'f', 'args': [1]}])\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", script])
    started = _wait_for_sleep(holder.pid, "4343")
    holder.kill()
    holder.wait()
    time.sleep(3)
    assert [pid for pid in started if _alive(pid)] == []


def test_reference_depth_job_in_one_sandbox_call(sandbox):
    """The guard fix holds for HumanEval/139's shape: a recursive entry point called by check() at depth 505."""
    program = "def special_factorial(n):\n    return 1 if n <= 1 else n * special_factorial(n - 1)\n"
    check = "def check(candidate):\n    assert candidate(505) > 0\ncheck(special_factorial)\n"
    test = {"type": "assert", "code": check, "entry_point": "special_factorial"}
    (outcome,) = next(iter(sandbox.run([Job(program, [test])])))
    assert outcome["status"] == "passed", outcome


@pytest.mark.parametrize(
    ("got", "expected", "same"),
    [
        ("3 4  \n5\n", "3 4\n5", True),  # trailing whitespace on a line and at the end
        ("\n\n3\n", "3", True),  # the whole output is stripped first
        ("1.0 2\n", "1 2.00", True),  # tokens equal as decimal numbers
        ("1e3", "1000", True),
        ("0.30000000000000004", "0.3", False),  # exact decimals, no tolerance
        ("0.333333", "0.3333333", False),
        ("1\n\n2", "1\n2", False),  # a blank line inside counts
        ("1 2\n3", "1\n2 3", False),  # lines, not just tokens
        ("", "", True),  # an empty expected output
        ("  \n", "", True),
        ("0", "", False),
        ("YES", "yes", False),
        ("nan", "nan", True),  # equal as text before any number is read
        ("abc 1", "abc 1.0", False),  # a line with a word is compared as text only
    ],
)
def test_lcb_stdio_rule(got, expected, same):
    """LiveCodeBench's grade_stdio, as read from lcb_runner/evaluation/testing_util.py."""
    from codescaler.execution.compare import stdout_matches

    assert stdout_matches({"checker": "lcb"}, got, expected) is same


def test_lcb_call_rule_reads_a_tuple_as_a_list():
    assert call_matches(_call([1, 2], compare="lcb"), (1, 2), [1, 2])
    assert call_matches(_call(False, compare="lcb"), 0, False)  # Python's ==
    assert not call_matches(_call([[1, 2]], compare="lcb"), [(1, 2)], [[1, 2]])  # only the top level


def test_lcb_problems_are_judged_by_lcb_rules():
    from codescaler.benchmarks import load

    problems = load("lcb")
    kinds = {(t["type"], t.get("checker"), t.get("compare")) for p in problems for t in p["tests"]}
    assert kinds == {("stdio", "lcb", None), ("call", None, "lcb")}
    assert all("sys.setrecursionlimit(50000)" in p["prelude"] for p in problems)


def test_the_default_python_keeps_the_builtins_site_gives(sandbox):
    """-S keeps site-packages out, and would take exit(), quit() and help() with them: contest programs call them."""
    stdio = [{"type": "stdio", "input": ""}]
    for program in ("print(1)\nexit(0)", "quit()", "help(len)", "import sys\nsys.exit(0)"):
        assert sandbox.run_one(program, stdio)[0]["status"] == "completed", program


def test_evalplus_protocol_runs_programs_under_its_guard(sandbox):
    """EvalPlus's harness sets open, help and os functions to None before it runs a program: a program calling one
    (a top-level doctest.testmod() opens ~/.pdbrc) fails there, and under its protocol here."""
    tests = [_call(3, [1, 2])]
    base = {"id": "g", "question": "q", "code_prefix": "", "entry_point": "f", "tests": tests}
    plain = "def f(a, b):\n    return a + b\n"
    responses = [plain, plain + "help(f)\n", plain + "import doctest\ndoctest.testmod()\n", plain + "open('x', 'w')\n"]
    guarded = next(verify_responses([base | {"protocol": "evalplus", "responses": responses}], sandbox))
    free = next(verify_responses([base | {"responses": responses}], sandbox))
    assert [v.passed for v in guarded] == [True, False, False, False]
    assert [v.passed for v in free] == [True, True, True, True]
