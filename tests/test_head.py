import json

import pytest
import torch

from codescaler import RewardModel
from codescaler.cli import main
from codescaler.judges.weights import read_codescaler_config
from codescaler.training.head import FeatureCache, HeadConfig, fit_head, train_head

GOOD = "def add(a, b):\n    return a + b"
BAD = "def add(a, b):\n    return a - b"


def write_pairs(path, n=24, question="Write add number {i}: return the sum of a and b.", problem="toy/{i}"):
    rows = [
        {
            "question": question.format(i=i),
            "chosen": GOOD,
            "rejected": BAD,
            "problem_id": problem.format(i=i),
            "split": "validation" if i % 4 == 0 else "train",
        }
        for i in range(n)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_features_are_what_the_head_reads(tiny_model_dir):
    rm = RewardModel.from_pretrained(str(tiny_model_dir))
    questions, codes = ["q one", "q one", "q two"], [GOOD, BAD, GOOD]
    states = rm.features(questions, codes, show_progress=False)
    assert states.shape == (3, rm.head.in_features)
    expected = rm.head(states)[:, 0].detach().tolist()
    assert rm.score(questions, codes, show_progress=False) == pytest.approx(expected, abs=1e-5)
    assert rm.features([], [], show_progress=False).shape == (0, rm.head.in_features)


def test_fit_head_separates_and_weight_decay_shrinks():
    torch.manual_seed(0)
    direction = torch.randn(16)
    rejected = torch.randn(200, 16)
    chosen = rejected + 0.5 * direction + 0.1 * torch.randn(200, 16)
    loose, tight = fit_head(chosen, rejected, 1e-4), fit_head(chosen, rejected, 1.0)
    assert ((chosen - rejected) @ loose > 0).float().mean() > 0.95
    assert tight.norm() < loose.norm()
    assert torch.nn.functional.cosine_similarity(loose, direction, dim=0) > 0.8


def test_train_head_saves_a_head_the_rm_loads(tmp_path, tiny_model_dir, capsys):
    pairs = write_pairs(tmp_path / "pairs.jsonl")
    out = tmp_path / "head"
    code = main(
        [
            "train-head",
            "--model-name-or-path",
            str(tiny_model_dir),
            "--pairs",
            str(pairs),
            "--output-dir",
            str(out),
            "--weight-decay",
            "0.001",
            "0.1",
            "--max-length",
            "128",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "weight_decay 0.001" in printed and "weight_decay 0.1" in printed
    report = json.loads((out / "report.json").read_text())
    assert report["train_pairs"] == 18 and report["validation_pairs"] == 6
    assert report["kept"]["validation_accuracy"] == 1.0
    assert read_codescaler_config(out)["weights"] == "head"
    rm = RewardModel.from_pretrained(str(out))
    q = "Write add number 3: return the sum of a and b."
    assert rm.score_one(q, GOOD) > rm.score_one(q, BAD)
    # the base's states times the saved head: the loaded model scores what the fit optimised
    states = rm.features([q], [GOOD], show_progress=False)
    assert rm.score_one(q, GOOD) == pytest.approx(rm.head(states)[0, 0].item(), abs=1e-5)


def test_features_are_computed_once_and_resume(tmp_path, tiny_model_dir):
    rm = RewardModel.from_pretrained(str(tiny_model_dir))
    calls = []
    original = rm.features

    def counting(questions, codes, **kwargs):
        calls.append(len(codes))
        return original(questions, codes, **kwargs)

    rm.features = counting
    cache = FeatureCache(tmp_path / "features", rm)
    first = cache.get(["q", "q", "q"], [GOOD, BAD, GOOD], part_size=1)
    assert calls == [1, 1]  # the duplicate is computed once, one part per program
    again = FeatureCache(tmp_path / "features", rm)  # a new run reads the parts back
    second = again.get(["q", "q2"], [BAD, GOOD])
    assert calls == [1, 1, 1]  # only the new pair
    assert torch.equal(second[0], first[1])


def test_train_head_refuses_humaneval_pairs(tmp_path, tiny_model_dir):
    pairs = write_pairs(tmp_path / "pairs.jsonl", problem="HumanEval/{i}")
    config = HeadConfig(model_name_or_path=str(tiny_model_dir), pairs=[str(pairs)], output_dir=str(tmp_path / "o"))
    with pytest.raises(ValueError, match="HumanEval-derived"):
        train_head(config)


def test_head_config_checks_its_values():
    with pytest.raises(ValueError, match="weight_decay"):
        HeadConfig(weight_decay=[])
    with pytest.raises(ValueError, match="max_pairs"):
        HeadConfig(max_pairs=-1)
