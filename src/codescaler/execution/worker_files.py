"""The sandbox worker's files of a job: placed in the program's fresh working folder before it runs, and read back
after it ran (SandboxFusion's ``files`` and ``fetch_files``). Loaded by the worker by its path; standard library
only. The worker runs as root: nothing here follows a link or leaves the working folder."""

import base64
import os
import stat


def inside(work, relative):
    """``work/relative`` if ``relative`` is a plain relative path that stays inside ``work``, else None."""
    if not relative or os.path.isabs(relative) or ".." in relative.replace("\\", "/").split("/"):
        return None
    return os.path.join(work, os.path.normpath(relative))


def place_files(uid, work, files, as_root):
    """The job's files in the fresh working folder, the program's to read and change."""
    for relative, content in files.items():
        path = inside(work, relative)
        if path is None:
            raise ValueError(f"file path {relative!r} is not a relative path inside the working folder")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(base64.b64decode(content or ""))
    if files and as_root:
        for folder, _, names in os.walk(work):
            os.chown(folder, uid, uid)
            for name in names:
                os.chown(os.path.join(folder, name), uid, uid)


def fetch_files(work, names, cap):
    """The asked files the program left, base64, each a regular file inside ``work`` read through no link and cut
    at ``cap`` bytes; a missing one is left out, as SandboxFusion leaves it out."""
    found = {}
    root = os.path.realpath(work)
    for relative in names:
        path = inside(work, relative)
        if path is None or not os.path.realpath(path).startswith(root + os.sep):
            continue
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            continue
        with os.fdopen(fd, "rb") as f:
            if stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                found[relative] = base64.b64encode(f.read(cap)).decode()
    return found
