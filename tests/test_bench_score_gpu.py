"""bench/score_gpu.py, checked on CPU with a tiny config before it spends GPU time: the three modes score
the same step equally, and the prefix and sorted modes feed the backbone fewer tokens than TRL's padding."""

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"


def test_score_gpu_modes_agree_on_a_tiny_model(tmp_path):
    out = tmp_path / "score_gpu.json"
    out.write_text(json.dumps({"models": {"8b": {"model": "8b"}}}))  # an earlier call's model stays
    subprocess.run(
        [
            sys.executable,
            "score_gpu.py",
            *("--model", "tiny", "--device", "cpu", "--dtype", "float32", "--prompts", "3", "--responses", "4"),
            *("--prompt-tokens", "20", "60", "--response-tokens", "10", "80", "--out", str(out)),
        ],
        cwd=BENCH,
        check=True,
        capture_output=True,
    )
    result = json.loads(out.read_text())["models"]
    assert result["8b"] == {"model": "8b"}
    tiny = result["tiny"]
    modes = tiny["modes"]
    assert tiny["step"]["sequences"] == 12 and tiny["attn_implementation"] == "sdpa"
    for mode in ("sorted", "prefix"):
        assert modes[mode]["max_abs_diff_vs_padded"] < 1e-4
        assert modes[mode]["top1_agree_vs_padded"] == "3/3"
        assert modes[mode]["top1_disagree_outside_2x_noise"] == 0
    assert modes["padded"]["tokens_fed_with_padding"] > modes["sorted"]["tokens_fed_with_padding"]
    assert modes["sorted"]["tokens_fed_with_padding"] > modes["prefix"]["tokens_fed_with_padding"]
    assert modes["prefix"]["tokens_computed"] < modes["sorted"]["tokens_computed"] == tiny["step"]["tokens"]
    assert tiny["noise"]["max_abs_diff_vs_fp32"] < 1e-4
