import json
import math

import pytest

from codescaler.cli import main
from codescaler.execution.sandbox import Sandbox
from codescaler.integrations import verl
from codescaler.integrations.trl import BudgetedReward, ExecutionReward, RMReward
from codescaler.judges.calibration import Calibration
from codescaler.rewards.kinds import budgeted_rewards, kind_rewards
from codescaler.rewards.selective import budget_choice, program_order, verify_top
from codescaler.rewards.shaping import pass_probability, shape_reward

QUESTION = "Write add(a, b) returning the sum."
TESTS = [{"type": "assert", "code": "assert add(2, 3) == 5"}]


def fenced(body: str) -> str:
    return f"```python\ndef add(a, b):\n    return {body}\n```"


RIGHT, WRONG, WORSE = fenced("a + b"), fenced("a - b"), fenced("a * b")


def judge_by_text(scores: dict[str, float]):
    """An RM function that scores each response by a table: shaped as the real reward is (softplus)."""

    def rm(questions, responses, prefixes=None):
        return [shape_reward(scores[r], True) for r in responses]

    return rm


def test_program_order_is_distinct_programs_best_first():
    rewards = [0.2, 0.9, 0.5, 0.9, 0.7]
    programs = ["a", "b", None, "a", "c"]
    # b (0.9, index 1) first; a ranks by its best candidate (3 at 0.9, after 1 on the index tie-break)
    assert program_order(rewards, programs) == [[1], [3, 0], [4]]
    assert program_order(rewards, programs, subset=[0, 2, 4]) == [[4], [0]]


def test_budget_choice_top_and_unsure_per_group():
    p = [0.9, 0.1, 0.5, 0.6, 0.2, 0.55]
    groups = ["x", "x", "x", "y", "y", "y"]
    assert budget_choice(p, groups, 1) == [True, False, False, True, False, False]
    assert budget_choice(p, groups, 1, "unsure") == [False, False, True, False, False, True]
    assert budget_choice(p, groups, 0) == [False] * 6 and budget_choice(p, groups, 9) == [True] * 6
    with pytest.raises(ValueError, match="rule"):
        budget_choice(p, groups, 1, "random")


def test_pass_probability_reads_the_logit_back_from_a_softplus_reward():
    for x in (-30.0, -2.0, 0.0, 3.0):
        assert pass_probability(shape_reward(x, True)) == pytest.approx(1 / (1 + math.exp(-x)), rel=1e-9)
    assert pass_probability(shape_reward(None, False)) == 0.0


def test_verify_top_runs_best_first_until_one_passes():
    problem = {"id": "p", "question": QUESTION, "tests": TESTS, "responses": [WRONG, RIGHT, WRONG, WORSE]}
    rewards = [0.9, 0.5, 0.9, 0.7]  # the judge prefers the wrong program (twice), then WORSE, then RIGHT
    with Sandbox(workers=1) as sandbox:
        missed = verify_top(problem, rewards, 2, sandbox)
        found = verify_top(problem, rewards, 5, sandbox)
        with pytest.raises(ValueError, match="no tests"):
            verify_top({**problem, "tests": []}, rewards, 1, sandbox)
    assert missed.run == [0, 3] and missed.verdicts == [False, False]  # the duplicate at 2 is not run again
    assert not missed.passed and missed.pick == 0  # none passed: the judge's top-1 stands
    assert found.run == [0, 3, 1] and found.passed and found.pick == 1


def test_budgeted_reward_executes_k_per_group_and_estimates_the_rest():
    rm = judge_by_text({RIGHT: 1.0, WRONG: 3.0, WORSE: -2.0})
    problems = [{"question": QUESTION, "tests": TESTS}] * 3 + [{"question": "no tests here"}]
    responses = [RIGHT, WRONG, WORSE, RIGHT]
    with Sandbox(workers=1) as sandbox:
        rewards, executed = budgeted_rewards(problems, responses, rm=rm, sandbox=sandbox, budget_k=1)
        unsure, executed_unsure = budgeted_rewards(
            problems, responses, rm=rm, sandbox=sandbox, budget_k=1, budget_rule="unsure"
        )
        full = kind_rewards("budgeted", problems, responses, rm=rm, sandbox=sandbox, budget_k=3)
        with pytest.raises(ValueError, match="needs a sandbox"):
            kind_rewards("budgeted", problems, responses, rm=rm)
    sigmoid = [1 / (1 + math.exp(-x)) for x in (1.0, 3.0, -2.0, 1.0)]  # P(pass): 0.73, 0.95, 0.12, 0.73
    # the judge's top (WRONG, 3.0) ran and failed; the rest keep its P(pass); no tests: never run
    assert executed == [False, True, False, False]
    assert rewards == pytest.approx([sigmoid[0], 0.0, sigmoid[2], sigmoid[3]])
    assert executed_unsure == [True, False, False, False]  # the least sure: RIGHT, nearest 1/2
    assert full[:3] == [1.0, 0.0, 0.0] and full[3] == pytest.approx(sigmoid[3])


def test_trl_budgeted_reward_logs_the_fraction_executed(tiny_rm):
    logged = {}
    with Sandbox(workers=1) as sandbox:
        budgeted = BudgetedReward(RMReward(tiny_rm), ExecutionReward(sandbox), budget_k=1)
        rewards = budgeted(
            prompts=[QUESTION] * 4,
            completions=[RIGHT, WRONG, WORSE, RIGHT],
            tests=[json.dumps(TESTS)] * 4,
            log_metric=lambda name, value: logged.setdefault(name, value),
        )
    assert logged == {"codescaler/executed_fraction": 0.25}
    assert sum(r in (0.0, 1.0) for r in rewards) >= 1 and all(0 <= r <= 1 for r in rewards)
    assert budgeted.__name__ == "codescaler_budgeted"


def test_verl_budgeted_reward(monkeypatch):
    monkeypatch.setattr(verl, "_rm", lambda model=None: judge_by_text({RIGHT: 1.0, WRONG: 3.0}))
    truth, info = json.dumps({"tests": TESTS}), {"question": QUESTION}
    monkeypatch.setenv("CODESCALER_REWARD", "budgeted")
    monkeypatch.setenv("CODESCALER_BUDGET_K", "2")
    both = verl.compute_score_batch(["d"] * 2, [RIGHT, WRONG], [truth] * 2, [info] * 2)
    assert both == [{"score": 1.0, "executed": 1.0}, {"score": 0.0, "executed": 1.0}]
    one = verl.compute_score_batch(["d"] * 2, [RIGHT, WRONG], [truth] * 2, [info] * 2, budget_k=1)
    assert [r["executed"] for r in one] == [0.0, 1.0]  # the judge's top (WRONG) ran; verl logs the flags
    assert [r["score"] for r in one] == pytest.approx([1 / (1 + math.exp(-1.0)), 0.0])


def test_rank_verify_top_says_what_ran(tiny_model_dir, tmp_path, capsys):
    src, out = tmp_path / "problems.jsonl", tmp_path / "ranked.jsonl"
    rows = [
        {"id": "p1", "question": QUESTION, "tests": TESTS, "responses": [WRONG, RIGHT, WORSE, "no code"]},
        {"id": "p2", "question": QUESTION, "responses": [RIGHT]},
    ]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["rank", str(src), "-o", str(out), "--model", str(tiny_model_dir), "--verify-top", "3"]) == 0
    printed = capsys.readouterr().out
    ranked = [json.loads(line) for line in out.read_text().splitlines()]
    verified = ranked[0]["verified"]
    # three runnable programs, so RIGHT is reached whatever the tiny model's order; the run stops there
    assert verified["passed"] and verified["pick"] == 1 and verified["run"][-1] == 1
    assert verified["verdicts"] == [False] * (len(verified["run"]) - 1) + [True]
    assert [ranked[0]["order"].index(i) for i in verified["run"]] == sorted(
        ranked[0]["order"].index(i) for i in verified["run"]
    )
    # nothing to verify p2 against: it is ranked by the judge alone, and said so (it used to be an error row)
    assert ranked[1]["order"] == [0] and ranked[1]["not_run"] == "the record has no tests"
    assert "pick: candidate 0 (the judge's top-1; nothing run: the record has no tests)" in printed
    top_failed = verified["run"][0] != 1
    assert "pick: candidate 1 (" in printed
    assert ("the judge's top-1 failed them" in printed) == top_failed  # the pick says why it is not the top-1


def test_calibrated_judge_gives_budgeted_its_p_pass(tiny_rm):
    tiny_rm.calibration = Calibration(0.5, -1.0)
    from codescaler.rewards.kinds import model_rewards, reward

    result = reward(tiny_rm, [QUESTION], [RIGHT], show_progress=False)[0]
    assert pass_probability(model_rewards(tiny_rm)([QUESTION], [RIGHT])[0]) == pytest.approx(result.p_pass)
