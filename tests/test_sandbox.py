"""Hostile programs: each must get its verdict, do no harm, and leave the pool working.

Harm is checked from the host side: files outside the work directory, host processes, leftover
processes of the sandbox uids, secrets in the environment.
"""

import fcntl
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from codescaler.execution import sandbox as sandbox_module
from codescaler.execution import uids as uids_module
from codescaler.execution.sandbox import Job, Limits, Sandbox
from codescaler.execution.toolchains import missing_languages

SECRET = "codescaler-test-secret-" + uuid.uuid4().hex
MARK = f"/tmp/codescaler-hostile-{uuid.uuid4().hex}"
ROOTED = os.geteuid() == 0
PASS = [{"type": "assert", "code": "pass"}]
F_TESTS = [{"type": "assert", "code": "assert f(2) == 4", "entry_point": "f"}]


@pytest.fixture(scope="module")
def sandbox():
    os.environ["CODESCALER_SECRET"] = SECRET
    with Sandbox(workers=2, limits=Limits(timeout=2.0, memory=512, max_output=64 * 1024)) as sb:
        yield sb
    del os.environ["CODESCALER_SECRET"]


def leftover_processes(sb: Sandbox) -> list[int]:
    pids = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            uid_line = next(line for line in status.read_text().splitlines() if line.startswith("Uid:"))
        except (OSError, StopIteration):
            continue
        if int(uid_line.split()[1]) in sb.uids:
            pids.append(int(status.parent.name))
    return pids


def verdicts(sb, program, tests=PASS, language="python"):
    return [o["status"] for o in sb.run_one(program, tests, language)]


# (name, program, tests, expected verdicts)
HOSTILE = [
    ("infinite loop", "while True:\n    pass", PASS, ["timeout"]),
    ("sleep forever", "import time\ntime.sleep(10**6)", PASS, ["timeout"]),
    ("loop in test", "def f(x):\n    while True: pass", F_TESTS, ["timeout"]),
    (
        "ignores SIGTERM",
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(100)",
        PASS,
        ["timeout"],
    ),
    (
        "busy threads",
        "import threading\nfor _ in range(4):\n    threading.Thread(target=lambda: [0 for _ in iter(int, 1)]).start()\n"
        "import time\ntime.sleep(100)",
        PASS,
        ["timeout"],
    ),
    ("memory bomb", "x = bytearray(10**10)", PASS, ["memory_limit"]),
    ("growing list", "x = []\nwhile True:\n    x.append(' ' * 10**6)", PASS, ["memory_limit"]),
    ("huge output", "while True:\n    print('x' * 1000)", PASS, ["output_limit"]),
    ("huge stderr", "import sys\nwhile True:\n    sys.stderr.write('y' * 1000)", PASS, ["output_limit"]),
    ("huge stdio output", "while True:\n    print('z' * 1000)", [{"type": "stdio", "input": ""}], ["output_limit"]),
    (
        "fork bomb",
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",
        PASS,
        ["timeout"],
    ),
    (
        "thread bomb",
        "import threading, time\nwhile True:\n    threading.Thread(target=time.sleep, args=(100,)).start()",
        PASS,
        ["runtime_error"],
    ),
    ("recursion bomb", "def r(n):\n    return r(n + 1)\nr(0)", PASS, ["runtime_error"]),
    ("segfault via ctypes", "import ctypes\nctypes.string_at(0)", PASS, ["runtime_error"]),
    ("os._exit(0) before tests", "import os\nos._exit(0)", F_TESTS, ["runtime_error"]),
    ("sys.exit(0) before tests", "import sys\nsys.exit(0)", F_TESTS, ["runtime_error"]),
    ("exit(0) inside the function", "def f(x):\n    raise SystemExit(0)", F_TESTS, ["runtime_error"]),
    ("abort", "import os\nos.abort()", PASS, ["runtime_error"]),
    (
        "always-equal object",
        "class A:\n    def __eq__(self, o): return True\ndef f(x):\n    return A()",
        F_TESTS,
        ["runtime_error"],
    ),
    (
        "int subclass that equals all",
        "class I(int):\n    def __eq__(self, o): return True\ndef f(x):\n    return I(0)",
        F_TESTS,
        ["runtime_error"],
    ),
    (
        "patched builtins",
        "import builtins\nbuiltins.len = lambda x: 4\ndef f(x):\n    return 0",
        [{"type": "assert", "code": "assert len([1]) == 1\nassert f(2) == 4", "entry_point": "f"}],
        ["wrong_answer"],
    ),
    ("rebound AssertionError", "AssertionError = Exception\ndef f(x):\n    return 0", F_TESTS, ["wrong_answer"]),
    (
        "predefined check",
        "def check(c):\n    pass\ndef f(x):\n    return 0",
        [{"type": "assert", "code": "def check(c):\n    assert c(2) == 4\ncheck(f)"}],
        ["wrong_answer"],
    ),
    (
        "sys.modules hijack",
        "import sys, types\nm = types.ModuleType('math')\nm.isclose = lambda *a, **k: True\n"
        "sys.modules['math'] = m\ndef f(x):\n    return 0.0",
        [{"type": "assert", "code": "import math\nassert math.isclose(f(2), 4.0)"}],
        ["wrong_answer"],
    ),
    (
        "patched module attribute",
        "import math\nmath.isclose = lambda *a, **k: True\ndef f(x):\n    return 0.0",
        [{"type": "assert", "code": "import math\nassert math.isclose(f(2), 4.0)"}],
        ["wrong_answer"],
    ),
    (
        "excepthook swallow",
        "import sys\nsys.excepthook = lambda *a: None\ndef f(x):\n    return 0",
        F_TESTS,
        ["wrong_answer"],
    ),
    ("stdin read", "x = input()", PASS, ["runtime_error"]),
    ("stdin read all", "import sys\ndata = sys.stdin.read()\nassert data == ''", PASS, ["passed"]),
    (
        "socket connect",
        "import socket\nsocket.create_connection(('127.0.0.1', 22), timeout=1)",
        PASS,
        ["runtime_error"],
    ),
    (
        "socket bind/listen",
        "import socket\ns = socket.socket()\ns.bind(('0.0.0.0', 18765))\ns.listen()\n"
        "socket.create_connection(('8.8.8.8', 53), timeout=1)",
        PASS,
        ["runtime_error"],
    ),
    ("dns lookup", "import socket\nsocket.getaddrinfo('example.com', 80)", PASS, ["runtime_error"]),
    ("read /etc/shadow", "open('/etc/shadow').read()", PASS, ["runtime_error"] if ROOTED else ["runtime_error"]),
    ("secret from env", "import os\nprint(os.environ['CODESCALER_SECRET'])", PASS, ["runtime_error"]),
    ("secret from parent environ", "import os\nopen(f'/proc/{os.getppid()}/environ').read()", PASS, ["runtime_error"]),
    ("kill parent", "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)", PASS, ["runtime_error"]),
    ("kill own group", "import os, signal\nos.killpg(0, signal.SIGKILL)", PASS, ["runtime_error"]),
    ("kill everything", "import os, signal\nos.kill(-1, signal.SIGKILL)", PASS, ["passed"]),  # reaches only its uid
    ("setuid root", "import os\nos.setuid(0)", PASS, ["runtime_error"]),
    ("raise rlimits", "import resource\nresource.setrlimit(resource.RLIMIT_AS, (-1, -1))", PASS, ["runtime_error"]),
    ("huge file", "with open('big', 'wb') as f:\n    f.write(b'0' * (64 << 20))", PASS, ["runtime_error"]),
    ("too many files", "fs = [open(f'f{i}', 'w') for i in range(1000)]", PASS, ["runtime_error"]),
    (
        "write outside temp dir",
        f"open('{MARK}', 'w').write('x')\nopen('/work/escaped', 'w').write('x')",
        PASS,
        ["runtime_error"],
    ),
    ("delete outside temp dir", "import os\nos.remove('/etc/hostname')", PASS, ["runtime_error"]),
    ("syntax error", "def f(:\n    pass", F_TESTS, ["compile_error"]),
    ("null bytes", "x = 1\x00", PASS, ["compile_error"]),
    (
        "garbage on every fd",
        "import os\nfor fd in range(3, 64):\n    try:\n        os.write(fd, b'garbage\\n')\n"
        "    except OSError:\n        pass\nos._exit(0)",
        PASS,
        ["runtime_error"],
    ),
]


@pytest.mark.parametrize("name,program,tests,expected", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_program(sandbox, name, program, tests, expected):
    start = time.monotonic()
    assert verdicts(sandbox, program, tests) == expected
    assert time.monotonic() - start < 15, "a hostile program stalled the pool"
    assert not leftover_processes(sandbox), "a process of the sandbox outlived its run"
    assert not os.path.exists(MARK) and not os.path.exists("/work/escaped")
    assert os.path.exists("/etc/hostname")
    # the pool still works after every hostile program
    assert verdicts(sandbox, "def f(x):\n    return 2 * x", F_TESTS) == ["passed"]


def test_child_that_outlives_the_run_is_killed(sandbox):
    program = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        f"        time.sleep(3)\n        open('{MARK}', 'w').write('late')\n"
        "    os._exit(0)\n"
    )
    assert verdicts(sandbox, program) == ["passed"]
    assert not leftover_processes(sandbox)
    time.sleep(3.5)
    assert not os.path.exists(MARK)


def test_environment_is_scrubbed_and_cwd_is_fresh(sandbox):
    program = "import os\nENV = dict(os.environ)\nCWD = os.getcwd()\nFILES = os.listdir('.')"
    test = [
        {
            "type": "assert",
            "code": "assert 'CODESCALER_SECRET' not in ENV and set(ENV) <= {'PATH', 'HOME', "
            "'LANG', 'TMPDIR'}\nassert CWD.startswith('/tmp/codescaler-') and FILES == []",
        }
    ]
    assert verdicts(sandbox, program, test) == ["passed"]
    first = sandbox.run_one("import os\nopen('left', 'w').write('x')", PASS)
    assert first[0]["status"] == "passed"
    assert verdicts(sandbox, "import os\nassert not os.path.exists('left')") == ["passed"]


def test_network_audit_fallback_blocks_sockets():
    with Sandbox(workers=1, limits=Limits(timeout=2.0, network="audit")) as sb:
        outcome = sb.run_one("import socket\nsocket.create_connection(('127.0.0.1', 22), timeout=1)", PASS)[0]
    assert outcome["status"] == "runtime_error" and "blocked in the sandbox" in outcome["detail"]


def test_tests_after_a_timeout_still_run(sandbox):
    tests = [
        {"type": "assert", "code": "assert f(1) == 2"},
        {"type": "assert", "code": "f(-1)"},
        {"type": "assert", "code": "assert f(3) == 6"},
    ]
    program = "def f(x):\n    while x < 0: pass\n    return 2 * x"
    assert verdicts(sandbox, program, tests) == ["passed", "timeout", "passed"]


def test_call_and_stdio_outcomes_carry_values_not_verdicts(sandbox):
    [outcome] = sandbox.run_one("def f(a, b):\n    return (a + b, {a})", [{"type": "call", "fn": "f", "args": [1, 2]}])
    assert outcome.pop("time") > 0
    assert outcome == {"status": "returned", "value": {"__tuple__": [3, {"__set__": [1]}]}}
    [outcome] = sandbox.run_one("print(int(input()) * 2)", [{"type": "stdio", "input": "21\n"}])
    assert outcome.pop("time") > 0
    assert outcome == {"status": "completed", "detail": None, "stdout": "42\n", "stderr": "", "exit_code": 0}


def test_stdio_python_has_byte_streams_as_contest_programs_use_them(sandbox):
    fast_io = "import sys\nn = sum(map(int, sys.stdin.buffer.read().split()))\nsys.stdout.buffer.write(b'%d\\n' % n)"
    [outcome] = sandbox.run_one(fast_io, [{"type": "stdio", "input": "1 2\n3\n"}])
    assert (outcome["status"], outcome["stdout"]) == ("completed", "6\n")
    flood = "import sys\nwhile True:\n    sys.stdout.buffer.write(b'x' * 4096)"
    assert sandbox.run_one(flood, [{"type": "stdio", "input": ""}])[0]["status"] == "output_limit"  # still capped


def test_a_program_sees_its_own_command_line_not_the_sandboxs(sandbox):
    """As under `python main.py`: argparse parses no arguments, len(sys.argv) is 1, tracebacks name main.py."""
    cli = "import argparse, sys\nargs = argparse.ArgumentParser().parse_args()\nprint(len(sys.argv), sys.argv[0])"
    [outcome] = sandbox.run_one(cli, [{"type": "stdio", "input": ""}])
    assert (outcome["status"], outcome["stdout"]) == ("completed", "1 main.py\n")
    [outcome] = sandbox.run_one("import sys\ndef f():\n    return sys.argv", [{"type": "call", "fn": "f", "args": []}])
    assert outcome["value"] == ["main.py"]
    crash = "def g(x):\n    return 1 / x\n\ng(0)"
    [outcome] = sandbox.run_one(crash, [{"type": "stdio", "input": ""}])
    stderr = outcome["stderr"]
    assert stderr.startswith('Traceback (most recent call last):\n  File "main.py", line 4, in <module>\n    g(0)')
    assert "return 1 / x" in stderr and stderr.rstrip().endswith("ZeroDivisionError: division by zero")
    assert "worker" not in stderr and "codescaler" not in stderr
    # an uncaught AssertionError ends a script as any exception does: its traceback, exit status 1
    [outcome] = sandbox.run_one("assert 1 == 2", [{"type": "stdio", "input": ""}])
    assert (outcome["status"], outcome["exit_code"]) == ("runtime_error", 1)
    assert outcome["stderr"].rstrip().endswith("AssertionError") and 'File "main.py", line 1' in outcome["stderr"]


def test_stdio_runs_report_what_a_process_would(sandbox):
    """stderr, exit code and the output printed before a crash: what a SandboxFusion-style run returns."""
    crash = "import sys\nprint('half')\nprint('warn', file=sys.stderr)\n1 / 0"
    [outcome] = sandbox.run_one(crash, [{"type": "stdio", "input": ""}])
    assert (outcome["status"], outcome["exit_code"], outcome["stdout"]) == ("runtime_error", 1, "half\n")
    assert outcome["stderr"].startswith("warn\n") and "ZeroDivisionError" in outcome["stderr"]
    [outcome] = sandbox.run_one("import sys\nsys.exit('bad input')", [{"type": "stdio", "input": ""}])
    assert (outcome["status"], outcome["exit_code"], outcome["stderr"]) == ("runtime_error", 1, "bad input\n")
    [outcome] = sandbox.run_one("raise SystemExit(3)", [{"type": "stdio", "input": ""}])
    assert (outcome["status"], outcome["exit_code"]) == ("runtime_error", 3)


def test_order_is_kept_across_workers(sandbox):
    jobs = [
        Job(f"import time\ntime.sleep({0.05 * (i % 3)})\nX = {i}", [{"type": "assert", "code": f"assert X == {i}"}])
        for i in range(12)
    ]
    assert [o[0]["status"] for o in sandbox.run(jobs)] == ["passed"] * 12


# Per language: reads a number and prints its double; does not compile (or, for JavaScript, exits 3 at once);
# writes to stderr and exits with status 3.
PROGRAMS = {
    "cpp": (
        '#include <cstdio>\nint main(){int x; scanf("%d", &x); printf("%d\\n", 2*x);}',
        "int main( {",
        '#include <cstdio>\nint main(){fprintf(stderr, "oops\\n"); return 3;}',
    ),
    "javascript": (
        "const x = parseInt(require('fs').readFileSync(0, 'utf8')); console.log(2 * x)",
        "process.exit(3)",
        "console.error('oops'); process.exit(3)",
    ),
    "java": (
        "import java.util.*;\npublic class Main { public static void main(String[] a) {"
        " System.out.println(2 * new Scanner(System.in).nextInt()); } }",
        "public class Main { void main( }",
        'class Main { public static void main(String[] a) { System.err.println("oops"); System.exit(3); } }',
    ),
    "go": (
        'package main\nimport "fmt"\nfunc main() { var x int; fmt.Scan(&x); fmt.Println(2 * x) }',
        "package main\nfunc main() {",
        'package main\nimport ("fmt"; "os")\nfunc main() { fmt.Fprintln(os.Stderr, "oops"); os.Exit(3) }',
    ),
    "rust": (
        "use std::io::Read;\nfn main() { let mut s = String::new(); std::io::stdin().read_to_string(&mut s)"
        '.unwrap(); let x: i64 = s.trim().parse().unwrap(); println!("{}", 2 * x); }',
        "fn main() {",
        'fn main() { eprintln!("oops"); std::process::exit(3); }',
    ),
}


def needs(language: str):
    missing = missing_languages().get(language)
    return pytest.mark.skipif(bool(missing), reason=f"{missing}: `make sandbox-languages` installs it")


@pytest.mark.parametrize("language", [pytest.param(lang, marks=needs(lang)) for lang in PROGRAMS])
def test_other_languages(sandbox, language):
    good, bad, noisy = PROGRAMS[language]
    [outcome] = sandbox.run_one(good, [{"type": "stdio", "input": "21\n"}], language)
    assert (outcome["status"], outcome["stdout"], outcome["exit_code"]) == ("completed", "42\n", 0)
    assert verdicts(sandbox, bad, PASS, language) == ["wrong_answer" if language == "javascript" else "compile_error"]
    [outcome] = sandbox.run_one(noisy, [{"type": "stdio", "input": ""}], language)
    assert (outcome["status"], outcome["exit_code"], outcome["stderr"]) == ("runtime_error", 3, "oops\n")
    # An assert-style test is the program plus the test's code, judged by exit status.
    assert verdicts(sandbox, noisy, [{"type": "assert", "code": ""}], language) == ["wrong_answer"]


@pytest.mark.parametrize("language", [pytest.param(lang, marks=needs(lang)) for lang in ("cpp", "java", "rust")])
def test_identical_programs_are_built_once_and_cannot_change_their_build(language):
    """The second identical program reuses the first's build (compile time 0), and the first could not
    alter it: it tried to overwrite every file of its build folder before it ran."""
    tamper = {
        "cpp": '#include <cstdio>\n#include <cstdlib>\nint main(){ std::system("for f in /tmp/codescaler-builds-*/*/*;'
        ' do echo x > $f; done"); printf("ok\\n"); }',
        "java": 'class Main { public static void main(String[] a) throws Exception { new ProcessBuilder("sh", "-c",'
        ' "for f in /tmp/codescaler-builds-*/*/*; do echo x > $f; done").start().waitFor();'
        ' System.out.println("ok"); } }',
        "rust": 'fn main() { std::process::Command::new("sh").args(["-c", "for f in /tmp/codescaler-builds-*/*/*;'
        ' do echo x > $f; done"]).status().ok(); println!("ok"); }',
    }[language]
    with Sandbox(workers=1) as sb:
        first, second = (sb.run_one(tamper, [{"type": "stdio", "input": ""}], language)[0] for _ in range(2))
    assert first["compile_time"] > 0 and second["compile_time"] == 0.0
    assert first["stdout"] == second["stdout"] == "ok\n"


def test_job_limits_override_the_sandbox_limits(sandbox):
    """A per-job time limit (a scaled one, a SandboxFusion request's run_timeout) applies to that job only."""
    slow = "import time\ntime.sleep(0.6)"
    jobs = [Job(slow, PASS, limits=Limits(timeout=0.3)), Job(slow, PASS)]
    assert [o[0]["status"] for o in sandbox.run(jobs)] == ["timeout", "passed"]


def test_an_unknown_language_is_infrastructure_not_a_failed_program(sandbox):
    outcome = sandbox.run_one("x", PASS, "cobol")[0]
    assert outcome["status"] == "infrastructure" and "unsupported language 'cobol'" in outcome["detail"]


def test_set_order_is_the_same_in_every_worker():
    # A reference's output computed in one worker is compared with a candidate's from another.
    program = "X = tuple({'DRwvS', 'ITntCqEvPi', 'SmJpP', 'tUqF', 'kx'})"
    seen = set()
    for _ in range(2):
        with Sandbox(workers=1) as sb:
            seen.add(repr(sb.run_one(program, [{"type": "call", "fn": "(lambda: X)", "args": []}])[0]["value"]))
    assert len(seen) == 1


WAITING = [
    ("passes", "def f(x):\n    return 2 * x", F_TESTS, ["passed"]),
    ("fails", "def f(x):\n    return x", F_TESTS, ["wrong_answer"]),
    ("loops", "while True:\n    pass", PASS, ["timeout"]),
    ("closes every pipe, then loops", "import os\nos.closerange(0, 1024)\nwhile True:\n    pass", PASS, ["timeout"]),
    (
        "leaves a grandchild holding the pipes",
        "import os, time\nif os.fork() == 0:\n    time.sleep(60)",
        PASS,
        ["passed"],
    ),
]


@pytest.mark.parametrize("name,program,tests,expected", WAITING, ids=[w[0] for w in WAITING])
def test_worker_without_pidfd_polls_for_the_child(monkeypatch, tmp_path, name, program, tests, expected):
    """Kernels before 5.3 have no pidfd: the worker then polls for the child's exit, with the same verdicts."""
    polling = tmp_path / "polling_worker.py"
    polling.write_text(
        "import importlib.util\n"
        f"spec = importlib.util.spec_from_file_location('_sandbox_worker', {str(sandbox_module.WORKER)!r})\n"
        "worker = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(worker)\n"
        "worker._pidfd = lambda pid: None\n"
        "worker.main()\n"
    )
    monkeypatch.setattr(sandbox_module, "WORKER", polling)
    with Sandbox(workers=1, limits=Limits(timeout=1.0)) as sb:
        assert verdicts(sb, program, tests) == expected
        assert not leftover_processes(sb)


def test_a_slow_job_does_not_hold_up_the_jobs_behind_it(sandbox):
    """Results leave in order, but work does not wait for order: while one worker sits on a slow job, the
    other runs the jobs queued behind it. Each program prints the shared monotonic clock when it runs."""
    clock = [{"type": "stdio", "input": ""}]
    slow = Job("import time\ntime.sleep(1.5)\nprint(time.monotonic())", clock)
    quick = Job("import time\nprint(time.monotonic())", clock)
    outcomes = list(sandbox.run([slow] + [quick] * 24))
    times = [float(o[0]["stdout"]) for o in outcomes]
    assert all(t < times[0] for t in times[1:])


@pytest.mark.skipif(not ROOTED, reason="the private /tmp and /root mounts need root")
def test_a_venv_under_tmp_keeps_its_installed_packages(tmp_path):
    """A worker's private /tmp used to hide a venv living there: every program importing an installed package
    failed with ModuleNotFoundError and correct programs were labelled runtime_error."""
    assert str(tmp_path).startswith("/tmp/")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    where = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    purelib = subprocess.run([python, "-c", where], capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "codescaler_probe.py").write_text("ANSWER = 42\n")
    Path(purelib, "codescaler_src.pth").write_text(str(Path(__file__).parents[1] / "src") + "\n")
    importing = "import codescaler_probe\nprint(codescaler_probe.ANSWER)"
    planting = f"open({purelib + '/planted.py'!r}, 'w')"
    script = (
        "import sys\n"
        "from codescaler.execution.sandbox import Limits, Sandbox\n"
        "stdio = [{'type': 'stdio', 'input': ''}]\n"
        "with Sandbox(workers=1, limits=Limits(python=sys.executable)) as sb:\n"
        f"    print(sb.run_one({importing!r}, stdio)[0]['stdout'])\n"
        f"    print(sb.run_one({planting!r}, stdio)[0]['status'])\n"
    )
    out = subprocess.run([python, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    imported, _, planted = out.stdout.splitlines()
    assert imported == "42", out.stderr
    assert planted == "runtime_error" and not Path(purelib, "planted.py").exists()  # bound back read-only


def test_live_sandboxes_never_share_a_uid():
    """A timeout kills every process of its uid: two sandboxes sharing one could kill each other's tests."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys\nfrom codescaler.execution.sandbox import Sandbox\n"
            "with Sandbox(workers=12) as sb:\n    print(*sb.uids, flush=True)\n    sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        other_process = set(map(int, holder.stdout.readline().split()))
        with Sandbox(workers=12) as first, Sandbox(workers=12) as second:
            mine = [set(first.uids), set(second.uids)]
            assert len(other_process) == len(mine[0]) == len(mine[1]) == 12
            assert not (mine[0] & mine[1]) and not (other_process & (mine[0] | mine[1]))
        with Sandbox(workers=12) as again:  # closed sandboxes give their uids back
            assert set(again.uids) <= mine[0] | mine[1]
    finally:
        holder.communicate("", timeout=30)


def test_a_killed_pool_holds_its_uid_until_its_worker_is_gone():
    """Killed mid-job, a pool must not free a uid its worker still runs under: the worker ends the job and
    sweeps the uid, and so would kill the programs of whichever sandbox took it next."""
    script = (
        "from codescaler.execution.sandbox import Sandbox\n"
        "with Sandbox(workers=1) as sb:\n"
        "    print(sb.uids[0], flush=True)\n"
        "    sb.run_one('import time\\ntime.sleep(2)', [{'type': 'assert', 'code': 'pass'}])\n"
    )
    pool = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    uid = int(pool.stdout.readline())
    time.sleep(0.5)  # the job is running
    pool.kill()
    pool.wait()
    lock = os.open(os.path.join(uids_module.uid_lock_dir(), str(uid)), os.O_RDWR)
    try:
        with pytest.raises(BlockingIOError):
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        deadline = time.monotonic() + 30
        while True:  # the worker sees its stdin close once the job is done, and exits
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                assert time.monotonic() < deadline, "the orphaned worker never let its uid go"
                time.sleep(0.05)
    finally:
        os.close(lock)


@pytest.mark.skipif(not ROOTED, reason="sandbox uids of their own need root")
def test_a_new_worker_kills_what_a_killed_one_left_under_its_uid():
    with Sandbox(workers=1) as sb:
        # What a worker killed mid-job leaves: a process of its uid that is nobody's child in the pool.
        stray = subprocess.Popen(["sleep", "60"], user=sb.uids[0], group=sb.uids[0], extra_groups=[])
        os.kill(sb.worker_pids()[0], signal.SIGKILL)
        assert verdicts(sb, "pass") == ["passed"]  # on the replacement worker
        assert stray.wait(timeout=10) == -signal.SIGKILL


@pytest.mark.parametrize(
    "language,program",
    [
        pytest.param("cpp", '#include "/dev/zero"\nint main() {}', marks=needs("cpp")),
        pytest.param(
            "cpp", "template<int N> struct F { enum { v = F<N + 1>::v }; };\nint x = F<0>::v;", marks=needs("cpp")
        ),
        pytest.param("rust", 'static Z: &[u8] = include_bytes!("/dev/zero");\nfn main() {}', marks=needs("rust")),
    ],
    ids=["include /dev/zero", "endless templates", "include_bytes /dev/zero"],
)
def test_hostile_builds_end_as_build_failures(language, program):
    """A program whose compilation never ends, or eats memory, is stopped by the compile limits."""
    with Sandbox(workers=1, limits=Limits(compile_timeout=5.0, memory=512)) as sb:
        start = time.monotonic()
        [outcome] = sb.run_one(program, [{"type": "stdio", "input": ""}], language)
        assert outcome["status"] == "compile_error"
        assert time.monotonic() - start < 15
        assert not leftover_processes(sb)


@needs("go")
def test_go_imports_are_fixed_only_when_the_test_asks():
    """HumanEvalPack's Go harness adds the standard-library imports a program uses and drops unused ones;
    a test with ``fix_imports`` gets the same (goimports), any other builds the program as written."""
    program = 'package main\nimport "math"\nfunc Shout(s string) string { return strings.ToUpper(s) }'
    test = 'func main() { if Shout("a") != "A" { panic("wrong") } }'
    with Sandbox(workers=1) as sb:
        fixed = sb.run_one(program, [{"type": "assert", "code": test, "fix_imports": True}], "go")[0]
        as_written = sb.run_one(program, [{"type": "assert", "code": test}], "go")[0]
    assert fixed["status"] == "passed"
    assert as_written["status"] == "compile_error" and "undefined: strings" in as_written["detail"]
