"""verl ``custom_reward_function`` entry points.

In a verl config::

    custom_reward_function:
      path: /path/to/codescaler/integrations/verl.py  # python -m codescaler.integrations.verl prints it
      name: compute_score            # per sample, the naive reward manager
      # name: compute_score_batch    # the batch reward manager: one RM call per training batch

Rows come from ``codescaler data export NAME --format verl``: ``reward_model.ground_truth`` is the JSON
of the problem's tests (and entry point / code prefix), ``extra_info.question`` the question the RM reads.

Which reward: ``CODESCALER_REWARD`` = ``rm`` (default), ``execution`` (the binary baseline) or ``hybrid``
(execution where tests exist). The RM is ``CODESCALER_SERVER`` (a running ``codescaler serve``, shared by
every verl worker) when set, else ``CODESCALER_MODEL`` (default: the packaged ``codescaler-mini``) loaded
once per worker process.
"""

from __future__ import annotations

import json
import os
from functools import cache
from typing import Any

from codescaler.reward import RewardConfig, reward


@cache
def _model():
    from codescaler.model import DEFAULT_MODEL, RewardModel

    return RewardModel.from_pretrained(os.environ.get("CODESCALER_MODEL", DEFAULT_MODEL))


@cache
def _client():
    from codescaler.integrations.client import RewardClient

    return RewardClient(os.environ["CODESCALER_SERVER"])


@cache
def _sandbox():
    from codescaler.sandbox import Sandbox

    return Sandbox()


def _truth(ground_truth: Any) -> dict[str, Any]:
    if isinstance(ground_truth, str):
        return json.loads(ground_truth) if ground_truth.strip() else {}
    return dict(ground_truth or {})


def _rm(questions: list[str], responses: list[str]) -> list[float]:
    if os.environ.get("CODESCALER_SERVER"):
        return _client().rewards(questions, responses)
    results = reward(_model(), questions, responses, config=RewardConfig(), show_progress=False)
    return [r.reward for r in results]


def _execution(truths: list[dict[str, Any]], responses: list[str]) -> list[float | None]:
    from codescaler.verify import verify_responses

    which = [i for i, t in enumerate(truths) if t.get("tests")]
    problems = [{**truths[i], "id": str(i), "question": "", "responses": [responses[i]]} for i in which]
    out: list[float | None] = [None] * len(responses)
    for i, verdicts in zip(which, verify_responses(problems, _sandbox(), mode="strict")):
        out[i] = 1.0 if verdicts[0].passed else 0.0
    return out


def compute_score_batch(
    data_sources: list[str], solution_strs: list[str], ground_truths: list[Any], extra_infos: list[Any], **kwargs: Any
) -> list[float]:
    """One reward per sample, computed in one RM batch (verl's batch reward manager)."""
    kind = kwargs.get("reward", os.environ.get("CODESCALER_REWARD", "rm"))
    truths = [_truth(t) for t in ground_truths]
    questions = [(e or {}).get("question") or t.get("question", "") for e, t in zip(extra_infos, truths)]
    responses = list(solution_strs)
    if kind == "rm":
        return _rm(questions, responses)
    if kind not in ("execution", "hybrid"):
        raise ValueError(f"CODESCALER_REWARD must be rm, execution or hybrid, got {kind!r}")
    executed = _execution(truths, responses)
    missing = [i for i, r in enumerate(executed) if r is None]
    if kind == "execution" or not missing:
        return [0.0 if r is None else r for r in executed]
    for i, value in zip(missing, _rm([questions[i] for i in missing], [responses[i] for i in missing])):
        executed[i] = value
    return executed


def compute_score(data_source: str, solution_str: str, ground_truth: Any, extra_info: Any = None, **kwargs: Any):
    """One sample's reward (verl's naive reward manager)."""
    return compute_score_batch([data_source], [solution_str], [ground_truth], [extra_info], **kwargs)[0]


if __name__ == "__main__":
    print(__file__)  # noqa: T201 - the path verl's config needs
