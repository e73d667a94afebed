import json

import pytest

pytest.importorskip("trl")

from codescaler import RewardModel
from codescaler.cli import main
from codescaler.training.pairs import read_pairs
from codescaler.training.train import TrainConfig, train_reward_model

GOOD = "def add(a, b):\n    return a + b"
BAD = "def add(a, b):\n    return a - b"


def write_pairs(path, n=24, layout="ours"):
    rows = []
    for i in range(n):
        q = f"Write add number {i}: return the sum of a and b."
        if layout == "ours":
            rows.append(
                {
                    "question": q,
                    "chosen": GOOD,
                    "rejected": BAD,
                    "problem_id": f"toy/{i}",
                    "split": "validation" if i % 4 == 0 else "train",
                }
            )
        else:
            rows.append({"question_content": q, "code_pos": GOOD, "code_neg": BAD})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def config(tmp_path, model_dir, pairs, **overrides):
    base = dict(
        model_name_or_path=str(model_dir),
        pairs=str(pairs),
        output_dir=str(tmp_path / "out"),
        max_steps=12,
        learning_rate=5e-3,
        per_device_train_batch_size=4,
        logging_steps=4,
        save_steps=6,
        eval_strategy="no",
        max_length=128,
        use_cpu=True,
        seed=0,
    )
    return TrainConfig(**{**base, **overrides})


@pytest.mark.parametrize("finetune", ["lora", "last-k", "head", "full"])
def test_training_separates_chosen_from_rejected_and_reloads(tmp_path, tiny_model_dir, finetune):
    pairs = write_pairs(tmp_path / "pairs.jsonl")
    before = RewardModel.from_pretrained(str(tiny_model_dir))
    q = "Write add number 3: return the sum of a and b."
    margin_before = before.score_one(q, GOOD) - before.score_one(q, BAD)
    report = train_reward_model(config(tmp_path, tiny_model_dir, pairs, finetune=finetune, last_k=1))
    assert report["train_pairs"] == 18 and report["validation_pairs"] == 6
    assert report["validation"]["accuracy"] == 1.0
    out = tmp_path / "out"
    saved = json.loads((out / "codescaler_config.json").read_text())
    assert saved["weights"] == ("peft-adapter" if finetune == "lora" else "full")
    after = RewardModel.from_pretrained(str(out))
    # a head on a random 2-layer backbone has little to separate: it must still move the right way
    assert after.score_one(q, GOOD) - after.score_one(q, BAD) > max(margin_before, 0) + (
        0.005 if finetune == "head" else 0.1
    )
    assert json.loads((out / "report.json").read_text())["steps"] == 12


def test_continued_lora_training_keeps_one_adapter_over_the_original_base(tmp_path, tiny_model_dir):
    pairs = write_pairs(tmp_path / "pairs.jsonl")
    first = tmp_path / "first"
    train_reward_model(config(tmp_path, tiny_model_dir, pairs, output_dir=str(first), max_steps=2, lora_r=4))
    q = "Write add number 3: return the sum of a and b."
    start = RewardModel.from_pretrained(str(first))
    second = tmp_path / "second"
    train_reward_model(config(tmp_path, first, pairs, output_dir=str(second), lora_r=16))
    saved = json.loads((second / "codescaler_config.json").read_text())
    assert saved["base_model"] == str(tiny_model_dir)  # not the first adapter: one hop to the weights
    assert json.loads((second / "adapter_config.json").read_text())["r"] == 4  # the adapter it continued
    after = RewardModel.from_pretrained(str(second))
    assert after.score_one(q, GOOD) - after.score_one(q, BAD) > start.score_one(q, GOOD) - start.score_one(q, BAD)


def test_codescalerpair_layout_and_eval_refusal(tmp_path):
    rows = read_pairs(str(write_pairs(tmp_path / "p.jsonl", 3, layout="codescalerpair")))
    assert rows[0]["chosen"] == GOOD and rows[0]["rejected"] == BAD and "question" in rows[0]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question": "q", "chosen": "x"}) + "\n")
    with pytest.raises(ValueError, match="line 1: field 'rejected'"):
        read_pairs(str(bad))


def test_refuses_humaneval_pairs(tmp_path, tiny_model_dir):
    pairs = tmp_path / "he.jsonl"
    pairs.write_text(json.dumps({"question": "q", "chosen": GOOD, "rejected": BAD, "problem_id": "HumanEval/3"}) + "\n")
    with pytest.raises(ValueError, match="HumanEval-derived"):
        train_reward_model(config(tmp_path, tiny_model_dir, pairs))


def test_resume_from_checkpoint_and_cli(tmp_path, tiny_model_dir, capsys):
    pairs = write_pairs(tmp_path / "pairs.jsonl")
    args = [
        "train",
        "--model_name_or_path",
        str(tiny_model_dir),
        "--pairs",
        str(pairs),
        "--output_dir",
        str(tmp_path / "out"),
        "--max_steps",
        "6",
        "--save_steps",
        "3",
        "--per_device_train_batch_size",
        "4",
        "--max_length",
        "128",
        "--use_cpu",
        "true",
        "--eval_strategy",
        "no",
    ]
    assert main(args) == 0
    assert "validation pairwise accuracy" in capsys.readouterr().out
    assert (tmp_path / "out" / "checkpoint-6").is_dir()
    # a longer run in the same folder resumes from checkpoint-6 instead of starting over
    assert main(args[:7] + ["--max_steps", "9"] + args[9:]) == 0
    log = json.loads((tmp_path / "out" / "report.json").read_text())
    assert log["steps"] == 9
    with pytest.raises(SystemExit):
        main(["train", "--no_such_flag", "1"])


def test_yaml_config_layers_and_rejects_unknown_keys(tmp_path, tiny_model_dir):
    pairs = write_pairs(tmp_path / "pairs.jsonl")
    good = tmp_path / "run.yaml"
    settings = {
        "model_name_or_path": tiny_model_dir,
        "pairs": pairs,
        "max_steps": 3,
        "finetune": "head",
        "output_dir": tmp_path / "out",
        "use_cpu": "true",
        "eval_strategy": "'no'",
        "max_length": 128,
    }
    good.write_text("".join(f"{key}: {value}\n" for key, value in settings.items()))
    # the flag overrides the file
    assert main(["train", "--config", str(good), "--max_steps", "2"]) == 0
    assert json.loads((tmp_path / "out" / "report.json").read_text())["steps"] == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text(good.read_text() + "learning_rte: 0.1\n")
    with pytest.raises(SystemExit):
        main(["train", "--config", str(bad)])
