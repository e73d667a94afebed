"""`codescaler serve-sandbox`, driven by the real SandboxFusion client (`sandbox-fusion` from PyPI).

The server runs as the CLI does, in its own process: requests go over HTTP as a trainer's would, and
SIGTERM is a real signal.
"""

import base64
import logging
import os
import signal
import subprocess
import threading
import time

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("sandbox_fusion")
import httpx
import sandbox_fusion
from sandbox_fusion import RunCodeRequest, SubmitRequest, TestConfig, run_code, submit
from sandbox_fusion.models import SummaryMapping
from test_sandbox import HOSTILE, MARK, PROGRAMS, needs

from codescaler.serving.sandbox_server import run_code_response, start_service

MAPPING = SummaryMapping(CompileFailed="compile_failed", RunTimeout="timeout", RunFailed="run_failed")
ADD = {
    "id": "add",
    "question": "Write add(a, b).",
    "entry_point": "add",
    "tests": [
        {"type": "call", "fn": "add", "args": [1, 2], "expected": 3},
        {"type": "assert", "code": "assert add(0, 0) == 0"},
    ],
}


def start(*flags: str) -> tuple[subprocess.Popen, str]:
    return start_service("--workers", "2", *flags)


def stop(server: subprocess.Popen) -> bool:
    """SIGTERM; True when the server drained and exited by it (uvicorn re-raises the signal once drained)."""
    server.send_signal(signal.SIGTERM)
    return server.wait(timeout=60) in (0, -signal.SIGTERM)


@pytest.fixture(scope="module")
def url():
    os.environ["CODESCALER_SECRET"] = "codescaler-server-secret"
    server, url = start("--timeout", "2", "--memory", "512", "--max-output", "65536")
    yield url
    del os.environ["CODESCALER_SECRET"]
    assert stop(server)


def run(url: str, code: str, language: str = "python", stdin: str = "", **limits):
    return run_code(RunCodeRequest(code=code, language=language, stdin=stdin, **limits), endpoint=url, max_attempts=1)


def test_run_code_answers_as_sandbox_fusion_does(url):
    ok = run(url, "print(int(input()) * 2)", stdin="21\n")
    assert ok.status == "Success" and ok.run_result.stdout == "42\n" and ok.run_result.return_code == 0
    assert ok.run_result.status == "Finished" and ok.run_result.execution_time > 0
    crash = run(url, "import sys\nprint('half')\n1 / 0")
    assert crash.status == "Failed" and crash.run_result.return_code == 1 and crash.run_result.stdout == "half\n"
    assert "ZeroDivisionError" in crash.run_result.stderr
    assert sandbox_fusion.summary_run_code_result(crash, MAPPING) == "run_failed"
    slow = run(url, "while True: pass", run_timeout=0.5)
    assert slow.run_result.status == "TimeLimitExceeded"
    assert sandbox_fusion.summary_run_code_result(slow, MAPPING) == "timeout"
    syntax = run(url, "def f(:")
    assert syntax.run_result.return_code == 1 and "SyntaxError" in syntax.run_result.stderr


def test_run_timeout_is_the_request_s_and_capped_by_the_server_s(url):
    sleeper = "import time\ntime.sleep(2.5)\nprint('woke')"
    assert run(url, sleeper, run_timeout=4).run_result.stdout == "woke\n"  # more than the server's --timeout 2
    assert run(url, sleeper, run_timeout=1).run_result.status == "TimeLimitExceeded"


@pytest.mark.parametrize("language", [pytest.param(lang, marks=needs(lang)) for lang in PROGRAMS])
def test_every_language_compiles_and_runs(url, language):
    good, bad, noisy = PROGRAMS[language]
    name = {"javascript": "nodejs"}.get(language, language)
    done = run(url, good, name, stdin="21\n")
    assert (done.status, done.run_result.stdout) == ("Success", "42\n")
    broken = run(url, bad, name)
    if language == "javascript":
        assert broken.run_result.return_code == 3
    else:
        assert broken.run_result is None and broken.compile_result.return_code != 0
        assert sandbox_fusion.summary_run_code_result(broken, MAPPING) == "compile_failed"
    failed = run(url, noisy, name)
    assert (failed.run_result.return_code, failed.run_result.stderr) == (3, "oops\n")


def test_submit_judges_a_provided_problem(url):
    config = TestConfig(provided_data=ADD)
    good = submit(
        SubmitRequest(dataset="mine", id="add", completion=f"```python\n{ADD_SOURCE}\n```", config=config), url
    )
    assert good.accepted and [t.passed for t in good.tests] == [True, True]
    assert good.extracted_code.strip() == ADD_SOURCE
    wrong = submit(
        SubmitRequest(
            dataset="mine", id="add", completion="```python\ndef add(a, b):\n    return a - b\n```", config=config
        ),
        url,
    )
    assert not wrong.accepted and [t.passed for t in wrong.tests] == [False, True]


ADD_SOURCE = "def add(a, b):\n    return a + b"


def test_submit_answers_503_when_the_sandbox_cannot_run_the_tests(url):
    """A fixture that cannot be read is the sandbox's failure: no verdict, never `accepted: false`."""
    problem = {
        "id": "gone",
        "question": "Echo.",
        "tests": [{"type": "stdio", "input_file": "/nonexistent", "output": "1"}],
    }
    body = {"dataset": "mine", "id": "gone", "completion": "```python\nprint(input())\n```"}
    answer = httpx.post(f"{url}/submit", json=dict(body, config={"provided_data": problem}), timeout=60)
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "1"
    assert "fixture unreadable" in answer.json()["detail"]


@pytest.mark.data
def test_submit_judges_a_named_dataset_problem(url):
    from codescaler import benchmarks

    problem = next(p for p in benchmarks.load("humaneval") if p["id"] == "HumanEval/0")
    completion = f"```python\n{problem['reference']}\n```"
    answer = submit(
        SubmitRequest(dataset="humaneval", id="HumanEval/0", completion=completion, config=TestConfig()), url
    )
    assert answer.accepted


def test_bad_requests_get_4xx_naming_the_field(url):
    with pytest.raises(Exception, match="422"):
        run(url, "print(1)", "php")
    assert (
        httpx.post(f"{url}/run_code", content=b"{broken", headers={"content-type": "application/json"}).status_code
        == 422
    )
    missing = httpx.post(f"{url}/run_code", json={"language": "python"})
    assert missing.status_code == 422 and "code" in missing.text
    assert httpx.post(f"{url}/run_code", json={"code": "1", "language": "python", "run_timeout": -1}).status_code == 422
    for path in ("/etc/passwd", "../up.txt", "a/../../up.txt"):
        escape = httpx.post(f"{url}/run_code", json={"code": "1", "language": "python", "files": {path: "eA=="}})
        assert escape.status_code == 422 and path in escape.text
    not_base64 = httpx.post(f"{url}/run_code", json={"code": "1", "language": "python", "files": {"a": "!!"}})
    assert not_base64.status_code == 422 and "base64" in not_base64.text
    form = httpx.post(f"{url}/run_code", data={"code": "print(1)", "language": "python"})  # curl -d, no JSON type
    assert form.status_code == 422 and "Content-Type: application/json" in form.json()["detail"]
    unknown = httpx.post(
        f"{url}/submit", json={"dataset": "mine", "id": "nope", "completion": "", "config": {"provided_data": [ADD]}}
    )
    assert unknown.status_code == 404 and "nope" in unknown.text
    broken = dict(ADD, tests=[{"type": "exec", "code": "1"}])
    malformed = httpx.post(
        f"{url}/submit", json={"dataset": "mine", "id": "add", "completion": "", "config": {"provided_data": broken}}
    )
    assert malformed.status_code == 422 and "tests" in malformed.text
    assert httpx.post(f"{url}/run_code", json={"code": "x" * (5 << 20), "language": "python"}).status_code == 413


@pytest.mark.parametrize("name,program,tests,expected", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_programs_through_the_service(url, name, program, tests, expected):
    """Each hostile program of the sandbox's own suite, sent as a trainer would: an answer, no harm done."""
    done = run(url, program, run_timeout=2)
    assert done.status in ("Success", "Failed") and done.run_result is not None
    assert "codescaler-server-secret" not in (done.run_result.stdout or "") + (done.run_result.stderr or "")
    assert not os.path.exists(MARK) and not os.path.exists("/work/escaped") and os.path.exists("/etc/hostname")
    assert run(url, "print(6 * 7)").run_result.stdout == "42\n"  # the service still works


def test_a_full_server_answers_503_with_retry_after():
    server, url = start("--max-queue", "2")
    try:
        answers = []

        def ask():
            answers.append(
                httpx.post(
                    f"{url}/run_code", json={"code": "import time\ntime.sleep(1)", "language": "python"}, timeout=30
                )
            )

        threads = [threading.Thread(target=ask) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        codes = sorted(a.status_code for a in answers)
        assert codes.count(200) >= 2 and 503 in codes
        assert all(a.headers["retry-after"] == "1" for a in answers if a.status_code == 503)
    finally:
        assert stop(server)


def test_sigterm_lets_the_programs_in_flight_finish():
    server, url = start()
    answers = []
    asking = threading.Thread(
        target=lambda: answers.append(run(url, "import time\ntime.sleep(1.5)\nprint('done')", run_timeout=5))
    )
    asking.start()
    time.sleep(0.5)
    assert stop(server)
    asking.join()
    assert answers[0].run_result.stdout == "done\n"
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/v1/ping")


def test_outcomes_map_to_sandbox_fusion_results():
    compiled = run_code_response("cpp", {"status": "compile_error", "detail": "err", "compile_time": 0.2})
    assert compiled["run_result"] is None and compiled["compile_result"]["return_code"] == 1
    slow_build = run_code_response("rust", {"status": "compile_error", "compile_timed_out": True, "compile_time": 9.0})
    assert slow_build["compile_result"]["status"] == "TimeLimitExceeded"
    # Past the output cap: the program's doing, so Finished (SandboxFusion keeps Error for the sandbox's own failure)
    flood = run_code_response("python", {"status": "output_limit", "time": 0.1, "stdout": "xxx"})
    assert (flood["status"], flood["run_result"]["status"], flood["run_result"]["stdout"]) == (
        "Failed",
        "Finished",
        "xxx",
    )
    assert flood["run_result"]["return_code"] == -signal.SIGXFSZ
    aborted = run_code_response("cpp", {"status": "runtime_error", "exit_code": -6, "detail": "signal 6", "time": 0.1})
    assert (aborted["status"], aborted["run_result"]["status"], aborted["run_result"]["return_code"]) == (
        "Failed",
        "Finished",
        -6,
    )
    broken = run_code_response("python", {"status": "infrastructure", "detail": "worker died"})
    assert broken["status"] == "SandboxError"


def test_sandbox_fusion_s_documented_request_defaults_are_served(url):
    """memory_limit_MB -1 is SandboxFusion's "no limit of the caller's": the server's own applies, not a 422."""
    body = {"code": "print(1)", "language": "python", "compile_timeout": 10, "run_timeout": 10, "memory_limit_MB": -1}
    answer = httpx.post(f"{url}/run_code", json={**body, "stdin": "", "files": {}, "fetch_files": []})
    assert answer.status_code == 200 and answer.json()["status"] == "Success"


def test_a_program_that_exits_non_zero_finished_and_the_request_failed(url):
    answer = httpx.post(f"{url}/run_code", json={"code": "import sys\nsys.exit(3)", "language": "python"}).json()
    assert (answer["status"], answer["run_result"]["status"], answer["run_result"]["return_code"]) == (
        "Failed",
        "Finished",
        3,
    )


@needs("cpp")
def test_a_crashed_native_program_is_finished_with_its_signal(url):
    code = "#include <cassert>\nint main() { assert(1 == 2); }"
    answer = httpx.post(f"{url}/run_code", json={"code": code, "language": "cpp"}).json()
    assert (answer["status"], answer["run_result"]["status"]) == ("Failed", "Finished")
    assert answer["run_result"]["return_code"] == -signal.SIGABRT and "Assertion" in answer["run_result"]["stderr"]


def test_files_go_in_and_come_back(url):
    code = (
        "print(open('in/given.txt').read())\nopen('made.txt', 'w').write('made here')\n"
        "import os\nos.symlink('/etc/hostname', 'link')"
    )
    body = {"code": code, "language": "python", "files": {"in/given.txt": base64.b64encode(b"given").decode()}}
    answer = httpx.post(f"{url}/run_code", json={**body, "fetch_files": ["made.txt", "missing.txt", "link"]}).json()
    assert answer["run_result"]["stdout"] == "given\n"
    assert answer["files"] == {"made.txt": base64.b64encode(b"made here").decode()}  # no link followed, none missing


def test_output_past_the_cap_keeps_its_first_bytes(url):
    answer = httpx.post(f"{url}/run_code", json={"code": "print('y' * 200000)", "language": "python"}).json()
    assert answer["run_result"]["stdout"].startswith("yyyy") and len(answer["run_result"]["stdout"]) <= 65536


def test_a_program_may_use_loopback_and_nothing_else(url):
    serve_itself = (
        "import socket, threading\ns = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)\n"
        "threading.Thread(target=lambda: s.accept()[0].sendall(b'pong'), daemon=True).start()\n"
        "print(socket.create_connection(s.getsockname()).recv(4).decode())"
    )
    answer = httpx.post(f"{url}/run_code", json={"code": serve_itself, "language": "python"}).json()
    assert answer["run_result"]["stdout"] == "pong\n", answer  # (no route out: tests/test_sandbox.py's network cases)


@needs("javascript")
def test_node_programs_find_lodash(url):
    code = "const _ = require('lodash');\nconsole.log(_.chunk([1, 2, 3], 2).length);"
    answer = httpx.post(f"{url}/run_code", json={"code": code, "language": "nodejs"}).json()
    assert answer["run_result"]["stdout"] == "2\n", answer


def test_without_the_api_key_nothing_runs():
    """A keyed server answers 401 to a request without its key and runs nothing; the key never shows in metrics."""
    key = "s3cret-key-for-the-test"
    server, url = start("--api-key", key)
    try:
        program = {"code": "print('ran')", "language": "python"}
        assert httpx.post(f"{url}/run_code", json=program).status_code == 401
        wrong = httpx.post(f"{url}/run_code", json=program, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
        assert httpx.get(f"{url}/metrics").status_code == 401
        assert httpx.get(f"{url}/v1/ping").text == "pong"  # liveness stays open
        bearer = httpx.post(f"{url}/run_code", json=program, headers={"Authorization": f"Bearer {key}"})
        header = httpx.post(f"{url}/run_code", json=program, headers={"X-API-Key": key})
        assert [r.json()["run_result"]["stdout"] for r in (bearer, header)] == ["ran\n", "ran\n"]
        metrics = httpx.get(f"{url}/metrics", headers={"X-API-Key": key}).text
        assert key not in metrics
        ran = [line for line in metrics.splitlines() if line.startswith("codescaler_sandbox_programs_total")]
        assert sum(float(line.split()[-1]) for line in ran) == 2  # the two keyed requests, not the refused ones
        assert 'codescaler_sandbox_requests_total{endpoint="/run_code",status="401"} 2.0' in metrics
    finally:
        assert stop(server)


def test_an_open_server_off_loopback_is_warned_about(caplog):
    from codescaler.serving.http import is_loopback, warn_if_open

    assert is_loopback("127.0.0.1") and is_loopback("localhost") and not is_loopback("0.0.0.0")
    with caplog.at_level(logging.WARNING, logger="codescaler.serving.http"):
        warn_if_open("127.0.0.1", "", "codescaler serve")
        warn_if_open("0.0.0.0", "a-key", "codescaler serve")
        assert not caplog.records
        warn_if_open("0.0.0.0", "", "codescaler serve")
    (record,) = caplog.records
    assert "no API key" in record.getMessage() and "0.0.0.0" in record.getMessage()


def test_a_language_in_another_spelling_is_served_and_an_unknown_one_named(url):
    for spelling in ("Python", "py", "python3"):
        answer = httpx.post(f"{url}/run_code", json={"code": "print(7)", "language": spelling}).json()
        assert answer["run_result"]["stdout"] == "7\n", spelling
    refused = httpx.post(f"{url}/run_code", json={"code": "1", "language": "cobol"})
    assert refused.status_code == 422 and "'cobol' is not served here; served: python, cpp" in refused.text
    body = {"dataset": "mine", "id": "add", "completion": "def add(a, b):\n    return a + b"}
    typo = httpx.post(f"{url}/submit", json={**body, "config": {"provided_data": [ADD], "language": "Python"}})
    assert typo.status_code == 200 and typo.json()["accepted"] is True
