"""The judges of (question, code) pairs, by name, and the one function that loads them.

* ``rm``: a trained Bradley–Terry reward model (:class:`codescaler.model.RewardModel`), the default;
* ``coder``, ``reviewer``, ``coder-reviewer``: a causal LM's likelihood, no training
  (:class:`codescaler.likelihood.LikelihoodJudge`), for selection only.

Every judge has the same ``score``/``score_pairs``, so extraction, shaping, ``rank``, ``bon`` and ``serve``
work over any of them.
"""

from __future__ import annotations

from typing import Any

from codescaler.weights import DEFAULT_LM, DEFAULT_MODEL

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


def load_judge(judge: str = "rm", name_or_path: str | None = None, **kwargs: Any) -> Any:
    """Load ``judge`` over ``name_or_path`` (its default when None); ``kwargs`` go to ``from_pretrained``."""
    if judge not in JUDGES:
        raise ValueError(f"judge must be one of {', '.join(JUDGES)}, got {judge!r}")
    name_or_path = name_or_path or default_model(judge)
    if judge == "rm":
        from codescaler.model import RewardModel

        return RewardModel.from_pretrained(name_or_path, **kwargs)
    from codescaler.likelihood import LikelihoodJudge

    return LikelihoodJudge.from_pretrained(name_or_path, direction=judge, **kwargs)
