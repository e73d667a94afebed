"""The sandbox worker's jail: the operating-system side of isolation, standard library only.

In the worker, once: no network and a private view of the disk (:func:`isolate_worker`). In each forked child,
before any untrusted code: its own session, uid, limits and environment (:func:`enter_jail`). After each job:
every process of the uid killed and reaped (:func:`sweep`). Loaded by :mod:`codescaler.execution.worker` by its
path.
"""

import ctypes
import os
import resource
import signal
import sys
import time

CLONE_NEWNET, CLONE_NEWNS = 0x40000000, 0x00020000


MS_RDONLY, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 32, 4096, 16384, 1 << 18


PR_SET_CHILD_SUBREAPER = 36


IS_ROOT = os.geteuid() == 0


_LIBC = ctypes.CDLL(None, use_errno=True)


# Languages whose runtimes reserve far more address space than they use: their heaps are capped by flags.
_UNCAPPED_ADDRESS_SPACE = ("java", "javascript", "go")


def _block_network(event, args):
    if event in ("socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo"):
        raise PermissionError(f"network access is blocked in the sandbox ({event})")


def enter_jail(uid, work, limits, language, environment):
    """Runs in the forked child, before any untrusted code. ``environment``: variables the language's runtime
    needs beside the scrubbed ones."""
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
    os.environ.update(environment)
    if limits["network"] == "audit" or not _NETWORK_ISOLATED:
        sys.addaudithook(_block_network)


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


def sweep(uid):
    """Kill every process of ``uid`` and reap it. A fork bomb can fork between two signals, so
    sweep until nothing is left; with no descendants alive (the usual case) this costs one syscall."""
    for _ in range(1000):
        if not _has_children():
            return
        if IS_ROOT:
            _kill_uid(uid)
        else:
            _kill_children()
        time.sleep(0.001)


def _kill_uid(uid):
    """SIGKILL to every process of ``uid`` (root only); True when there was one."""
    pid = os.fork()
    if pid == 0:
        code = 2
        try:
            os.setuid(uid)
            os.kill(-1, signal.SIGKILL)
            code = 0
        except ProcessLookupError:
            code = 1
        finally:
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0


def clear_uid(uid):
    """At a worker's start: kill what an earlier worker of ``uid`` left running, which is not our descendant
    and so beyond :func:`sweep` (the orphans of a worker killed mid-job). They would share our programs' process
    limit, and could signal them. A zombie no one reaps still takes a signal, hence the bound."""
    if not IS_ROOT:
        return
    for _ in range(10):
        if not _kill_uid(uid):
            return
        time.sleep(0.001)


def _kill_children():
    """Without root there is no uid of our own to sweep: kill our direct children (orphans come back
    to us as subreaper), and the loop in :func:`sweep` takes the next generation."""
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


_NETWORK_ISOLATED = False  # set once, in the worker, before any fork


def _mount(source, target, fstype, flags, data=None):
    if _LIBC.mount(source, target, fstype, flags, data) != 0:
        raise OSError(ctypes.get_errno(), f"mount {target}")


def _paths_to_keep(extra):
    """The interpreter's own folders (prefixes and every import path) that a private /tmp or an empty
    /root would hide: a venv under /tmp, as CI runners and containers make, or a Python under /root.
    Nested ones are covered by the folder that holds them."""
    hidden = (b"/tmp", b"/root")
    found = set()
    for path in (sys.prefix, sys.base_prefix, sys.exec_prefix, *sys.path, *extra):
        if path and os.path.isdir(path):
            real = os.path.realpath(path).encode()
            if any(real == h or real.startswith(h + b"/") for h in hidden):
                found.add(real)
    return sorted(p for p in found if not any(p.startswith(q + b"/") for q in found if q != p))


def _loopback_up():
    """Bring up ``lo`` in the worker's fresh network namespace: a program may serve and call itself on 127.0.0.1
    (as under SandboxFusion), while the namespace still has no route to anything outside it."""
    import fcntl
    import socket
    import struct

    siocsifflags, iff_up = 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            fcntl.ioctl(s, siocsifflags, struct.pack("16sH14x", b"lo", iff_up))
        except OSError:
            pass  # loopback stays down: programs that need it fail, nothing else does


def isolate_worker(keep=()):
    """As root: give this worker (and so its children) no network and a private view of the disk.

    A private /tmp and an empty /root stop programs from reading or leaving files there; the
    interpreter's prefixes and import paths that lived there, and the folders in ``keep``, are bound back
    in, read-only. Also makes the worker the subreaper of every process its children leave behind.
    """
    _LIBC.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    if not IS_ROOT:
        return
    global _NETWORK_ISOLATED
    _NETWORK_ISOLATED = _LIBC.unshare(CLONE_NEWNET) == 0
    if _NETWORK_ISOLATED:
        _loopback_up()
    if _LIBC.unshare(CLONE_NEWNS) != 0:
        return
    try:
        _mount(b"none", b"/", None, MS_REC | MS_PRIVATE)
        keep = _paths_to_keep(keep)
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
