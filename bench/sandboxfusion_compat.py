"""``codescaler serve-sandbox`` against what SandboxFusion's own runner tests ask of its ``/run_code``.

SandboxFusion's test suite (``sandbox/tests/runners/test_{python,cpp,nodejs,go,java,rust}.py``) checks, per
language: a print, a timeout, an assertion failure, a compile or syntax error, stdin, and language specifics
(files in and out, lodash, javatuples, threads, ``console.assert``). Each case below asks the same of our server
over HTTP, with programs of our own, and checks what those tests check: the request's status, the run's and the
compile's status and return code, and what stdout or stderr hold. The count of cases that pass is the figure.

python bench/sandboxfusion_compat.py
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from common import write_result

Check = Callable[[dict[str, Any]], bool]


def _ok(stdout: str) -> Check:
    return lambda r: r["status"] == "Success" and r["run_result"]["stdout"].strip() == stdout


def _timeout(r: dict[str, Any]) -> bool:
    return r["status"] == "Failed" and r["run_result"]["status"] == "TimeLimitExceeded"


def _failed_run(needle: str) -> Check:
    return lambda r: (
        r["status"] == "Failed" and r["run_result"]["status"] == "Finished" and needle in r["run_result"]["stderr"]
    )


def _compile_error(r: dict[str, Any]) -> bool:
    compiled = r["compile_result"] or {}
    return r["status"] == "Failed" and compiled.get("return_code") not in (0, None) and r["run_result"] is None


def _stdin(r: dict[str, Any]) -> bool:
    return r["status"] == "Success" and r["run_result"]["stdout"] == "65535\n"


CPP_SLEEP = "#include <chrono>\n#include <thread>\nint main() { std::this_thread::sleep_for(std::chrono::seconds(1)); }"
CPP_THREADS = """#include <iostream>
#include <mutex>
#include <thread>
#include <vector>
int main() {
    std::mutex lock; long total = 0; std::vector<std::thread> workers;
    for (int t = 0; t < 4; ++t)
        workers.emplace_back([&] {
            for (int i = 0; i < 1000; ++i) { std::lock_guard<std::mutex> g(lock); ++total; }
        });
    for (auto& w : workers) w.join();
    std::cout << total << std::endl;
}"""
JAVA = "public class Main {{ public static void main(String[] args) throws Exception {{ {} }} }}"
GO = "package main\n\nimport {}\n\nfunc main() {{\n{}\n}}\n"
FLAG = base64.b64encode(b"a file the request brought").decode()

CASES: list[tuple[str, str, dict[str, Any], Check]] = [
    ("python", "print", {"code": "print(123)", "run_timeout": 5}, _ok("123")),
    ("python", "timeout", {"code": "import time\ntime.sleep(0.2)", "run_timeout": 0.1}, _timeout),
    ("python", "assertion error", {"code": "assert 1 == 2"}, _failed_run("AssertionError")),
    ("python", "syntax error", {"code": "int a = 1"}, _failed_run("SyntaxError: invalid syntax")),
    (
        "python",
        "files in",
        {"code": "print(open('d1/d2/flag').read())", "files": {"d1/d2/flag": FLAG}},
        _ok("a file the request brought"),
    ),
    ("python", "stdin", {"code": "print(int(input()))", "stdin": "65535"}, _stdin),
    (
        "python",
        "files out",
        {"code": "open('a.txt', 'w').write('kept')", "fetch_files": ["a.txt"]},
        lambda r: r["status"] == "Success" and base64.b64decode(r["files"]["a.txt"]) == b"kept",
    ),
    (
        "python",
        "files out, absolute path (/mnt/b)",
        {"code": "open('/mnt/b', 'w').write('x')", "fetch_files": ["/mnt/b"]},
        lambda r: r.get("status") == "Success",
    ),
    ("cpp", "print", {"code": '#include <iostream>\nint main() { std::cout << "123" << std::endl; }'}, _ok("123")),
    ("cpp", "timeout", {"code": CPP_SLEEP, "run_timeout": 0.5, "compile_timeout": 5}, _timeout),
    (
        "cpp",
        "assertion error",
        {"code": "#include <cassert>\nint main() { assert(1 == 2); }"},
        _failed_run("Assertion"),
    ),
    ("cpp", "compile error", {"code": "int main() { object i = ?; }"}, _compile_error),
    (
        "cpp",
        "stdin",
        {
            "code": "#include <iostream>\nint main() { int n; std::cin >> n; std::cout << n << std::endl; }",
            "stdin": "65535",
        },
        _stdin,
    ),
    ("cpp", "threads", {"code": CPP_THREADS, "run_timeout": 2}, _ok("4000")),
    ("nodejs", "print", {"code": "console.log(123)"}, _ok("123")),
    ("nodejs", "timeout", {"code": "setTimeout(() => {}, 1000);", "run_timeout": 0.1}, _timeout),
    (
        "nodejs",
        "assertion error",
        {"code": "const assert = require('assert');\nassert.strictEqual(1, 2);"},
        _failed_run("AssertionError"),
    ),
    (
        "nodejs",
        "console.assert",
        {"code": "console.assert(1 === 2);"},
        lambda r: r["status"] == "Success" and "Assertion failed" in r["run_result"]["stderr"],
    ),
    (
        "nodejs",
        "lodash",
        {"code": "const _ = require('lodash');\nrequire('assert')(_.isEqual([1], [1]));"},
        lambda r: r["status"] == "Success",
    ),
    (
        "nodejs",
        "stdin",
        {
            "code": "process.stdin.on('data', d => { console.log(parseInt(d.toString())); process.exit(); });",
            "stdin": "65535",
        },
        _stdin,
    ),
    ("go", "print", {"code": GO.format('"fmt"', '    fmt.Println("123")')}, _ok("123")),
    (
        "go",
        "timeout",
        {
            "code": GO.format('"time"', "    time.Sleep(200 * time.Millisecond)"),
            "run_timeout": 0.19,
            "compile_timeout": 5,
        },
        _timeout,
    ),
    (
        "go",
        "stdin",
        {"code": GO.format('"fmt"', "    var n int\n    fmt.Scan(&n)\n    fmt.Println(n)"), "stdin": "65535"},
        _stdin,
    ),
    ("java", "print", {"code": JAVA.format("System.out.println(123);")}, _ok("123")),
    ("java", "compile error", {"code": JAVA.format("System.uto.println(123);")}, _compile_error),
    ("java", "timeout", {"code": JAVA.format("Thread.sleep(200);"), "run_timeout": 0.1}, _timeout),
    (
        "java",
        "assertion error",
        {"code": JAVA.format('throw new AssertionError("on purpose");')},
        _failed_run("java.lang.AssertionError"),
    ),
    (
        "java",
        "assert statement",
        {"code": JAVA.format("assert 1 == 2;")},
        lambda r: r["status"] == "Failed" and r["run_result"]["status"] == "Finished",
    ),
    (
        "java",
        "javatuples",
        {
            "code": "import org.javatuples.Pair;\n"
            + JAVA.format('Pair<String, Integer> p = Pair.with("apple", 1); System.out.println(p.getValue0());')
        },
        _ok("apple"),
    ),
    (
        "java",
        "stdin",
        {
            "code": "import java.util.Scanner;\n"
            + JAVA.format("System.out.println(new Scanner(System.in).nextInt());"),
            "stdin": "65535",
        },
        _stdin,
    ),
    ("rust", "print", {"code": 'fn main() { println!("123"); }'}, _ok("123")),
    (
        "rust",
        "timeout",
        {
            "code": "fn main() { std::thread::sleep(std::time::Duration::from_millis(200)); }",
            "run_timeout": 0.1,
            "compile_timeout": 5,
        },
        _timeout,
    ),
    ("rust", "assertion error", {"code": "fn main() { assert_eq!(1, 2); }"}, _failed_run("assertion")),
    ("rust", "compile error", {"code": 'fn main() { let x: u32 = "text"; println!("{}", x); }'}, _compile_error),
    (
        "rust",
        "stdin",
        {
            "code": "fn main() { let mut s = String::new(); std::io::stdin().read_line(&mut s).unwrap(); "
            'let n: i32 = s.trim().parse().unwrap(); println!("{}", n); }',
            "stdin": "65535",
        },
        _stdin,
    ),
]


def main() -> None:
    import httpx

    from codescaler.serving.sandbox_server import start_service

    server, url = start_service("--workers", "2")
    results = []
    try:
        with httpx.Client(timeout=120) as http:
            for language, name, request, check in CASES:
                # SandboxFusion's client sends its documented defaults: memory_limit_MB -1 among them
                body = {"language": language, "memory_limit_MB": -1, **request}
                answer = http.post(f"{url}/run_code", json=body)
                reply = answer.json()
                try:
                    passed = answer.status_code == 200 and check(reply)
                except (KeyError, TypeError):
                    passed = False
                results.append({"language": language, "case": name, "passed": passed, "answer": reply})
                print(f"{'pass' if passed else 'FAIL'}  {language:<7} {name}")
    finally:
        server.terminate()
        server.wait()
    by_language: dict[str, list[int]] = {}
    for r in results:
        by_language.setdefault(r["language"], [0, 0])[0] += r["passed"]
        by_language[r["language"]][1] += 1
    passed = sum(r["passed"] for r in results)
    print(f"{passed} of {len(results)} cases as SandboxFusion's runner tests expect")
    failures = [{k: r[k] for k in ("language", "case", "answer")} for r in results if not r["passed"]]
    print(
        write_result(
            "sandboxfusion_compat",
            {"passed": passed, "cases": len(results), "by_language": by_language, "failures": failures},
        )
    )


if __name__ == "__main__":
    main()
