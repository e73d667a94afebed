"""The sandbox worker's Python harness: runs one test of a Python program inside the jailed child.

Loaded by :mod:`codescaler.execution.worker` by its path (the package itself must not be importable by the
programs it runs); standard library only. The builtins it relies on are taken when it loads, in the worker,
before any untrusted code runs, which may patch them.
"""

import builtins
import collections
import io
import linecache
import os
import sys
import traceback
import types

# Taken before any untrusted code runs, which may patch builtins.
_exec, _compile, _isinstance, _type = exec, compile, isinstance, type


PROGRAM_FILE = "main.py"

_PLAIN = (type(None), bool, int, float, complex, str, bytes)


_CONTAINERS = (list, tuple, set, frozenset, dict)


_TRUSTED = (collections.Counter, collections.OrderedDict)


# Imported once here so that children neither pay for them nor need to read the stdlib after dropping
# privileges (on some machines the interpreter lives under a home directory the sandbox uid cannot enter).
PRELOAD = (
    "abc array bisect calendar collections collections.abc copy dataclasses datetime decimal enum "
    "fractions functools hashlib heapq itertools json math numbers operator queue random re socket "
    "statistics string sys textwrap time typing unicodedata"
).split()


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


# CPython's default depth: a program run as ``python main.py`` may recurse about this deep.
DEFAULT_RECURSION_LIMIT = 1000


# What EvalPlus's harness takes from a program before it runs it (evalplus/eval/utils.py, reliability_guard): these
# functions are None there, and these modules cannot be imported. A program that calls one (a top-level
# doctest.testmod() opens ~/.pdbrc; help() is gone) fails under EvalPlus, so under its protocol it fails here too.
_EVALPLUS_REMOVED = {
    "builtins": "exit quit open help",
    "os": "kill system putenv remove removedirs rmdir fchdir setuid fork forkpty killpg rename renames truncate "
    "replace unlink fchmod fchown chmod chown chroot lchflags lchmod lchown getcwd chdir",
    "shutil": "rmtree move chown",
    "subprocess": "Popen",
}
_EVALPLUS_BLOCKED_MODULES = ("ipdb", "joblib", "resource", "psutil", "tkinter")


def _evalplus_guard():
    for module, names in _EVALPLUS_REMOVED.items():
        target = __import__(module)
        for name in names.split():
            setattr(target, name, None)
    for module in _EVALPLUS_BLOCKED_MODULES:
        sys.modules[module] = None


def _give_default_depth():
    """Frames the harness stands on do not count against the program: it gets CPython's default depth."""
    depth, frame = 0, sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    sys.setrecursionlimit(DEFAULT_RECURSION_LIMIT + depth)


def remember_modules():
    """Import :data:`PRELOAD` and keep the modules as they are now: called once in the worker, before any fork;
    children inherit the snapshot for free."""
    global _PRISTINE_MODULES
    for name in PRELOAD:
        try:
            __import__(name)
        except ImportError:
            pass
    _PRISTINE_MODULES = _snapshot_modules()


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


def run_python(program, test, report, to_json, from_json):
    """One test of a Python program, in the jailed child. Reports a dict through ``report``; ``to_json`` and
    ``from_json`` carry values through the result channel (:mod:`codescaler.records.tagged_json`)."""
    # As `python main.py` would: its own argv, its own file name in tracebacks, never the harness's.
    sys.argv = [PROGRAM_FILE]
    linecache.cache[PROGRAM_FILE] = (len(program), None, program.splitlines(True), PROGRAM_FILE)
    try:
        code = _compile(program, PROGRAM_FILE, "exec")
    except (SyntaxError, ValueError) as err:
        return report({"status": "compile_error", "detail": str(err)[:200]})
    namespace = {"__name__": "__main__" if test["type"] == "stdio" else "__program__"}
    if test["type"] == "stdio":
        if "stdin_fd" in test:  # a fixture file, read as the program reads it, never whole by us
            os.lseek(test["stdin_fd"], 0, os.SEEK_SET)
            sys.stdin = open(test["stdin_fd"], closefd=False)
        else:
            # Bytes under text, as a real stdin: contest programs read sys.stdin.buffer for speed.
            sys.stdin = io.TextIOWrapper(io.BytesIO(test["input"].encode()), encoding="utf-8")
        buffer, errors = _CappedWriter(test["max_output"]), _CappedWriter(test["max_output"])
        sys.stdout, sys.stderr = buffer, errors

    def exited(code, detail=None):
        """A stdio run's end, as a process would report it: exit code, what it printed on both streams."""
        stdout, stderr = buffer.getvalue()[: test["max_output"]], errors.getvalue()[: test["max_output"]]
        status = "completed" if code == 0 else "runtime_error"
        return report({"status": status, "detail": detail, "stdout": stdout, "stderr": stderr, "exit_code": code})

    _give_default_depth()
    if test.get("guard") == "evalplus":
        _evalplus_guard()
    try:
        _exec(code, namespace)
        if test["type"] == "stdio":
            return exited(0)
        if test["type"] == "call":
            # The value is judged outside, as data (to_json keeps only plain values): no guard, so a recursive
            # entry point costs no extra frame per call.
            fn = _exec_eval(test["fn"], namespace)
            value = fn(*from_json(test["args"]))
            if test.get("reduce") == "not_none" and _type(value) is not bool:
                value = value is not None  # EvalPlus's oracle for values it cannot compare (a re.Match)
            return report({"status": "returned", "value": to_json(value)})
        # The checks see the entry point guarded (its value must compare as the builtin's would) in their own copy
        # of the globals; the program's functions keep theirs, so its own recursion is not wrapped.
        checks = dict(namespace)
        if test.get("entry_point") and test["entry_point"] in checks:
            checks[test["entry_point"]] = _guard(checks[test["entry_point"]])
        test_code = _compile(test["code"], "<test>", "exec")
        _restore_modules(_PRISTINE_MODULES, _names(test_code))
        checks["__builtins__"] = dict(_PRISTINE_BUILTINS)  # patched builtins do not reach the checks
        _exec(test_code, checks)
        return report({"status": "passed"})
    except SystemExit as err:
        if test["type"] == "stdio":
            code = 0 if err.code is None else err.code if _isinstance(err.code, int) else 1
            if not _isinstance(err.code, int | None):
                errors.write(str(err.code) + "\n")  # sys.exit("message") prints it, as the interpreter does
            return exited(code, None if code == 0 else f"SystemExit({err.code!r})")
        return report({"status": "runtime_error", "detail": f"SystemExit({err.code!r})"})
    except MemoryError:
        return report({"status": "memory_limit"})
    except _OutputLimit:  # what it printed first, up to the cap, as a capped stream shows it
        if test["type"] != "stdio":
            return report({"status": "output_limit"})
        cap = test["max_output"]
        return report({"status": "output_limit", "stdout": buffer.getvalue()[:cap], "stderr": errors.getvalue()[:cap]})
    except BaseException as err:  # any other failure of untrusted code
        if _isinstance(err, AssertionError) and test["type"] != "stdio":  # a check that did not hold
            return report({"status": "wrong_answer", "detail": repr(err)[:200]})
        # A stdio program is a script: an uncaught AssertionError ends it as any exception does, traceback and exit 1
        detail = f"{type(err).__name__}: {err}"[:200]
        if test["type"] == "stdio":
            errors.cap = errors.size + (1 << 16)  # room for the traceback, even after a flood of stderr
            traceback.print_exception(_type(err), err, _program_frames(err.__traceback__), file=errors)
            return exited(1, detail)
        return report({"status": "runtime_error", "detail": detail})


class _OutputLimit(BaseException):
    """Past the output cap; a BaseException so that a program's ``except Exception`` cannot swallow it."""


class _CappedWriter(io.StringIO):
    def __init__(self, cap):
        super().__init__()
        self.cap, self.size = cap, 0
        self.buffer = _BytesInto(self)  # contest programs write sys.stdout.buffer for speed

    def write(self, text):
        room = self.cap - self.size
        self.size += len(text)
        if self.size > self.cap:
            super().write(text[: max(room, 0)])  # the first bytes stay, as a capped stream keeps them
            raise _OutputLimit
        return super().write(text)


class _BytesInto(io.RawIOBase):
    """``sys.stdout.buffer`` over a text writer: bytes written are decoded into it."""

    def __init__(self, text):
        super().__init__()
        self.text = text

    def writable(self):
        return True

    def write(self, data):
        self.text.write(bytes(data).decode("utf-8", errors="replace"))
        return len(data)


def _program_frames(tb):
    """The traceback from the program's first frame on: the harness's own frames are not the program's."""
    start = tb
    while start is not None and start.tb_frame.f_code.co_filename != PROGRAM_FILE:
        start = start.tb_next
    return start or tb


def _exec_eval(expression, namespace):
    holder = {}
    _exec(f"__fn__ = {expression}", namespace, holder)
    return holder["__fn__"]


_PRISTINE_BUILTINS = dict(builtins.__dict__)
