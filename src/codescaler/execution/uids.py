"""Sandbox uids: one per worker, held by a lock file while the worker runs under it."""

import fcntl
import os
import tempfile

# Sandbox uids: FIRST_UID up to FIRST_UID + UID_RANGE.
FIRST_UID, UID_RANGE = 200_000, 65_536


def uid_lock_dir() -> str:
    """Where the lock files that hold sandbox uids live (one per uid, named by it)."""
    return os.environ.get("CODESCALER_UID_LOCKS", os.path.join(tempfile.gettempdir(), "codescaler-sandbox-uids"))


def claim_uids(count: int) -> tuple[list[int], list[int]]:
    """``count`` uids no other live sandbox on this machine holds, and the lock files that hold them.

    A timed-out test is ended by killing every process of its uid, so two sandboxes sharing a uid could
    kill each other's programs. Each uid is held by an exclusive ``flock`` on its own file: taken by one
    open file at a time, in this process or any other, and dropped by the kernel when the holder closes
    it or dies, so a crashed pool leaves nothing stale.
    """
    folder = uid_lock_dir()
    os.makedirs(folder, mode=0o1777, exist_ok=True)
    uids, fds = [], []
    for uid in range(FIRST_UID, FIRST_UID + UID_RANGE):
        fd = os.open(os.path.join(folder, str(uid)), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        uids.append(uid)
        fds.append(fd)
        if len(uids) == count:
            return uids, fds
    for fd in fds:
        os.close(fd)
    raise RuntimeError(f"no {count} free sandbox uids in {folder}: {UID_RANGE} are held by running sandboxes")
