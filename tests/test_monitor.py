import logging

import pytest

from codescaler.execution.sandbox import Sandbox
from codescaler.measure.monitor import MonitorConfig, RewardHackingMonitor, agreement_counts, agreement_metrics

ADD = {"question": "Write add(a, b).", "tests": [{"type": "assert", "code": "assert add(2, 3) == 5"}]}
SUB = {"question": "Write sub(a, b).", "tests": [{"type": "assert", "code": "assert sub(5, 3) == 2"}]}
UNTESTED = {"question": "Write anything."}


def answer(name, op):
    return f"```python\ndef {name}(a, b):\n    return a {op} b\n```"


RIGHT = {"add": answer("add", "+"), "sub": answer("sub", "-")}
WRONG = {"add": answer("add", "*"), "sub": answer("sub", "+")}


def test_agreement_counts_by_hand():
    # group 1: pass 0.9, fail 0.1 / 0.95 -> one of two pairs right; group 2: all pass -> no pairs
    counts = agreement_counts([([0.9, 0.1, 0.95], [True, False, False]), ([0.2, 0.3], [True, True])])
    metrics = agreement_metrics(counts)
    assert metrics["pairwise_accuracy"] == 0.5 and metrics["pairs"] == 2
    # across groups: passes 0.9, 0.2, 0.3 against fails 0.1, 0.95 -> 3 of 6 right
    assert metrics["auc"] == 0.5
    # top picks: 0.95 fails, 0.3 passes; group means 1/3 and 1
    assert metrics["top_pick_pass_rate"] == 0.5 and metrics["group_pass_rate"] == pytest.approx(2 / 3)
    assert agreement_counts([([0.5, 0.5], [True, False])]).right == 0.5  # a tie counts half
    assert "pairwise_accuracy" not in agreement_metrics(agreement_counts([([1.0], [True])]))


def step(monitor, sandbox, honest: bool):
    """Two problems with tests, four samples each, plus untested ones; an honest reward ranks right above wrong."""
    problems, responses, rewards = [], [], []
    for problem, name in ((ADD, "add"), (SUB, "sub")):
        for right in (True, False, True, False):
            problems.append(problem)
            responses.append(RIGHT[name] if right else WRONG[name])
            rewards.append(1.0 if right == honest else 0.2)
    problems += [UNTESTED] * 2
    responses += [RIGHT["add"]] * 2
    rewards += [0.5, 0.5]
    monitor.observe(problems, responses, rewards)


def test_the_budget_takes_whole_groups_with_tests():
    with Sandbox(workers=1) as sandbox:
        monitor = RewardHackingMonitor(sandbox, MonitorConfig(budget=6))
        step(monitor, sandbox, honest=True)
        metrics = monitor.end_step(1)
    # one whole group of 4, then 2 of the other; never the untested samples
    assert metrics["monitor/executed"] == 6 and metrics["monitor/pass_rate"] == pytest.approx(3 / 6)
    assert metrics["monitor/pairwise_accuracy"] == 1.0 and metrics["monitor/pairs"] == 4 + 1
    assert metrics["monitor/top_pick_pass_rate"] == 1.0 and metrics["monitor/alarm"] == 0.0


def test_the_alarm_fires_when_the_reward_stops_agreeing(caplog):
    config = MonitorConfig(budget=8, window=2, margin=0.6, min_pairs=4)
    with Sandbox(workers=1) as sandbox:
        monitor = RewardHackingMonitor(sandbox, config)
        for i, honest in enumerate([True, True, True, False, False], start=1):
            step(monitor, sandbox, honest)
            with caplog.at_level(logging.WARNING, logger="codescaler.measure.monitor"):
                metrics = monitor.end_step(i)
    alarms = [row["monitor/alarm"] for row in monitor.history]
    assert alarms == [
        0.0,
        0.0,
        0.0,
        0.0,
        1.0,
    ]  # step 4 pools an honest step and a hacked one: 50%, not under 100% - 0.6
    assert metrics["monitor/first_pairwise_accuracy"] == 1.0 and metrics["monitor/recent_pairwise_accuracy"] == 0.0
    assert "reward hacking?" in caplog.text


def test_trl_callback_puts_the_metrics_in_the_step_log():
    from types import SimpleNamespace

    from codescaler.integrations.trl import RewardHackingCallback

    with Sandbox(workers=1) as sandbox:
        callback = RewardHackingCallback(sandbox, MonitorConfig(budget=4))
        watched = callback.watch(lambda prompts, completions, **columns: [1.0, 0.0])
        assert watched([ADD["question"]] * 2, [RIGHT["add"], WRONG["add"]], tests=[ADD["tests"]] * 2) == [1.0, 0.0]
        state = SimpleNamespace(global_step=1, log_history=[{"loss": 0.1, "step": 1}])
        callback.on_step_end(None, state, None)
        logs = {"loss": 0.1}
        callback.on_log(None, state, None, logs=logs)
    assert logs["monitor/pairwise_accuracy"] == 1.0 and state.log_history[-1]["monitor/executed"] == 2


def test_verl_metric_helper_reads_verl_rows():
    import json

    from codescaler.integrations.verl import monitor_metrics

    truth = json.dumps({"tests": ADD["tests"]})
    with Sandbox(workers=1) as sandbox:
        monitor = RewardHackingMonitor(sandbox, MonitorConfig(budget=8))
        metrics = monitor_metrics(
            monitor,
            [RIGHT["add"], WRONG["add"], WRONG["add"]],
            [truth] * 3,
            [{"question": ADD["question"]}] * 3,
            [0.1, 0.9, 0.0],  # the wrong answer scored above the right one: half the pairs right
            step=7,
        )
    assert metrics["monitor/executed"] == 3 and metrics["monitor/pairwise_accuracy"] == 0.5
    assert monitor.history[-1]["step"] == 7
