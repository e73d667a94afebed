"""A SandboxFusion-compatible execution service over :class:`codescaler.execution.sandbox.Sandbox` (FastAPI + uvicorn).

RL stacks that reward by execution (verl's ``sandbox_fusion`` reward, the ``sandbox-fusion`` client)
call a SandboxFusion server, which needs Docker. This serves the same API from our sandbox, so
``SANDBOX_FUSION_URL=http://host:8080/run_code`` points at it:

* ``POST /run_code``: ``{code, language, stdin, run_timeout, compile_timeout, memory_limit_MB, files,
  fetch_files}`` runs the program once and answers ``{status: Success|Failed|SandboxError, message,
  compile_result, run_result, files}``, each result ``{status: Finished|Error|TimeLimitExceeded,
  execution_time, return_code, stdout, stderr}``. As SandboxFusion: a program that ran to its end, whatever its
  exit status (a signal reads as its negated number), is ``Finished`` with that code and the request ``Failed``
  when it is not 0; ``Error`` and ``SandboxError`` mean the sandbox failed, never the program. ``run_timeout``
  and ``compile_timeout`` default to the server's ``--timeout`` and ``--compile-timeout``; ``memory_limit_MB``
  -1 (SandboxFusion's default) or absent means the server's ``--memory``. ``files`` (relative path -> base64)
  are placed in the program's working folder; ``fetch_files`` (relative paths) come back base64 in ``files``.
  Languages: SandboxFusion's names (``python``, ``cpp``, ``java``, ``nodejs``, ``go``, ``rust``). Unlike
  SandboxFusion's default, the network stays closed: a program may use loopback (127.0.0.1) and nothing else.
* ``POST /submit``: dataset-style judging of one completion: ``config.provided_data`` carries the problem
  as a codescaler record (question, tests, entry_point, code_prefix), or ``dataset``/``id`` name a
  problem of :mod:`codescaler.benchmarks`. Answers SandboxFusion's ``EvalResult``.
* ``GET /v1/ping``, ``GET /health``, ``GET /metrics`` (Prometheus).

As ``codescaler serve`` does: bad input gets 4xx naming the field; more programs waiting than
``max_queue`` gets 503 with ``Retry-After``; on SIGTERM uvicorn stops accepting and lets the programs in
flight finish. Requested time and memory limits are capped by the server's.
"""

# No `from __future__ import annotations` here: FastAPI reads the request models from the endpoint
# annotations at run time, and those models are local to create_app.
import asyncio
import base64
import binascii
import contextlib
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from codescaler.execution.sandbox import Limits, Sandbox
from codescaler.execution.worker_files import inside
from codescaler.records.languages import RUNNABLE, UnknownLanguage, canonical_language
from codescaler.records.schema import Outcome
from codescaler.serving.http import ListenConfig, api_key, instrument, warn_if_open

# SandboxFusion's names of the languages served; any spelling codescaler knows is read too ("Python", "javascript").
SERVED = ("python", "cpp", "java", "nodejs", "go", "rust")
COMPILED = ("cpp", "java", "go", "rust")


def served_language(name: str | None) -> str:
    """Our name of a language a request names, or :class:`UnknownLanguage` naming it and SandboxFusion's names."""
    try:
        return canonical_language(name, RUNNABLE)
    except UnknownLanguage:
        raise UnknownLanguage(f"language {name!r} is not served here; served: {', '.join(SERVED)}") from None


@dataclass
class SandboxServeConfig(ListenConfig):
    port: int = field(default=8080, metadata={"help": "TCP port (SandboxFusion's own default)"})
    workers: int = field(default=0, metadata={"help": "sandbox workers (0: one per core)"})
    max_queue: int = field(default=256, metadata={"help": "programs running or waiting before requests get 503"})
    max_body_bytes: int = field(default=4 << 20, metadata={"help": "largest request body"})
    max_run_timeout: float = field(default=60.0, metadata={"help": "most seconds a request may ask to run"})
    max_compile_timeout: float = field(default=60.0, metadata={"help": "most seconds a request may ask to compile"})


def _result(status: str, seconds: float | None = None, code: int | None = None, out: str = "", err: str = "") -> dict:
    return {"status": status, "execution_time": seconds, "return_code": code, "stdout": out, "stderr": err}


def run_code_response(language: str, outcome: Outcome) -> dict[str, Any]:
    """SandboxFusion's ``RunCodeResponse`` for the outcome of one stdio run of our sandbox."""
    status = outcome.get("status", "runtime_error")
    detail = outcome.get("detail") or ""
    if status == "infrastructure":  # the sandbox failed, not the program: SandboxFusion's name for it
        return {"status": "SandboxError", "message": detail, "compile_result": None, "run_result": None}
    compile_result = None
    if language in COMPILED:
        spent = outcome.get("compile_time")
        if status == "compile_error":
            if outcome.get("compile_timed_out"):
                compile_result = _result("TimeLimitExceeded", spent)
            else:
                compile_result = _result("Finished", spent, 1, err=detail)
            return {"status": "Failed", "message": detail, "compile_result": compile_result, "run_result": None}
        compile_result = _result("Finished", spent, 0)
    seconds, out, err = outcome.get("time"), outcome.get("stdout", ""), outcome.get("stderr", "")
    if status == "completed":
        run = _result("Finished", seconds, 0, out, err)
    elif status == "timeout":
        run = _result("TimeLimitExceeded", seconds, None, out, err)
    elif status == "compile_error":  # Python: the interpreter would print the SyntaxError and exit 1
        run = _result("Finished", seconds, 1, err=f"SyntaxError: {detail}\n")
    elif status == "memory_limit":
        run = _result("Finished", seconds, 1, out, err or "MemoryError\n")
    elif "exit_code" in outcome:  # ran to its end, or was killed by a signal (a negative code): the program's doing
        run = _result("Finished", seconds, outcome["exit_code"], out, err)
    elif status == "output_limit":  # stopped as RLIMIT_FSIZE stops a writer: what it printed first, then SIGXFSZ
        run = _result("Finished", seconds, -signal.SIGXFSZ, out, err or "output limit exceeded\n")
    else:  # a program the sandbox could not follow to its end
        run = _result("Finished", seconds, 1, out, err or f"{status}: {detail}\n")
    ok = run["status"] == "Finished" and run["return_code"] == 0
    return {
        "status": "Success" if ok else "Failed",
        "message": "" if ok else detail or status,
        "compile_result": compile_result,
        "run_result": run,
        "executor_pod_name": None,
        "files": outcome.get("files", {}),
    }


def judge(sandbox: Sandbox, problem: dict[str, Any]) -> Any:
    """The :class:`codescaler.execution.verify.Verification` of a problem's one response, every test run: /submit
    answers each test's result."""
    from codescaler.execution.verify import verify_responses

    return next(verify_responses([problem], sandbox, all_tests=True))[0]


class LocalSandbox:
    """Where the service's programs run: a :class:`Sandbox` in this process, called from threads that only wait for
    its workers (the sandbox's own pool bounds what runs at once). Ray Serve's runner has the same four methods."""

    def __init__(self, limits: Limits, workers: int | None, threads: int) -> None:
        self.limits, self.workers, self.threads = limits, workers, threads

    async def start(self) -> None:
        self.sandbox = Sandbox(workers=self.workers, limits=self.limits)
        self.pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="codescaler-sandbox")

    async def stop(self) -> None:
        self.pool.shutdown(wait=True)
        self.sandbox.close()

    async def run_one(self, *args: Any) -> list[Outcome]:
        return await asyncio.get_running_loop().run_in_executor(self.pool, self.sandbox.run_one, *args)

    async def judge(self, problem: dict[str, Any]) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.pool, judge, self.sandbox, problem)

    async def size(self) -> int:
        return self.sandbox.size


def create_app(sandbox_limits: Limits | None = None, config: SandboxServeConfig | None = None, runner: Any = None):
    """The FastAPI app. Its programs run on ``runner`` (default: a :class:`LocalSandbox`, started with the app and
    closed on shutdown)."""
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse, PlainTextResponse
    from prometheus_client import CollectorRegistry, Counter
    from pydantic import BaseModel, Field

    from codescaler import benchmarks
    from codescaler.execution.verify import program_of
    from codescaler.records.batch import problem_parser

    config = config or SandboxServeConfig()
    base = sandbox_limits or Limits()
    registry = CollectorRegistry()
    programs = Counter("codescaler_sandbox_programs", "programs run", ["language", "status"], registry=registry)
    state: dict[str, Any] = {"in_flight": 0}
    datasets: dict[str, dict[str, Any]] = {}  # name -> id -> problem, loaded on first use

    runner = runner or LocalSandbox(base, config.workers or None, config.max_queue)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        await runner.start()
        yield
        await runner.stop()

    app = FastAPI(title="codescaler sandbox (SandboxFusion API)", lifespan=lifespan)

    class RunCodeRequest(BaseModel):
        code: str
        language: str
        stdin: str | None = None
        run_timeout: float | None = Field(default=None, gt=0)  # None: the server's --timeout
        compile_timeout: float | None = Field(default=None, gt=0)  # None: the server's --compile-timeout
        memory_limit_MB: int | None = None  # -1 (SandboxFusion's default), 0 or None: the server's --memory
        files: dict[str, str | None] = {}
        fetch_files: list[str] = []

    class TestConfig(BaseModel):
        language: str | None = None
        run_timeout: float | None = Field(default=None, gt=0)
        compile_timeout: float | None = Field(default=None, gt=0)
        provided_data: dict[str, Any] | list[dict[str, Any]] | None = None
        extra: dict[str, Any] = {}

    class SubmitRequest(BaseModel):
        dataset: str
        id: int | str
        completion: str
        config: TestConfig = TestConfig()

    instrument(app, registry, config.max_body_bytes, "codescaler_sandbox", api_key(config.api_key))

    def job_limits(run_timeout: float | None, compile_timeout: float | None, memory: int | None) -> Limits:
        return replace(
            base,
            timeout=min(run_timeout or base.timeout, config.max_run_timeout),
            compile_timeout=min(compile_timeout or base.compile_timeout, config.max_compile_timeout),
            memory=min(memory, base.memory) if memory and memory > 0 else base.memory,
        )

    async def in_sandbox(call, *args):
        """``await call(*args)`` on the runner, or answer 503 when ``max_queue`` programs are already in."""
        if state["in_flight"] >= config.max_queue:
            return JSONResponse({"detail": "sandbox full"}, 503, headers={"Retry-After": "1"})
        state["in_flight"] += 1
        try:
            return await call(*args)
        finally:
            state["in_flight"] -= 1

    def bad_paths(paths: list[str]) -> JSONResponse | None:
        """422 for a file path that is absolute or climbs out of the program's working folder."""
        for path in paths:
            if inside(".", path) is None:  # the worker's own rule, checked here to answer 422 before running
                why = f"file path {path!r}: only relative paths inside the program's working folder"
                return JSONResponse({"detail": why}, 422)
        return None

    @app.post("/run_code")
    async def run_code(body: RunCodeRequest):
        try:
            language = served_language(body.language)
        except UnknownLanguage as err:
            return JSONResponse({"detail": str(err)}, 422)
        if refusal := bad_paths([*body.files, *body.fetch_files]):
            return refusal
        files = {path: content or "" for path, content in body.files.items()}
        try:
            for content in files.values():
                base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            return JSONResponse({"detail": "files: every value must be base64"}, 422)
        limits = job_limits(body.run_timeout, body.compile_timeout, body.memory_limit_MB)
        tests = [{"type": "stdio", "input": body.stdin or ""}]
        answer = await in_sandbox(runner.run_one, body.code, tests, language, limits, files, tuple(body.fetch_files))
        if isinstance(answer, JSONResponse):
            return answer
        outcome = answer[0]
        programs.labels(language, outcome.get("status", "unknown")).inc()
        return run_code_response(language, outcome)

    def problem_of(body: SubmitRequest) -> dict[str, Any]:
        """The problem to judge; LookupError when there is none by that id, ValueError for an unknown dataset."""
        data = body.config.provided_data
        if isinstance(data, list):
            data = next((p for p in data if str(p.get("id")) == str(body.id)), None)
        elif data is None:
            if body.dataset not in datasets:
                try:
                    datasets[body.dataset] = {str(p.get("id")): p for p in benchmarks.load(body.dataset)}
                except OSError as err:
                    raise ValueError(f"dataset {body.dataset!r}: {err}") from None
            data = datasets[body.dataset].get(str(body.id))
        if data is None:
            raise LookupError(f"no problem {body.id!r} in dataset {body.dataset!r} or in config.provided_data")
        if body.config.language:
            data = dict(data, language=served_language(body.config.language))
        record = dict(data, responses=[body.completion])
        return problem_parser("question", "tests", runs=True)(1, record)  # a language the sandbox runs, a test

    @app.post("/submit")
    async def submit(body: SubmitRequest):
        try:
            problem = problem_of(body)
        except LookupError as err:
            return JSONResponse({"detail": str(err)}, 404)
        except ValueError as err:
            return JSONResponse({"detail": str(err)}, 422)
        timeout = job_limits(body.config.run_timeout, None, None).timeout

        verdict = await in_sandbox(runner.judge, dict(problem, time_limit=timeout))
        if isinstance(verdict, JSONResponse):
            return verdict
        if verdict.infrastructure:  # no verdict to give: the client retries, never reads it as rejected
            detail = f"the sandbox could not run the tests: {verdict.detail}"
            return JSONResponse({"detail": detail}, 503, headers={"Retry-After": "1"})
        program, reason = program_of(problem, body.completion)
        tests = [
            {
                "passed": v == "passed",
                "exec_info": {
                    "status": "Success" if v == "passed" else "Failed",
                    "message": "" if v == "passed" else v,
                    "compile_result": None,
                    "run_result": _result(
                        "TimeLimitExceeded" if v == "timeout" else "Finished", None, int(v != "passed")
                    ),
                },
                "test_info": {"index": i},
            }
            for i, v in enumerate(verdict.verdicts)
        ]
        return {
            "id": body.id,
            "accepted": verdict.passed,
            "extracted_code": program or "",
            "full_code": program,
            "test_code": None,
            "tests": tests,
            "extracted_type": "empty" if program is None else "fenced" if "```" in body.completion else "heuristic",
            "extra": {"status": verdict.status, "detail": verdict.detail or reason, "seconds": verdict.seconds},
        }

    @app.get("/v1/ping")
    async def ping():
        return PlainTextResponse("pong")

    @app.get("/health")
    async def health():
        return {"status": "ok", "in_flight": state["in_flight"], "workers": await runner.size()}

    return app


def serve_sandbox(sandbox_limits: Limits | None = None, config: SandboxServeConfig | None = None) -> None:
    """Run the service until SIGINT/SIGTERM, letting the programs in flight finish first."""
    import uvicorn

    config = config or SandboxServeConfig()
    app = create_app(sandbox_limits, config)
    grace = config.max_run_timeout + config.max_compile_timeout
    warn_if_open(config.host, api_key(config.api_key), "codescaler serve-sandbox")
    uvicorn.run(app, host=config.host, port=config.port, log_level="warning", timeout_graceful_shutdown=int(grace))


def start_service(*flags: str, timeout: float = 60.0) -> tuple[subprocess.Popen, str]:
    """``codescaler serve-sandbox FLAGS`` in a process of its own on a free local port, once it answers:
    the process and its URL. SIGTERM stops it once the programs in flight are done."""
    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "codescaler", "serve-sandbox", "--port", str(port), *flags]
    log = tempfile.TemporaryFile()  # a file, not a pipe nobody reads, which would block the server when full
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if httpx.get(f"{url}/v1/ping").text == "pong":
                return server, url
        except httpx.TransportError:
            time.sleep(0.1)
    server.kill()
    server.wait()
    log.seek(0)
    raise RuntimeError(f"serve-sandbox did not start: {log.read().decode(errors='replace')[-2000:]}")
