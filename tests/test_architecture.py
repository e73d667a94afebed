"""The house rules, checked on the real tree, and the checker itself on a small package that breaks each."""

import sys
from pathlib import Path

from tools.import_graph import MAX_LINES, violations

ROOT = Path(__file__).resolve().parents[1]


def test_the_package_keeps_its_layers():
    assert violations(ROOT / "src" / "codescaler") == []


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "pkg"


def test_the_checker_reports_upward_imports_circles_private_names_and_long_modules(tmp_path):
    package = write(
        tmp_path,
        {
            "__init__.py": "",
            "low/__init__.py": "",
            "low/a.py": "def f():\n    from pkg.high import b\n",  # upward, even inside a function
            "low/c.py": "from pkg.low.d import g\n",
            "low/d.py": "from . import c\ng = 1\n_hidden = 2\n",  # a circle through a relative import
            "high/__init__.py": "",
            "high/b.py": "from pkg.low.d import _hidden\n" + "x = 1\n" * MAX_LINES,
            "stray/__init__.py": "",
        },
    )
    found = violations(package, layers=("low", "high"))
    assert "pkg.low.a:2 imports pkg.high.b, a higher layer" in found
    assert "import circle: pkg.low.c -> pkg.low.d" in found
    assert "pkg.high.b:1 imports pkg.low.d._hidden, a private name" in found
    assert f"pkg.high.b: {MAX_LINES + 1} lines, over {MAX_LINES}" in found
    assert "pkg.stray: a subpackage missing from the layers" in found
    assert len(found) == 5


def test_a_clean_package_passes(tmp_path):
    package = write(
        tmp_path,
        {
            "__init__.py": "from pkg.high.b import run\n",
            "low/__init__.py": "",
            "low/a.py": "value = 1\n",
            "high/__init__.py": "",
            "high/b.py": "from pkg.low.a import value\n\ndef run():\n    from pkg.low import a\n    return a.value\n",
        },
    )
    assert violations(package, layers=("low", "high")) == []


def test_importing_the_library_and_its_light_commands_loads_no_torch():
    """Commands that load no model (verify, evaluate, data) and the package itself must not pay for torch."""
    import subprocess

    code = (
        "import sys, codescaler, codescaler.cli, codescaler.benchmarks, codescaler.execution.verify;"
        "from codescaler import reward, rank, extract_code, shape_reward, load_judge;"
        "print('torch' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"


def test_the_public_api_is_reachable_from_the_top():
    import codescaler
    from codescaler.judges.reward_model import RewardModel
    from codescaler.rewards.kinds import reward

    assert all(getattr(codescaler, name) is not None for name in codescaler.__all__)
    assert codescaler.RewardModel is RewardModel and codescaler.reward is reward
