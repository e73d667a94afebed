"""Tests with huge fixtures (streamed to the program's stdin, held whole by no process of ours) and tests judged
by a checker: float tolerance, unordered lines or tokens, or a checker program that accepts any valid answer."""

import json
import shutil
import subprocess
import sys

import pytest

from codescaler.execution.sandbox import Limits, Sandbox
from codescaler.execution.verify import verify_responses

FIXTURE_MB = 200
COUNT_BYTES = {
    "python": "import sys\nn = 0\nfor line in sys.stdin.buffer:\n    n += len(line)\nprint(n)",
    "cpp": "#include <cstdio>\nint main() { static char b[1 << 16]; long n = 0; unsigned long k;\n"
    '  while ((k = fread(b, 1, sizeof b, stdin)) > 0) n += k;\n  printf("%ld\\n", n); }',
}


@pytest.fixture(scope="module")
def huge_input(tmp_path_factory):
    path = tmp_path_factory.mktemp("fixtures") / "input.txt"
    line = b"7" * 1023 + b"\n"
    with open(path, "wb") as f:
        for _ in range(FIXTURE_MB * 1024):
            f.write(line)
    return path


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=2, limits=Limits(timeout=20.0)) as sb:
        yield sb


def verdict(sandbox, tests, program, language="python"):
    problem = {"tests": tests, "language": language, "responses": [f"```{language}\n{program}\n```"]}
    (verification,) = next(verify_responses([problem], sandbox))
    return verification


# Run in a process of its own so that its peak memory, and its children's, are its own.
MEASURE = """
import json, resource, sys
from codescaler.execution.sandbox import Limits, Sandbox
from codescaler.execution.verify import verify_responses
path, language, program = sys.argv[1:]
problem = {"tests": [{"type": "stdio", "input_file": path, "output": str(FIXTURE_BYTES)}], "language": language,
           "responses": [f"```{language}\\n{program}\\n```"]}
with Sandbox(workers=1, limits=Limits(timeout=30.0)) as sandbox:
    (v,) = next(verify_responses([problem], sandbox))
# Our own peak from VmHWM: ru_maxrss would carry over the forking pytest's from before exec.
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # workers and programs, forked from us
print(json.dumps({"status": v.status, "self_mib": hwm >> 10, "children_mib": children >> 10}))
""".replace("FIXTURE_BYTES", str(FIXTURE_MB << 20))


@pytest.mark.parametrize("language", ["python", "cpp"])
def test_a_200_mb_fixture_reaches_the_program_and_is_held_whole_by_no_one(huge_input, language):
    if language == "cpp" and not shutil.which("g++"):
        pytest.skip("g++ is not installed")
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(huge_input), language, COUNT_BYTES[language]],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout.splitlines()[-1])
    assert figures["status"] == "passed"
    # The file is 200 MiB; our process, its workers and the program all stay far below it.
    assert figures["self_mib"] < 100 and figures["children_mib"] < 100, figures


def test_an_unreadable_fixture_is_infrastructure_and_a_failed_test_still_decides(sandbox, tmp_path):
    missing = {"type": "stdio", "input_file": str(tmp_path / "gone.txt"), "output": "1"}
    echo = {"type": "stdio", "input": "5\n", "output": "5"}
    good = verdict(sandbox, [echo, missing], "print(input())")
    assert good.infrastructure and good.verdicts == ["passed", "infrastructure"] and "gone.txt" in good.detail
    bad = verdict(sandbox, [echo, missing], "print(6)")
    assert bad.status == "wrong_answer" and not bad.infrastructure
    no_answer = verdict(sandbox, [dict(echo, output_file=str(tmp_path / "nope.txt"))], "print(input())")
    assert no_answer.infrastructure and "expected output unreadable" in no_answer.detail


def test_a_fixture_is_read_from_its_start_by_every_test_and_every_program(sandbox, tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("3 4\n")
    test = {"type": "stdio", "input_file": str(path), "output": "7"}
    for _ in range(2):
        assert verdict(sandbox, [test, test], "a, b = map(int, input().split())\nprint(a + b)").passed


@pytest.mark.parametrize(
    "test, printed, passed",
    [
        ({"output": "0.333333"}, "0.3333332", True),  # default: 1e-6 relative
        ({"output": "0.333333"}, "0.3334", False),
        ({"output": "0.333333", "atol": 1e-3}, "0.3334", True),  # the problem's own tolerance
        ({"output": "1 2\n3 4", "checker": "lines_unordered"}, "3 4\n1 2", True),
        ({"output": "1 2\n3 4", "checker": "lines_unordered"}, "2 1\n3 4", False),
        ({"output": "1 2 3", "checker": "tokens_unordered"}, "3\n1 2", True),
        ({"output": "1 2 3", "checker": "tokens_unordered"}, "1 2 2", False),
        ({"output": "1 2 3"}, "3 2 1", False),  # tokens in order by default
    ],
)
def test_special_judges_for_stdio(sandbox, test, printed, passed):
    stdio = {"type": "stdio", "input": "", **test}
    assert verdict(sandbox, [stdio], f"print({printed!r})").passed is passed


# "Print any two positive integers that sum to n": many valid outputs, the expected one is only an example.
ANY_PAIR_CHECKER = {
    "python": """import sys
data = sys.stdin.buffer.read()
head, rest = data.split(b"\\n", 1)
n_in, n_expected, n_got = map(int, head.split())
n = int(rest[:n_in])
got = rest[n_in + n_expected : n_in + n_expected + n_got].split()
ok = len(got) == 2 and all(x.isdigit() and int(x) > 0 for x in got) and sum(map(int, got)) == n
sys.exit(0 if ok else 1)""",
    "cpp": """#include <iostream>
#include <string>
int main() { long a, b, c; std::cin >> a >> b >> c; std::string in(a + 1, ' '), ex(b, ' ');
  std::cin.get(); std::cin.read(&in[0], a); std::cin.read(&ex[0], b); long n = std::stol(in), x, y;
  if (!(std::cin >> x >> y) || x <= 0 || y <= 0 || x + y != n) return 1; std::string more;
  return (std::cin >> more) ? 1 : 0; }""",
}


@pytest.mark.parametrize("language", ["python", "cpp"])
def test_a_checker_program_accepts_any_valid_answer(sandbox, language):
    if language == "cpp" and not shutil.which("g++"):
        pytest.skip("g++ is not installed")
    checker = {"code": ANY_PAIR_CHECKER[language], "language": language}
    test = {"type": "stdio", "input": "10\n", "output": "1 9", "checker": "program", "checker_program": checker}
    assert verdict(sandbox, [test], "n = int(input())\nprint(n - 3, 3)").passed  # not the example, still right
    wrong = verdict(sandbox, [test], "n = int(input())\nprint(n, 1)")
    assert wrong.status == "wrong_answer" and "checker rejected" in wrong.detail
    broken = dict(test, checker_program={"code": "while True: pass", "language": "python"})
    assert verdict(sandbox, [broken], "print(1, 9)").infrastructure  # a hung checker is not the program's fault


def test_a_stdio_test_names_its_input_once_inline_or_as_a_file():
    from codescaler.records.schema import Problem, RecordError, check_record

    for test in ({"type": "stdio", "output": "2"}, {"type": "stdio", "input": "1", "input_file": "x", "output": "2"}):
        with pytest.raises(RecordError, match="line 3 .*needs one of 'input' or 'input_file'"):
            check_record({"id": "p", "question": "q", "tests": [test]}, Problem, 3)


@pytest.mark.parametrize(
    "statement, tolerance",
    [
        ("Your answer is considered correct if its absolute or relative error does not exceed 10^{-4}.", 1e-4),
        ("accepted if the relative or absolute error does not exceed $10^{-6}$. Formally", 1e-6),
        ("Answers with an absolute or relative error of at most 10^{-9} from the true answer", 1e-9),
        ("Print the answer modulo 10^9 + 7.", None),
    ],
)
def test_loaders_take_the_tolerance_a_statement_grants(statement, tolerance):
    from codescaler.benchmarks.contests import stated_tolerance

    assert stated_tolerance(statement).get("atol") == tolerance


def test_a_statement_tolerance_accepts_what_the_default_would_reject(sandbox):
    loose = {"type": "stdio", "input": "", "output": "0.5", "rtol": 1e-4, "atol": 1e-4}
    assert verdict(sandbox, [loose], "print(0.50003)").passed
    assert not verdict(sandbox, [dict(loose, rtol=1e-6, atol=1e-9)], "print(0.50003)").passed


@pytest.mark.parametrize(
    "statement, several",
    [
        ("If there are multiple answers, print any of them.", True),
        ("If multiple solutions exist, any of them will be accepted.", True),
        ("If there are several such integers, output any.", True),
        ("Then Yelisey can choose any of them.", False),
        ("Print the answer modulo 10^9 + 7.", False),
    ],
)
def test_loaders_mark_statements_that_accept_several_outputs(statement, several):
    from codescaler.benchmarks.contests import several_answers

    assert several_answers(statement).get("several_answers", False) is several
