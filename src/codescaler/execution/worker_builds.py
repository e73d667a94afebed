"""The sandbox worker's builds: each distinct source compiled once, kept read-only, reused by every identical
program; Java sources of several jobs compiled together in one JVM; a built program's runs. Standard library only;
loaded by :mod:`codescaler.execution.worker` by its path, which hands it the jail and the toolchains (``jail``,
``toolchains``) it loaded, so that both share one state.
"""

import collections
import hashlib
import os
import re
import select
import shutil
import signal
import subprocess
import tempfile
import time

jail = toolchains = None  # set by the worker that loads this module

# Programs the sandbox uid runs are built elsewhere and kept read-only: built once per worker, reused by
# every identical source (a pool's duplicates, a program's tests sharing one harness).
BUILDS = os.path.join(tempfile.gettempdir(), f"codescaler-builds-{os.getpid()}")


MAX_BUILD_BYTES = 256 << 20  # per worker; as root they live in its private /tmp, a tmpfs, so in memory


_built: collections.OrderedDict = collections.OrderedDict()  # key -> (folder, bytes), least recently used first
# From a batch (prebuild_java), for the job that comes right after it: why a source failed, what one took.
_failed_builds: dict = {}
_batch_compile_time: dict = {}


def _tree(folder):
    for root, dirs, files in os.walk(folder):
        yield root
        yield from (os.path.join(root, name) for name in dirs + files)


def _build_key(language, source, fix_imports):
    return hashlib.sha1(f"{language}\0{bool(fix_imports)}\0{source}".encode()).hexdigest()


def _build_folder(uid, work, key):
    folder = os.path.join(work, "build-" + key)
    os.mkdir(folder)
    return folder


def _hand_over(folder, uid):
    if jail.IS_ROOT:
        for name in _tree(folder):
            os.lchown(name, uid, uid)


def build(uid, work, language, source, fix_imports, limits, run_jailed):
    """``(folder, {"compile_time": seconds})`` with ``source`` built in ``folder`` (0 s when an identical
    build was reused), or ``(None, outcome)`` saying why it did not build.

    Built by a jailed child like any test (``run_jailed``: the worker's way to run one), then taken over by
    the worker and made read-only before any program runs, so a program cannot change what an identical
    program later runs.
    """
    key = _build_key(language, source, fix_imports)
    if key in _built:
        _built.move_to_end(key)
        return _built[key][0], {"compile_time": _batch_compile_time.pop(key, 0.0)}
    if key in _failed_builds:  # compiled in a batch just before this job (prebuild_java)
        return None, _failed_builds.pop(key)
    folder = _build_folder(uid, work, key)
    if language == "go" and toolchains.TOOLS.get("go_cache"):
        # A private copy of a warm cache: builds take 0.3 s instead of 6, and no build sees another's.
        shutil.copytree(toolchains.TOOLS["go_cache"], os.path.join(folder, ".gocache"))
    _hand_over(folder, uid)
    build_limits = dict(limits, timeout=limits["compile_timeout"], max_output=1 << 20)
    request = {"type": "build", "source": source, "fix_imports": bool(fix_imports)}
    outcome = run_jailed(uid, folder, language, "", [request], build_limits)[0]
    jail.sweep(uid)
    spent = {"compile_time": outcome.pop("time", 0.0)}
    if outcome["status"] != "built":
        if outcome["status"] == "timeout":
            detail = f"compile timed out ({limits['compile_timeout']} s)"
            outcome = dict(outcome, status="compile_error", detail=detail, compile_timed_out=True)
        return None, dict(outcome, **spent)
    return _keep(key, folder), spent


def _keep(key, folder):
    """Take a finished build over: root's, read-only, in the least-recently-used cache of builds."""
    kept = os.path.join(BUILDS, key)
    os.makedirs(BUILDS, exist_ok=True)
    os.rename(folder, kept)
    size = 0
    for name in _tree(kept):
        if jail.IS_ROOT:
            os.lchown(name, 0, 0)
        if not os.path.islink(name):
            info = os.stat(name)
            os.chmod(name, info.st_mode & 0o555 | 0o444)
            size += info.st_size
    _built[key] = (kept, size)
    while sum(b for _, b in _built.values()) > MAX_BUILD_BYTES and len(_built) > 1:
        oldest, _ = _built.popitem(last=False)[1]
        shutil.rmtree(oldest, ignore_errors=True)
    return kept


def prebuild_java(uid, work, sources, limits):
    """Compile ``sources`` in one JVM (:file:`CodescalerJavac.java`, jailed as any build), so the jobs that
    follow find them built. What did not compile is remembered with javac's log; what the batch did not reach
    (a hang past ``compile_timeout``, a crash) is left to the one-at-a-time path."""
    server = toolchains.TOOLS.get("javac_server")
    pending = {}
    for source in sources:
        key = _build_key("java", source, False)
        if key in _built or key in _failed_builds or key in pending:
            continue
        folder = _build_folder(uid, work, key)
        filename = toolchains.toolchain("java", source, folder)[0]
        with open(os.path.join(folder, filename), "w") as f:
            f.write(source)
        _hand_over(folder, uid)
        pending[key] = (folder, filename)
    if not server or len(pending) < 2:  # one source builds as fast the usual way
        for folder, _ in pending.values():
            shutil.rmtree(folder, ignore_errors=True)
        return
    libs = ":".join(toolchains.TOOLS.get("java_libs") or [])
    requests = "".join(f"{folder}\t{filename}\t{libs}\n" for folder, filename in pending.values()).encode()
    request_r, request_w = os.pipe()
    reply_r, reply_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.dup2(request_r, 0)
            os.dup2(reply_w, 1)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            os.closerange(3, 65536)
            batch_limits = dict(limits, timeout=limits["compile_timeout"], batch=len(pending))
            jail.enter_jail(uid, work, batch_limits, "java", {})
            # C1 only: a JVM that lives for one batch is done before C2 would pay for itself.
            jvm = ["-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:-UsePerfData"]
            os.execvp("java", ["java", *jvm, "-cp", server, "CodescalerJavac"])
        finally:
            os._exit(127)
    os.close(request_r)
    os.close(reply_w)
    os.write(request_w, requests)  # a few hundred bytes a source: well within a pipe's buffer
    os.close(request_w)
    reply, started = b"", time.monotonic()
    try:
        for key, (folder, _) in pending.items():
            while True:  # one answer: "<code>\t<length>\n" and the log
                head, newline, rest = reply.partition(b"\n")
                if newline and len(rest) >= int(head.split(b"\t")[1]):
                    break
                if not select.select([reply_r], [], [], limits["compile_timeout"])[0]:
                    raise TimeoutError
                chunk = os.read(reply_r, 65536)
                if not chunk:
                    raise EOFError
                reply += chunk
            code, length = map(int, head.split(b"\t"))
            log, reply = rest[:length], rest[length:]
            now = time.monotonic()
            spent, started = round(now - started, 4), now
            if code == 0:
                _keep(key, folder)
                _batch_compile_time[key] = spent
            else:
                outcome = {"status": "compile_error", "detail": log.decode(errors="replace")[-2000:]}
                _failed_builds[key] = dict(outcome, compile_time=spent)
                shutil.rmtree(folder, ignore_errors=True)
    except (TimeoutError, EOFError, ValueError, IndexError):
        pass  # what is left builds one at a time
    finally:
        os.close(reply_r)
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
        jail.sweep(uid)
        for folder, _ in pending.values():
            shutil.rmtree(folder, ignore_errors=True)  # the ones neither kept nor failed


_GO_TEST = re.compile(r"^func Test\w*\(", re.MULTILINE)


def prebuild_go(uid, work, sources, limits):
    """Build Go test sources ``(source, fix_imports)`` in one ``go test -c -o out/ ./p0 ./p1 ...`` (Go >= 1.21:
    one process, one build cache, the links in parallel; each package apart, so programs stay apart), jailed as
    any build. What did not build is left to the one-at-a-time path, which reports its compiler's message."""
    if not toolchains.TOOLS.get("go_batches"):
        return
    pending = {}
    for source, fix in sources:
        key = _build_key("go", source, fix)
        if key not in _built and key not in pending and _GO_TEST.search(source):
            pending[key] = (source, fix)
    if len(pending) < 2:
        return
    root = os.path.join(work, "go-batch")
    os.mkdir(root)
    for i, (source, _) in enumerate(pending.values()):
        os.mkdir(os.path.join(root, f"p{i}"))
        with open(os.path.join(root, f"p{i}", "main_test.go"), "w") as f:
            f.write(source)
    if toolchains.TOOLS.get("go_cache"):
        shutil.copytree(toolchains.TOOLS["go_cache"], os.path.join(root, ".gocache"))
    _hand_over(root, uid)
    fixes = [f"p{i}/main_test.go" for i, (_, fix) in enumerate(pending.values()) if fix]
    go = [toolchains.TOOLS.get("go") or "go", "test", "-c", "-vet=off", "-ldflags=-s -w", "-o", "out/"]
    commands = ([["goimports", "-w", *fixes]] if fixes else []) + [go + [f"./p{i}" for i in range(len(pending))]]
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            os.closerange(3, 65536)
            jail.enter_jail(uid, root, dict(limits, timeout=limits["compile_timeout"], batch=len(pending)), "go", {})
            for command in commands:  # go's exit status says only that some package failed: the binaries tell which
                subprocess.run(command, env=toolchains.build_env(root), check=False)
        finally:
            os._exit(0)
    deadline = started + limits["compile_timeout"] * (1 + len(pending) / 8)
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        if time.monotonic() > deadline:
            os.killpg(pid, signal.SIGKILL)  # the leader of its session (enter_jail's setsid): its builds go too
            os.waitpid(pid, 0)
            break
        time.sleep(0.02)
    jail.sweep(uid)
    spent = round((time.monotonic() - started) / len(pending), 4)  # the batch's time, shared
    for i, key in enumerate(pending):
        binary = os.path.join(root, "out", f"p{i}.test")
        if os.path.exists(binary):
            folder = _build_folder(uid, work, key)
            os.rename(binary, os.path.join(folder, "main"))
            _keep(key, folder)
            _batch_compile_time[key] = spent
    shutil.rmtree(root, ignore_errors=True)


def forget_batch():
    """After a message's jobs: what a batch left for them is theirs only."""
    _failed_builds.clear()
    _batch_compile_time.clear()


# How each runtime says it ran out of memory under its limit (RLIMIT_AS, -Xmx, node's heap cap): C++'s
# bad_alloc, Rust's failed allocation, Go's runtime, the JVM and V8. A program that prints one of these and
# fails is told memory_limit rather than runtime_error; either way it failed.
_OUT_OF_MEMORY = re.compile(
    r"std::bad_alloc|memory allocation of \d+ bytes failed|runtime: out of memory|"
    r"java\.lang\.OutOfMemoryError|JavaScript heap out of memory|Cannot allocate memory"
)


def _head(path, cap):
    with open(path, "rb") as f:
        return f.read(cap).decode(errors="replace")


def _tail(path, cap):
    with open(path, "rb") as f:
        return f.read()[-cap:].decode(errors="replace")


def build_in_child(language, source, fix_imports, report):
    """Compile ``source`` in the current (build) folder; the parent keeps what it made."""
    filename, builds, _ = toolchains.toolchain(language, source, os.getcwd(), fix_imports)
    with open(filename, "w") as f:
        f.write(source)
    with open(".build-log", "wb") as log:  # a file, capped by RLIMIT_FSIZE: C++ errors can run to megabytes
        for build in builds:
            env = toolchains.build_env(os.getcwd())
            done = subprocess.run(build, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
            if done.returncode != 0:
                return report({"status": "compile_error", "detail": _tail(".build-log", 2000)})
    shutil.rmtree(".gocache", ignore_errors=True)  # what is kept is the program, not the compiler's cache
    os.remove(".build-log")
    return report({"status": "built"})


def run_built(run, test, report, limits):
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
