"""Run untrusted programs against tests: a pool of warm, isolated workers.

Each worker is a small stdlib-only interpreter (:mod:`codescaler.execution.worker`) that forks one jailed
child per test: its own session and process group, its own unprivileged uid (when run as root), a fresh
network namespace (else an audit hook that blocks sockets), CPU, wall, address-space, process, file-size
and open-file limits, a scrubbed environment, a fresh temporary directory, and capped output. Forking a
warm worker costs about a millisecond, where a fresh interpreter per program costs tens. C++, Java, Go
and Rust programs are first built by a jailed child of their own; the worker then keeps the build,
read-only, for every identical source it meets (``compile_time`` is 0 then). JavaScript runs on node.

The sandbox reports what happened to each test (``passed``, ``wrong_answer`` for an assert that failed,
``timeout``, ``memory_limit``, ``runtime_error``, ``compile_error``, ``output_limit``, or for ``call``/``stdio``
tests ``returned``/``completed`` with the value or output; a ``stdio`` run also reports stderr and its exit
code), with the seconds each test took. When the sandbox itself failed (a worker died, a toolchain is
missing, a fixture cannot be read) the status is ``infrastructure``: it says nothing about the program.
A job whose worker died is retried on a fresh worker (``retries`` times) before it is reported so.
It never sees expected outputs: judging them is :mod:`codescaler.execution.verify`'s job.
"""

from __future__ import annotations

import json
import os
import queue
import socket
import subprocess
import threading
from collections.abc import Iterable, Iterator, Sized
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, cast

from codescaler.execution.sandbox_python import sandbox_python
from codescaler.execution.toolchains import toolchains, unrunnable
from codescaler.execution.uids import claim_uids

if TYPE_CHECKING:  # the sandbox itself runs on the standard library alone (a CPU worker's bare venv)
    from codescaler.records.schema import Outcome

WORKER = Path(__file__).with_name("worker.py")
JOBS_AHEAD_PER_WORKER = 512
# Most Java or Go jobs a worker takes at once, built together: one JVM (a JVM start and a cold javac per 32), or one
# `go test -c` over 32 packages (one go process and build cache; Go >= 1.21).
BUILD_BATCH = 32
BATCHED = ("java", "go")


@dataclass
class Worker:
    """One worker process and the socket that carries open fixture files to it."""

    process: subprocess.Popen[str]
    fds: socket.socket

    def close(self, kill: bool = False) -> None:
        if self.process.poll() is None:
            if kill:  # SIGTERM: the worker kills its job's processes before it goes (SIGKILL would orphan them)
                self.process.terminate()
            else:
                cast(IO[str], self.process.stdin).close()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.fds.close()


def _open_fixtures(tests: list[dict[str, Any]], fds: list[int]) -> tuple[dict[int, Outcome], list[dict[str, Any]]]:
    """Opens the files of tests whose stdin is one (``input_file``), appending them to ``fds``; returns the tests
    whose file cannot be opened, as ``infrastructure`` outcomes by index, and the tests to send, each naming its
    file by its place in ``fds``."""
    unreadable: dict[int, Outcome] = {}
    sent = []
    for i, test in enumerate(tests):
        if "input_file" not in test:
            sent.append(test)
            continue
        try:
            fd = os.open(test["input_file"], os.O_RDONLY | os.O_CLOEXEC)
        except OSError as err:
            unreadable[i] = {"status": "infrastructure", "detail": f"fixture unreadable: {err}"}
            continue
        fds.append(fd)
        sent.append({k: v for k, v in test.items() if k != "input_file"} | {"fixture": len(fds) - 1})
    return unreadable, sent


class WorkerDied(RuntimeError):
    """A worker stopped answering mid-job: the sandbox failed, not the program."""


@dataclass(frozen=True)
class Limits:
    """Per-test limits, and the Python that programs run under. Defaults suit HumanEval/MBPP-sized programs."""

    timeout: float = field(default=6.0, metadata={"help": "wall seconds per test"})
    memory: int = field(default=2048, metadata={"help": "address space (Python, C++, Rust) in MiB"})
    max_output: int = field(
        default=1 << 20, metadata={"help": "bytes of stdout+stderr; past them the program is stopped (runtime_error)"}
    )
    max_processes: int = field(default=64, metadata={"help": "processes and threads of the sandbox uid"})
    max_open_files: int = field(default=64, metadata={"help": "open file descriptors"})
    max_file_bytes: int = field(default=16 << 20, metadata={"help": "largest file a program may write"})
    compile_timeout: float = field(default=30.0, metadata={"help": "seconds to compile (C++, Java, Go, Rust)"})
    max_timeouts: int = field(
        default=2, metadata={"help": "after this many timed-out tests a program's other tests count as timeouts"}
    )
    network: Literal["namespace", "audit"] = field(
        default="namespace", metadata={"help": "namespace (kernel, needs root) or audit (Python hook)"}
    )
    python: str = field(
        default="",
        metadata={
            "help": "the interpreter Python programs run under, with its installed packages (default: this "
            "Python's standard library, numpy and sortedcontainers, never codescaler's own packages)"
        },
    )
    # A job's policy rather than a test's limit: set per job by the verifier, not a command-line flag.
    first_failure: bool = field(default=False, metadata={"flag": False})  # a job's outcomes end at its first failure
    budget: float | None = field(default=None, metadata={"flag": False})  # wall seconds for all of a job's tests

    def __post_init__(self) -> None:
        apart = ("network", "python", "first_failure", "budget")
        numbers = {k: v for k, v in asdict(self).items() if k not in apart}
        if self.budget is not None:
            numbers["budget"] = self.budget
        if self.python and not (os.path.isfile(self.python) and os.access(self.python, os.X_OK)):
            raise ValueError(f"sandbox python {self.python!r} is not an executable file")
        wrong = [f"{k.replace('_', '-')} {v}" for k, v in numbers.items() if not v > 0]
        if wrong:
            raise ValueError(f"sandbox limits must be positive, got {', '.join(wrong)}")


@dataclass(frozen=True)
class Job:
    """One program and its tests (sandbox form: no expected values); ``limits`` override the sandbox's."""

    program: str
    tests: list[dict[str, Any]]
    language: str = "python"
    limits: Limits | None = None
    # Files placed in the program's working folder first (relative path -> base64 content), and files read back
    # from it after its last test (relative paths): they come back on the job's last outcome as ``files``.
    files: dict[str, str] = field(default_factory=dict)
    fetch_files: tuple[str, ...] = ()


class Sandbox:
    """A pool of warm workers. Use as a context manager; ``run`` keeps input order. Safe to call from many
    threads at once (a server's requests): each job takes a free worker and gives it back."""

    def __init__(
        self, workers: int | None = None, limits: Limits | None = None, retries: int = 2, warm_compilers: bool = True
    ) -> None:
        self.limits = limits or Limits()
        self.retries = retries  # a job whose worker died runs again on a fresh one, this many times at most
        # Java and Go: batches built together (False: a compiler call per program)
        self.warm_compilers = warm_compilers
        self.size = workers or os.cpu_count() or 1
        self._python = sandbox_python(self.limits.python)  # every worker, and every restart, runs this
        # Every worker gets its own uid, so "kill every process of this uid" touches nothing else.
        self._uid_locks = dict(zip(*claim_uids(self.size)))  # uid -> the open file that holds it
        self.uids = list(self._uid_locks)
        self._workers = [self._start(uid) for uid in self.uids]
        self._free: queue.Queue[int] = queue.Queue()
        for slot in range(self.size):
            self._free.put(slot)
        self.cpu_seconds = 0.0  # CPU time of the programs run so far (user + system, all workers)
        self._closed = False

    def _start(self, uid: int) -> Worker:
        # Jobs go down stdin as JSON lines; open fixture files go down this socket beside them (SCM_RIGHTS), so
        # a 200 MB input reaches the program's stdin without being read by us, by the worker, or through a path
        # the worker's private view of the disk may not show.
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        tools = toolchains()
        if not self.warm_compilers:
            tools = {k: v for k, v in tools.items() if k not in ("javac_server", "go_batches")}
        # The worker holds its uid's lock too: were this process killed, the kernel would free the uid while the
        # worker finishes its job and sweeps the uid, and so the programs of whichever sandbox took it next.
        python, python_env = self._python
        process = subprocess.Popen(
            # A declared environment: by default the standard library alone (-S: no site-packages, so what
            # codescaler installs, torch or Ray, never decides a verdict); with `python`, that interpreter and its
            # packages (-s: no user site). Not -I, which would ignore PYTHONHASHSEED: a fixed seed makes set order
            # the same in every worker, so a reference's output computed in one matches another's. The
            # environment is given whole, so no other PYTHON* variable leaks in.
            [*python, str(WORKER), str(uid), str(theirs.fileno())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            pass_fds=(theirs.fileno(), self._uid_locks[uid]),
            env={
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "LANG": "C.UTF-8",
                "PYTHONHASHSEED": "0",
                "CODESCALER_TOOLCHAINS": json.dumps(tools),
                **python_env,
            },
        )
        theirs.close()
        return Worker(process, ours)

    def _ask(self, jobs: list[Job]) -> list[list[Outcome]]:
        """Each job's outcomes, from the first free worker, in one message. When the sandbox fails rather than
        the program, every test is ``infrastructure`` with the reason; a dead worker is replaced and its jobs
        retried first."""
        answers: dict[int, list[Outcome]] = {}
        runnable = []
        for i, job in enumerate(jobs):
            reason = unrunnable(job.language)
            if reason:
                answers[i] = [{"status": "infrastructure", "detail": reason} for _ in job.tests]
            else:
                runnable.append(i)
        reason = None
        for _ in range(self.retries + 1 if runnable else 0):
            slot = self._free.get()
            try:
                answers.update(zip(runnable, self._ask_worker(slot, [jobs[i] for i in runnable])))
                break
            except WorkerDied as err:
                reason = f"sandbox worker died: {err}"
            except Exception as err:
                reason = f"sandbox error: {type(err).__name__}: {err}"
            finally:
                self._free.put(slot)
        else:
            for i in runnable:
                answers[i] = [{"status": "infrastructure", "detail": reason} for _ in jobs[i].tests]
        return [answers[i] for i in range(len(jobs))]

    def _ask_worker(self, slot: int, jobs: list[Job]) -> list[list[Outcome]]:
        worker = self._workers[slot]
        fixtures: list[int] = []
        opened = [_open_fixtures(job.tests, fixtures) for job in jobs]
        message = {
            "jobs": [
                {
                    "program": job.program,
                    "tests": tests,
                    "language": job.language,
                    "limits": asdict(job.limits or self.limits),
                    "files": job.files,
                    "fetch_files": list(job.fetch_files),
                }
                for job, (_, tests) in zip(jobs, opened)
            ],
            "fds": len(fixtures),
        }
        stdin, stdout = cast(IO[str], worker.process.stdin), cast(IO[str], worker.process.stdout)
        try:
            if fixtures:
                socket.send_fds(worker.fds, [b"f"], fixtures)
            stdin.write(json.dumps(message) + "\n")
            stdin.flush()
            reply = json.loads(stdout.readline())
        except (OSError, ValueError) as err:
            # A worker that died is replaced (unless the sandbox is closing); the caller retries its jobs.
            worker.close(kill=True)
            if not self._closed:
                self._workers[slot] = self._start(self.uids[slot])
            raise WorkerDied(f"{type(err).__name__}: {err}" if str(err) else type(err).__name__) from err
        finally:
            for fd in fixtures:
                os.close(fd)
        if "error" in reply:
            raise RuntimeError(reply["error"])
        out: list[list[Outcome]] = []
        for job, (unreadable, _), answer in zip(jobs, opened, reply["answers"]):
            if "error" in answer:
                detail = f"sandbox error: {answer['error']}"
                out.append([{"status": "infrastructure", "detail": detail} for _ in job.tests])
                continue
            self.cpu_seconds += answer.get("cpu", 0.0)  # float += under the GIL: threads may interleave, not lose
            ran: Iterator[Outcome] = iter(answer["outcomes"])
            outcomes: list[Outcome] = []
            for i in range(len(job.tests)):  # a first-failure job's outcomes end at its first failure
                outcome = unreadable.get(i) or next(ran, None)
                if outcome is None:
                    break
                outcomes.append(outcome)
            if job.fetch_files and outcomes:
                outcomes[-1]["files"] = answer.get("files", {})
            out.append(outcomes)
        return out

    def run(self, jobs: Iterable[Job]) -> Iterator[list[Outcome]]:
        """Outcomes per job (one dict per test), in input order, computed on every worker at once. Consecutive
        Java jobs go to one worker together, which compiles them in one JVM (``warm_compilers``)."""
        todo: queue.Queue = queue.Queue()
        results: dict[int, list[Outcome]] = {}
        done = threading.Condition()
        stop = object()

        def serve() -> None:
            while (item := todo.get()) is not stop:
                indices, batch = item
                outcomes = self._ask(batch)
                with done:
                    results.update(zip(indices, outcomes))
                    done.notify_all()

        threads = [threading.Thread(target=serve, daemon=True) for _ in range(self.size)]
        for t in threads:
            t.start()

        def take(index: int) -> list[Outcome]:
            with done:
                done.wait_for(lambda: index in results)
                return results.pop(index)

        batch: list[tuple[int, Job]] = []

        def send() -> None:
            if batch:
                todo.put(([i for i, _ in batch], [job for _, job in batch]))
                batch.clear()

        # Spread a known number of Java and Go jobs over every worker; a stream goes in full batches.
        batched = sum(job.language in BATCHED for job in jobs) if isinstance(jobs, Sized) else BUILD_BATCH * self.size
        size = max(1, min(BUILD_BATCH, -(-batched // self.size))) if self.warm_compilers else 1
        count = next_out = 0
        try:
            # Feed lazily and yield in order as results arrive. The window is wide because results leave
            # in order: while one job runs to its timeout, the other workers go on through the jobs
            # behind it (a few hundred each at HumanEval sizes) instead of waiting for it.
            for job in jobs:
                if (
                    job.language not in BATCHED
                    or len(batch) >= size
                    or (batch and batch[0][1].language != job.language)
                ):
                    send()
                batch.append((count, job))
                if job.language not in BATCHED:
                    send()
                count += 1
                if count - next_out >= JOBS_AHEAD_PER_WORKER * self.size:
                    send()  # before waiting on a result that may sit in it
                    yield take(next_out)
                    next_out += 1
            send()
            while next_out < count:
                yield take(next_out)
                next_out += 1
        finally:
            for _ in threads:
                todo.put(stop)

    def run_one(
        self,
        program: str,
        tests: list[dict[str, Any]],
        language: str = "python",
        limits: Limits | None = None,
        files: dict[str, str] | None = None,
        fetch_files: tuple[str, ...] = (),
    ) -> list[Outcome]:
        """One job's outcomes, on the first free worker (``files``, ``fetch_files``: see :class:`Job`)."""
        return self._ask([Job(program, tests, language, limits, files or {}, tuple(fetch_files))])[0]

    def worker_pids(self) -> list[int]:
        """The workers' process ids (for load tests that kill one: the pool replaces it and retries its job)."""
        return [worker.process.pid for worker in self._workers]

    def close(self, kill: bool = False) -> None:
        """Ends the workers: once idle, or at once with ``kill`` (each stops its job and kills what its program
        started, so nothing outlives the sandbox)."""
        self._closed = True
        for worker in self._workers:
            worker.close(kill)
        # Only now that no worker (and so no program) runs under them may another sandbox take the uids.
        for fd in self._uid_locks.values():
            os.close(fd)
        self._uid_locks = {}

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        self.close(kill=kind is not None)  # an error or a signal midway: the jobs in hand are not waited for
