"""verl itself computes codescaler rewards: the recipe's config composed by Hydra over verl's own defaults,
verl's reward loop (Ray workers, the naive reward manager, ``custom_reward_function``) and its legacy batch
reward manager, on a real ``DataProto`` decoded by a real tokenizer.

verl pins transformers <= 5.10.4, so this runs in its own environment: ``make verl-test`` (part of
``make test``). Elsewhere it is skipped.
"""

import json
from pathlib import Path

import pytest

pytest.importorskip("verl.protocol")
import numpy as np
import torch
from transformers import AutoTokenizer
from verl import DataProto

from codescaler import reward
from codescaler.integrations import verl as codescaler_verl

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "verl"
QUESTION = "Write add(a, b) returning the sum."
TESTS = json.dumps({"tests": [{"type": "assert", "code": "assert add(2, 3) == 5"}]})
RESPONSES = [
    "```python\ndef add(a, b):\n    return a + b\n```",
    "```python\ndef add(a, b):\n    return a - b\n```",
    "I would add them.",  # no code: reward 0
    "```python\ndef add(a, b)\n    return a + b\n```",  # does not parse: reward 0
]


def recipe_config(tiny_model_dir, name, **reward_kwargs):
    """The recipe as run_grpo_qwen3_8b.sh runs it, with the tiny RM and a tokenizer for decoding."""
    from hydra import compose, initialize_config_dir

    overrides = [
        f"reward.custom_reward_function.path={codescaler_verl.__file__}",
        f"reward.custom_reward_function.name={name}",
        *(f"+reward.custom_reward_function.reward_kwargs.{k}={v}" for k, v in reward_kwargs.items()),
        f"actor_rollout_ref.model.path={tiny_model_dir}",
        "reward.num_workers=2",
    ]
    with initialize_config_dir(str(RECIPE), version_base=None):
        return compose("codescaler_grpo", overrides=overrides)


def batch(tokenizer, responses):
    """A DataProto as verl's rollout leaves it: left-padded prompts, right-padded responses."""
    prompt = tokenizer(QUESTION, add_special_tokens=False)["input_ids"]
    answers = [tokenizer(r, add_special_tokens=False)["input_ids"] for r in responses]
    width = max(map(len, answers)) + 3  # padding after every response
    prompts = torch.tensor([prompt] * len(responses))
    padded = torch.zeros(len(responses), width, dtype=torch.long)
    mask = torch.zeros(len(responses), len(prompt) + width, dtype=torch.long)
    mask[:, : len(prompt)] = 1
    for i, ids in enumerate(answers):
        padded[i, : len(ids)] = torch.tensor(ids)
        mask[i, len(prompt) : len(prompt) + len(ids)] = 1
    n = len(responses)
    return DataProto.from_dict(
        tensors={
            "prompts": prompts,
            "responses": padded,
            "input_ids": torch.cat([prompts, padded], dim=1),
            "attention_mask": mask,
        },
        non_tensors={
            "data_source": np.array(["codescaler/test"] * n, dtype=object),
            "reward_model": np.array([{"ground_truth": TESTS, "style": "rule"}] * n, dtype=object),
            "extra_info": np.array([{"question": QUESTION} for _ in range(n)], dtype=object),
        },
    ), [len(a) for a in answers]


def expected_rewards(tiny_model_dir):
    from codescaler import RewardModel

    rm = RewardModel.from_pretrained(str(tiny_model_dir))
    return [r.reward for r in reward(rm, [QUESTION] * len(RESPONSES), RESPONSES, show_progress=False)]


@pytest.fixture(scope="module")
def local_ray():
    import ray

    ray.init(num_cpus=2, include_dashboard=False)
    yield
    ray.shutdown()


def test_verl_reward_loop_puts_shaped_rewards_at_the_last_response_token(tiny_model_dir, local_ray):
    from verl.experimental.reward_loop import RewardLoopManager

    config = recipe_config(tiny_model_dir, "compute_score", model=str(tiny_model_dir))
    assert config.reward.reward_manager.name == "naive" and config.reward.reward_manager.source == "register"
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    data, lengths = batch(tokenizer, RESPONSES)
    scores = RewardLoopManager(config).compute_rm_score(data).batch["rm_scores"]
    expected = expected_rewards(tiny_model_dir)
    for i, length in enumerate(lengths):
        assert scores[i, length - 1].item() == pytest.approx(expected[i], abs=1e-4)
        assert torch.count_nonzero(scores[i, : length - 1]) == 0 and torch.count_nonzero(scores[i, length:]) == 0
    assert expected[0] > 0 and expected[1] > 0 and expected[2] == 0.0 and expected[3] == 0.0


def test_verl_batch_reward_manager_with_execution_and_budgeted(tiny_model_dir):
    from verl.trainer.ppo.reward import get_custom_reward_fn
    from verl.workers.reward_manager.batch import BatchRewardManager

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    data, lengths = batch(tokenizer, RESPONSES)
    rows = range(len(RESPONSES))
    execution = get_custom_reward_fn(recipe_config(tiny_model_dir, "compute_score_batch", reward="execution"))
    out = BatchRewardManager(tokenizer, num_examine=0, compute_score=execution)(data, return_dict=True)
    assert [out["reward_tensor"][i, lengths[i] - 1].item() for i in rows] == [1.0, 0.0, 0.0, 0.0]
    budgeted = get_custom_reward_fn(
        recipe_config(tiny_model_dir, "compute_score_batch", reward="budgeted", budget_k=1, model=str(tiny_model_dir))
    )
    out = BatchRewardManager(tokenizer, num_examine=0, compute_score=budgeted)(data, return_dict=True)
    assert sum(out["reward_extra_info"]["executed"]) == 1.0  # one group of four, one executed
    assert all(0.0 <= out["reward_tensor"][i, lengths[i] - 1].item() <= 1.0 for i in rows)
