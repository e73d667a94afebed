"""The judges by name, the defaults chosen by measurement, and :func:`load_judge`, above every judge.

* ``rm``: a trained Bradley–Terry reward model (:class:`codescaler.judges.reward_model.RewardModel`), the default;
* ``coder``, ``reviewer``, ``coder-reviewer``: a causal LM's likelihood, no training
  (:class:`codescaler.judges.likelihood.LikelihoodJudge`), for selection only;
* an engine's address (``vllm+http://...``): an RM served by vLLM or SGLang
  (:class:`codescaler.judges.engine.EngineRewardModel`).

The judges are imported only when loaded: torch is paid for by code that scores.
"""

from __future__ import annotations

from typing import Any

from codescaler.judges.base import Judge, engine_scheme
from codescaler.judges.weights import DEFAULT_LM, DEFAULT_MODEL
from codescaler.records.errors import unloadable

JUDGES: tuple[str, ...] = ("rm", "coder", "reviewer", "coder-reviewer")
# The defaults, chosen by measurement (docs/results.md, "Which judge by default"). For selection (`rank`,
# `bon`): the best top-1 on CodeT's pool among the judges that cost at most 20 s per problem at N=100 on
# 2 cores. For rewards (`score`, `serve`, RL): the best reward model, since a policy trained against an
# LM's likelihood can learn to raise the likelihood instead of its correctness.
SELECTION_JUDGE = "rm"
REWARD_JUDGE = "rm"


def default_model(judge: str) -> str:
    """The packaged weights a judge uses when none are named: the RM, or the causal LM it was trained from."""
    return DEFAULT_MODEL if judge == "rm" else DEFAULT_LM


def load_judge(judge: str = "rm", name_or_path: str | None = None, **kwargs: Any) -> Judge:
    """Load ``judge`` over ``name_or_path`` (its default when None); ``kwargs`` go to ``from_pretrained``."""
    if judge not in JUDGES:
        raise ValueError(f"judge must be one of {', '.join(JUDGES)}, got {judge!r}")
    name_or_path = name_or_path or default_model(judge)
    if engine_scheme(name_or_path):
        if judge != "rm":
            raise ValueError(f"{name_or_path} serves a reward model; the {judge} judge reads a causal LM's weights")
        from codescaler.judges.engine import EngineRewardModel

        # dtype and device are the server's; the tokenizer and max_length make the ids it is sent
        engine_kwargs = {k: kwargs[k] for k in ("tokenizer", "max_length") if kwargs.get(k) is not None}
        return EngineRewardModel.from_pretrained(name_or_path, **engine_kwargs)
    kwargs.pop("tokenizer", None)  # an engine's: local weights carry their own
    try:
        if judge == "rm":
            from codescaler.judges.reward_model import RewardModel

            return RewardModel.from_pretrained(name_or_path, **kwargs)
        from codescaler.judges.likelihood import LikelihoodJudge

        return LikelihoodJudge.from_pretrained(name_or_path, direction=judge, **kwargs)
    except OSError as err:  # no such folder, hub id or packaged name: said in one line, not transformers' page
        raise unloadable("model", name_or_path, err) from err
