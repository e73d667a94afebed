import json
import math
import os

import pytest

from codescaler import reward
from codescaler.execution.sandbox import Sandbox
from codescaler.integrations import verl
from codescaler.integrations.trl import ExecutionReward, HybridReward, RMReward, message_text
from codescaler.rewards.kinds import model_rewards

QUESTION = "Write add(a, b) returning the sum."
GOOD = "```python\ndef add(a, b):\n    return a + b\n```"
BAD = "```python\ndef add(a, b):\n    return a - b\n```"
TESTS = [{"type": "assert", "code": "assert add(2, 3) == 5"}]


def test_message_text_plain_and_conversational():
    assert message_text("x") == "x"
    chat = [{"role": "system", "content": "s"}, {"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    assert message_text(chat, "user") == "q" and message_text(chat, "assistant") == "a"


def test_rm_reward_matches_library_for_plain_and_chat(tiny_rm):
    f = RMReward(tiny_rm)
    expected = [r.reward for r in reward(tiny_rm, [QUESTION] * 3, [GOOD, BAD, "no code"])]
    plain = f(prompts=[QUESTION] * 3, completions=[GOOD, BAD, "no code"])
    chat = f(
        prompts=[[{"role": "user", "content": QUESTION}]] * 3,
        completions=[[{"role": "assistant", "content": c}] for c in (GOOD, BAD, "no code")],
    )
    assert plain == pytest.approx(expected) and chat == pytest.approx(expected)
    assert plain[2] == 0.0 and f.__name__ == "codescaler_rm"


def test_execution_and_hybrid(tiny_rm):
    with Sandbox(workers=1) as sandbox:
        execution = ExecutionReward(sandbox)
        columns = {"tests": [TESTS, json.dumps(TESTS), None]}
        assert execution(prompts=[QUESTION] * 3, completions=[GOOD, BAD, GOOD], **columns) == [1.0, 0.0, None]
        hybrid = HybridReward(RMReward(tiny_rm), execution)(
            prompts=[QUESTION] * 3, completions=[GOOD, BAD, GOOD], **columns
        )
        assert hybrid[:2] == [1.0, 0.0] and hybrid[2] == pytest.approx(reward(tiny_rm, [QUESTION], [GOOD])[0].reward)


def test_execution_reward_closes_the_sandbox_it_started():
    with ExecutionReward(workers=1) as execution:
        assert execution(prompts=[QUESTION], completions=[GOOD], tests=[TESTS]) == [1.0]
        pids = execution.sandbox.worker_pids()
    for pid in pids:  # closed: gone and reaped
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    with Sandbox(workers=1) as shared:
        ExecutionReward(shared).close()  # a sandbox it was given stays the caller's
        assert shared.run_one("x = 1", [{"type": "assert", "code": "assert x == 1"}])[0]["status"] == "passed"


def test_verl_compute_score(monkeypatch, tiny_rm):
    monkeypatch.setattr(verl, "_rm", lambda model=None: model_rewards(tiny_rm))
    truth = json.dumps({"tests": TESTS})
    info = {"question": QUESTION}
    rm = verl.compute_score("codescaler/mbpp", GOOD, truth, info)
    assert rm == pytest.approx(reward(tiny_rm, [QUESTION], [GOOD])[0].reward) and rm > 0
    assert verl.compute_score("codescaler/mbpp", "prose only", truth, info) == 0.0
    monkeypatch.setenv("CODESCALER_REWARD", "execution")
    assert verl.compute_score_batch(["d"] * 2, [GOOD, BAD], [truth, truth], [info, info]) == [1.0, 0.0]
    monkeypatch.setenv("CODESCALER_REWARD", "hybrid")
    mixed = verl.compute_score_batch(["d"] * 2, [BAD, GOOD], [truth, ""], [info, info])
    assert mixed[0] == 0.0 and math.isclose(mixed[1], rm, rel_tol=1e-5)
    with pytest.raises(ValueError, match="compute_score sees one sample"):
        verl.compute_score("d", GOOD, truth, info, reward="budgeted")
    monkeypatch.setenv("CODESCALER_REWARD", "nonsense")
    with pytest.raises(ValueError, match="reward kind must be one of rm, execution, hybrid, budgeted"):
        verl.compute_score("d", GOOD, truth, info)


@pytest.mark.data
def test_verl_export_parquet(tmp_path, capsys, monkeypatch):
    pq = pytest.importorskip("pyarrow.parquet")
    from codescaler.cli import main

    assert main(["data", "export", "mbpp", "--format", "verl", "-o", str(tmp_path / "mbpp.jsonl")]) == 2
    assert "name the output mbpp.parquet" in capsys.readouterr().err and not (tmp_path / "mbpp.jsonl").exists()
    out = tmp_path / "mbpp.parquet"
    assert main(["data", "export", "mbpp", "--format", "verl", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "mbpp.parquet  0." in printed and "mbpp.tests.jsonl  0." in printed and "MB" in printed  # each file's size
    rows = pq.read_table(out).to_pylist()
    prompt = rows[0]["prompt"][0]
    assert len(rows) == 974 and prompt["role"] == "user" and "```python" in prompt["content"]
    truth = json.loads(rows[0]["reward_model"]["ground_truth"])
    # the tests by reference: a row names its problem in the store, never carries its tests
    assert "tests" not in truth and truth["tests_ref"]["id"] == "mbpp/1" and rows[0]["data_source"] == "codescaler/mbpp"
    assert verl._truth(truth)["tests"][0]["type"] == "assert"
    # a store moved with the data: found under $CODESCALER_TEST_STORE_DIR
    moved = tmp_path / "moved"
    moved.mkdir()
    (tmp_path / "mbpp.tests.jsonl").rename(moved / "mbpp.tests.jsonl")
    monkeypatch.setenv("CODESCALER_TEST_STORE_DIR", str(moved))
    assert verl._truth(json.loads(rows[1]["reward_model"]["ground_truth"]))["tests"][0]["type"] == "assert"
    # the verl reward reads these rows as they are: the reference passes its own tests
    from codescaler import benchmarks

    reference = benchmarks.load("mbpp")[0]["reference"]
    verl_reward = verl.compute_score_batch(
        [rows[0]["data_source"]],
        [f"```python\n{reference}\n```"],
        [rows[0]["reward_model"]["ground_truth"]],
        [rows[0]["extra_info"]],
        reward="execution",
    )
    assert verl_reward == [1.0]


def test_verl_recipe_config_matches_the_paper():
    from pathlib import Path

    yaml = pytest.importorskip("yaml")
    root = Path(__file__).resolve().parents[1] / "recipes" / "verl"
    config = yaml.safe_load((root / "codescaler_grpo.yaml").read_text())
    actor, rollout = config["actor_rollout_ref"]["actor"], config["actor_rollout_ref"]["rollout"]
    assert config["algorithm"]["adv_estimator"] == "grpo" and config["data"]["train_batch_size"] == 128
    assert actor["optim"]["lr"] == 1e-6 and (actor["clip_ratio_low"], actor["clip_ratio_high"]) == (0.2, 0.28)
    assert actor["use_kl_loss"] is False and config["algorithm"]["use_kl_in_reward"] is False
    assert rollout["n"] == 8 and rollout["temperature"] == 0.6
    assert config["defaults"] == ["ppo_trainer", "_self_"]
    # the reward function the config names exists with verl's per-sample signature (tests/in_verl load it in verl)
    reward = config["reward"]
    assert reward["custom_reward_function"]["name"] == "compute_score"
    assert reward["reward_manager"] == {"source": "register", "name": "naive"}
    import inspect

    params = inspect.signature(verl.compute_score).parameters
    assert list(params)[:4] == ["data_source", "solution_str", "ground_truth", "extra_info"]
    script = (root / "run_grpo_qwen3_8b.sh").read_text()
    assert "--config-name codescaler_grpo" in script and "python -m codescaler.integrations.verl" in script
