import json

import pytest

pytest.importorskip("trl")

from codescaler.cli import main


@pytest.mark.data
@pytest.mark.parametrize("kind", ["rm", "execution"])
def test_two_grpo_steps(tmp_path, tiny_policy, tiny_model_dir, kind):
    out = tmp_path / "rl"
    assert (
        main(
            [
                "rl",
                "--policy",
                str(tiny_policy),
                "--reward",
                kind,
                "--reward-model",
                str(tiny_model_dir),
                "--steps",
                "2",
                "--prompts-per-step",
                "1",
                "--num-generations",
                "2",
                "--max-completion-length",
                "8",
                "--eval-problems",
                "2",
                "--output-dir",
                str(out),
            ]
        )
        == 0
    )
    report = json.loads((out / "report.json").read_text())
    steps = [row for row in report["log_history"] if "reward" in row]
    assert len(steps) == 2
    assert all("rewards/valid_code/mean" in row for row in steps)
    assert 0.0 <= report["pass_rate_before"] <= 1.0 and report["held_out_problems"] == 2
    assert (out / "curves.png").is_file()
    # what it trained on, for eval-policy --train-data: never an evaluation problem
    from codescaler.benchmarks.overlap import evaluation_overlap

    trained = [json.loads(line) for line in (out / "train_problems.jsonl").read_text().splitlines()]
    assert trained and not any(evaluation_overlap(p) for p in trained)
    from codescaler.training.generation import SampleConfig, TransformersSampler

    # the trained policy is saved, and samples: what `codescaler eval-policy OUTPUT_DIR/policy` loads
    (answers,) = TransformersSampler.from_pretrained(str(out / "policy")).generate(
        ["x"], SampleConfig(n=1, max_new_tokens=2)
    )
    assert len(answers) == 1
    if kind == "rm":  # the reward-hacking monitor ran both rollouts of each step and logged it with the step
        assert [row["monitor/executed"] for row in report["monitor"]] == [2, 2]
        assert all(row["monitor/executed"] == 2 for row in steps)
    else:
        assert report["monitor"] == [] and not any("monitor/executed" in row for row in steps)
