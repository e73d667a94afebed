"""verl ``custom_reward_function`` entry points, checked against verl 0.9.1 (``make verl-test``).

In verl's config (``recipes/verl/codescaler_grpo.yaml``)::

    reward:
      reward_manager: {source: register, name: naive}   # verl's reward loop: one call per sample
      custom_reward_function:
        path: /path/to/codescaler/integrations/verl.py  # python -m codescaler.integrations.verl prints it
        name: compute_score
        reward_kwargs: {reward: rm, model: vllm+http://rm-node:8000}

verl 0.9's reward loop calls ``compute_score`` once per sample, concurrently; an RM that batches across
those calls (an engine, ``vllm+http://...``, or ``codescaler serve`` via ``CODESCALER_SERVER``) keeps the
GPU busy. ``compute_score_batch`` serves verl's legacy batch reward manager (one RM call per batch).

Rows come from ``codescaler data export NAME --format verl -o NAME.parquet``: ``reward_model.ground_truth`` is the
JSON of the problem's entry point, code prefix and a reference to its tests in ``NAME.tests.jsonl`` (read once per
problem by each worker; ``$CODESCALER_TEST_STORE_DIR`` names that file's folder where the workers see it elsewhere),
or of the tests themselves; ``extra_info.question`` is the question the RM reads.

Which reward: ``CODESCALER_REWARD`` = ``rm`` (default), ``execution`` (the binary baseline), ``hybrid``
(execution where tests exist) or ``budgeted`` (execution for ``CODESCALER_BUDGET_K`` samples per group,
default 2, chosen by ``CODESCALER_BUDGET_RULE`` = ``top`` or ``unsure``; the RM's P(pass) for the rest:
:func:`codescaler.rewards.kinds.budgeted_rewards`); ``reward_kwargs`` of the same names (``reward``,
``budget_k``, ``budget_rule``) override them. ``budgeted`` needs whole groups, so only
``compute_score_batch`` takes it; it answers ``{"score", "executed"}`` per sample (verl logs the extra keys).

The RM is ``CODESCALER_SERVER`` (a running ``codescaler serve``, shared by every verl worker) when set,
else ``reward_kwargs.model`` or ``CODESCALER_MODEL`` (default: the packaged ``codescaler-mini``) loaded once
per worker process; an engine's address there (``vllm+http://rm-node:8000``, ``sglang+http://...``)
scores on that server instead (``docs/engines.md``).

:func:`monitor_metrics` is the reward-hacking monitor (:mod:`codescaler.measure.monitor`) for a verl trainer: call
it once per step with the step's responses and rewards, and merge what it returns into the step's metrics.
"""

from __future__ import annotations

import json
import os
import threading
from functools import cache
from typing import Any

from codescaler.measure.monitor import RewardHackingMonitor
from codescaler.records.test_store import load_tests
from codescaler.rewards.kinds import RMFunction, budgeted_rewards, kind_rewards, model_rewards

# verl's reward loop calls compute_score from several threads of one worker at once: load the RM once.
_LOADING = threading.Lock()


def _rm(model: str | None = None) -> RMFunction:
    with _LOADING:
        return _load_rm(model)


@cache
def _load_rm(model: str | None) -> RMFunction:
    if os.environ.get("CODESCALER_SERVER"):
        from codescaler.integrations.client import RewardClient

        return RewardClient(os.environ["CODESCALER_SERVER"]).rewards
    from codescaler.judges import load_judge

    return model_rewards(load_judge("rm", model or os.environ.get("CODESCALER_MODEL")))


@cache
def _sandbox():
    from codescaler.execution.sandbox import Sandbox

    return Sandbox()


def _truth(ground_truth: Any) -> dict[str, Any]:
    if isinstance(ground_truth, str):
        truth = json.loads(ground_truth) if ground_truth.strip() else {}
    else:
        truth = dict(ground_truth or {})
    if "tests_ref" in truth:  # exported by reference: the tests are read from the store, once per problem
        truth["tests"] = load_tests(truth.pop("tests_ref"))
    return truth


def compute_score_batch(
    data_sources: list[str], solution_strs: list[str], ground_truths: list[Any], extra_infos: list[Any], **kwargs: Any
) -> list[float] | list[dict[str, float]]:
    """One reward per sample, computed in one RM batch (verl's batch reward manager). ``budgeted`` answers
    ``{"score", "executed"}`` per sample, so verl's ``reward_extra_info`` logs the fraction executed."""
    kind = kwargs.get("reward", os.environ.get("CODESCALER_REWARD", "rm"))
    # A sample the sandbox could not run stops the step (raise), or under `none` takes the RM's reward (hybrid,
    # budgeted); verl needs a number for every sample, so `execution` has no `none`.
    on_infrastructure = kwargs.get("on_infrastructure", os.environ.get("CODESCALER_ON_INFRASTRUCTURE", "raise"))
    if kind == "execution" and on_infrastructure != "raise":
        raise ValueError("the execution reward under verl needs a verdict for every sample: on_infrastructure=raise")
    problems = _problems(ground_truths, extra_infos)
    if kind == "budgeted":
        rewards, executed = budgeted_rewards(
            problems,
            list(solution_strs),
            rm=_rm(kwargs.get("model")),
            sandbox=_sandbox(),
            budget_k=int(kwargs.get("budget_k", os.environ.get("CODESCALER_BUDGET_K", 2))),
            budget_rule=kwargs.get("budget_rule", os.environ.get("CODESCALER_BUDGET_RULE", "top")),
            on_infrastructure=on_infrastructure,
        )
        return [{"score": r, "executed": float(e)} for r, e in zip(rewards, executed)]
    scored = kind_rewards(
        kind,
        problems,
        list(solution_strs),
        rm=_rm(kwargs.get("model")) if kind != "execution" else None,
        sandbox=_sandbox() if kind != "rm" else None,
        on_infrastructure=on_infrastructure,
    )
    return [0.0 if r is None else r for r in scored]  # verl needs a number: no tests scores as a failure


def compute_score(data_source: str, solution_str: str, ground_truth: Any, extra_info: Any = None, **kwargs: Any):
    """One sample's reward (verl's reward loop, the naive reward manager)."""
    if kwargs.get("reward", os.environ.get("CODESCALER_REWARD", "rm")) == "budgeted":
        raise ValueError(
            "the budgeted reward chooses which samples of a group to execute, and compute_score sees one sample: "
            "use compute_score_batch under a batch reward manager, or reward=hybrid"
        )
    return compute_score_batch([data_source], [solution_str], [ground_truth], [extra_info], **kwargs)[0]


def _problems(ground_truths: list[Any], extra_infos: list[Any]) -> list[dict[str, Any]]:
    return [
        {**truth, "question": (extra or {}).get("question") or truth.get("question", "")}
        for truth, extra in zip(map(_truth, ground_truths), extra_infos)
    ]


def monitor_metrics(
    monitor: RewardHackingMonitor,
    solution_strs: list[str],
    ground_truths: list[Any],
    extra_infos: list[Any],
    scores: list[float],
    step: int | None = None,
) -> dict[str, float]:
    """One step of the reward-hacking monitor over verl rows: the decoded responses, each row's
    ``reward_model.ground_truth`` and ``extra_info``, and the rewards they got (e.g. the sum over tokens of
    ``batch.batch["token_level_scores"]``). Returns ``monitor/...`` metrics for the trainer's logger."""
    monitor.observe(_problems(ground_truths, extra_infos), list(solution_strs), list(scores))
    return monitor.end_step(step)


if __name__ == "__main__":
    print(__file__)  # noqa: T201 - the path verl's config needs
