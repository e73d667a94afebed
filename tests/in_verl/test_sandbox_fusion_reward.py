"""verl's own SandboxFusion execution reward, pointed at `codescaler serve-sandbox` instead of a Docker
SandboxFusion: ``verl.utils.reward_score.sandbox_fusion.compute_score`` with the URL a trainer would set.

Runs in verl's environment (``make verl-test``); elsewhere it is skipped.
"""

import signal
import threading

import pytest

pytest.importorskip("verl.utils.reward_score.sandbox_fusion")
pytest.importorskip("fastapi")
from verl.utils.reward_score import sandbox_fusion

from codescaler.serving.sandbox_server import start_service

SUM = {"inputs": ["1 2\n", "40 2\n"], "outputs": ["3\n", "42\n"]}


@pytest.fixture(scope="module")
def url():
    server, base = start_service("--workers", "2")
    yield f"{base}/run_code"  # verl takes the endpoint itself, as SANDBOX_FUSION_URL
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=60) in (0, -signal.SIGTERM)


def score(url, completion, tests=SUM, timeout=3):
    return sandbox_fusion.compute_score(url, threading.Semaphore(4), 1024, completion, tests, timeout=timeout)


def test_verl_scores_stdio_programs_through_our_service(url):
    right, meta = score(url, "```python\na, b = map(int, input().split())\nprint(a + b)\n```")
    assert right == 1.0 and [m["status"] for m in meta] == ["success", "success"]
    wrong, meta = score(url, "```python\na, b = map(int, input().split())\nprint(a * b)\n```")
    assert wrong == 0.0 and [m["status"] for m in meta] == ["wrong_answer", "wrong_answer"]
    crash, meta = score(url, "```python\nprint(1 / 0)\n```")
    assert crash == 0.0 and meta[0]["status"] == "runtime_error" and "ZeroDivisionError" in meta[0]["stderr"]
    loop, meta = score(url, "```python\nwhile True:\n    pass\n```", timeout=1)
    assert loop == 0.0 and meta[0]["status"] == "timeout"


def test_verl_scores_assert_cases(url):
    tests = {"assert_case": ["assert add(2, 3) == 5", "assert add(0, 0) == 0"]}
    half, _ = score(url, "```python\ndef add(a, b):\n    return a + b if a else 1\n```", tests)
    assert half == 0.5
