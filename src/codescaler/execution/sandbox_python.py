"""The Python that sandboxed programs run under: a declared environment, never codescaler's own by accident.

By default it is this interpreter with no site-packages (``-S``) and one import path, :func:`sandbox_site`, that
holds :data:`SANDBOX_PACKAGES` alone; ``Limits.python`` names another interpreter, with its own packages.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from codescaler.execution.toolchains import cache_dir

# The packages a program may import under the default sandbox Python, beside the standard library: what the
# reference harnesses' own environments give programs (EvalPlus installs numpy; LeetCode-style solutions import
# sortedcontainers), taken from this environment where installed. Nothing else of it (torch, Ray) is importable.
SANDBOX_PACKAGES = ("numpy", "sortedcontainers")


def sandbox_site() -> Path:
    """A folder that holds links to :data:`SANDBOX_PACKAGES` as installed here (each package's folder, and the
    shared libraries a wheel ships beside it), and nothing else: the default sandbox's one import path."""
    import importlib.util

    links: dict[str, str] = {}
    for name in SANDBOX_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            continue
        folder = Path(list(spec.submodule_search_locations)[0])
        links[name] = str(folder)
        if (folder.parent / f"{name}.libs").is_dir():  # manylinux wheels keep their .so files beside the package
            links[f"{name}.libs"] = str(folder.parent / f"{name}.libs")
    site = cache_dir() / "sandbox-site" / hashlib.sha1(json.dumps(links, sort_keys=True).encode()).hexdigest()[:12]
    if not site.is_dir():
        partial = site.with_name(f"{site.name}.{os.getpid()}")
        partial.mkdir(parents=True, exist_ok=True)
        for name, target in links.items():
            (partial / name).symlink_to(target)
        try:
            os.replace(partial, site)
        except OSError:  # another process made it first
            shutil.rmtree(partial, ignore_errors=True)
    return site


def sandbox_python(python: str = "") -> tuple[list[str], dict[str, str]]:
    """The command line of the interpreter the workers run, and what its environment adds: ``python`` (a
    sandbox's ``Limits.python``) with its packages, or by default this Python with no site-packages (-S) and
    :func:`sandbox_site` alone."""
    if python:
        return [python, "-s"], {}
    return [sys.executable, "-S"], {"PYTHONPATH": str(sandbox_site())}


def describe_python(python: str = "") -> dict[str, Any]:
    """What the sandbox's Python is, for a run's metadata: the interpreter, its version and its packages (none
    beyond the standard library by default). Raises ValueError naming an interpreter that cannot serve."""
    probe = (
        "import json, sys, importlib.metadata as m\n"
        "print(json.dumps({'version': sys.version.split()[0], 'ok': sys.version_info >= (3, 10), 'packages': "
        "sorted(f\"{d.metadata['Name']}=={d.version}\" for d in m.distributions())}))"
    )
    command, env = sandbox_python(python)
    try:
        done = subprocess.run(
            [*command, "-c", probe], capture_output=True, text=True, timeout=60, env={"PATH": os.environ["PATH"], **env}
        )
        found = json.loads(done.stdout)
    except (OSError, ValueError, subprocess.TimeoutExpired) as err:
        raise ValueError(f"sandbox python {python!r} cannot run: {err}") from None
    if not found["ok"]:
        raise ValueError(f"sandbox python {python!r} is Python {found['version']}: the sandbox needs >= 3.10")
    packages = found["packages"]
    if not python:  # the default site's links carry no metadata: the versions installed here
        import importlib.metadata

        linked = {p.name for p in sandbox_site().iterdir()}
        packages = [f"{n}=={importlib.metadata.version(n)}" for n in SANDBOX_PACKAGES if n in linked]
    return {"python": python or sys.executable, "version": found["version"], "packages": packages}
