"""Java compiled in batches in one JVM gives the verdicts javac-per-program gives, compile errors included."""

import shutil

import pytest

from codescaler.execution.sandbox import Job, Limits, Sandbox

pytestmark = pytest.mark.skipif(not shutil.which("javac"), reason="javac is not installed")

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


def test_batched_java_matches_javac_per_program():
    warm, cold = outcomes(True), outcomes(False)
    assert [o[0]["status"] for o in warm] == [o[0]["status"] for o in cold]
    assert [o[0].get("stdout") for o in warm] == [o[0].get("stdout") for o in cold]
    statuses = [o[0]["status"] for o in warm]
    assert statuses.count("compile_error") == 1 and statuses[-2:] == ["runtime_error", "completed"]
    error = next(o[0] for o in warm if o[0]["status"] == "compile_error")
    assert "illegal start of expression" in error["detail"] and error["compile_time"] > 0
    assert all(o[0]["compile_time"] > 0 for o in warm[:2])  # each source's own share of its batch
