"""The judges of (question, code) pairs, by name, and the one function that loads them.

* ``rm``: a trained Bradley–Terry reward model (:class:`codescaler.model.RewardModel`), the default;
* ``coder``, ``reviewer``, ``coder-reviewer``: a causal LM's likelihood, no training
  (:class:`codescaler.likelihood.LikelihoodJudge`), for selection only.

Every judge has the same ``score``/``score_pairs``, so extraction, shaping, ``rank``, ``bon`` and ``serve``
work over any of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from codescaler.weights import DEFAULT_LM, DEFAULT_MODEL

JUDGES: tuple[str, ...] = ("rm", "coder", "reviewer", "coder-reviewer")
# The defaults, chosen by measurement (docs/results.md, "Which judge by default"). For selection (`rank`,
# `bon`): the best top-1 on CodeT's pool among the judges that cost at most 20 s per problem at N=100 on
# 2 cores. For rewards (`score`, `serve`, RL): the best reward model, since a policy trained against an
# LM's likelihood can learn to raise the likelihood instead of its correctness.
SELECTION_JUDGE = "rm"
REWARD_JUDGE = "rm"


# An RM served by an inference engine is named by its address: ``vllm+http://host:8000``, ``sglang+http://...``.
ENGINE_SCHEMES = ("vllm", "sglang")


@dataclass(frozen=True)
class ScoredPair:
    """One pair's judge output: the raw scalar, whether the input was cut to ``max_length``, its length."""

    score: float
    truncated: bool
    num_tokens: int


class Judge:
    """What every judge offers: :meth:`score_pairs` (its own), and plain floats from it."""

    def score_pairs(
        self,
        questions: Sequence[str],
        codes: Sequence[str],
        *,
        batch_size: int | None = None,
        max_batch_tokens: int = 16384,
        show_progress: bool = True,
    ) -> list[ScoredPair]:
        """One :class:`ScoredPair` per (question, code), in input order."""
        raise NotImplementedError

    def score(self, questions: Sequence[str], codes: Sequence[str], **options: Any) -> list[float]:
        """Raw scores, one Python float per (question, code) pair, in input order; batched, deduplicated and
        length-sorted by the judge. ``options``: :meth:`score_pairs`'s (``batch_size``, ``max_batch_tokens``
        bound one forward pass or request; ``show_progress``)."""
        return [s.score for s in self.score_pairs(questions, codes, **options)]

    def score_one(self, question: str, code: str) -> float:
        return self.score([question], [code], show_progress=False)[0]


def engine_scheme(name_or_path: str) -> str | None:
    """``vllm`` for ``vllm+http://...`` (an engine-served RM's address), None for weights."""
    scheme, sep, rest = name_or_path.partition("+")
    return scheme if sep and scheme in ENGINE_SCHEMES and rest.startswith(("http://", "https://")) else None


def default_model(judge: str) -> str:
    """The packaged weights a judge uses when none are named: the RM, or the causal LM it was trained from."""
    return DEFAULT_MODEL if judge == "rm" else DEFAULT_LM


def load_judge(judge: str = "rm", name_or_path: str | None = None, **kwargs: Any) -> Any:
    """Load ``judge`` over ``name_or_path`` (its default when None); ``kwargs`` go to ``from_pretrained``."""
    if judge not in JUDGES:
        raise ValueError(f"judge must be one of {', '.join(JUDGES)}, got {judge!r}")
    name_or_path = name_or_path or default_model(judge)
    if engine_scheme(name_or_path):
        if judge != "rm":
            raise ValueError(f"{name_or_path} serves a reward model; the {judge} judge reads a causal LM's weights")
        from codescaler.engine import EngineRewardModel

        # dtype and device are the server's; the tokenizer and max_length make the ids it is sent
        engine_kwargs = {k: kwargs[k] for k in ("tokenizer", "max_length") if kwargs.get(k) is not None}
        return EngineRewardModel.from_pretrained(name_or_path, **engine_kwargs)
    kwargs.pop("tokenizer", None)  # an engine's: local weights carry their own
    if judge == "rm":
        from codescaler.model import RewardModel

        return RewardModel.from_pretrained(name_or_path, **kwargs)
    from codescaler.likelihood import LikelihoodJudge

    return LikelihoodJudge.from_pretrained(name_or_path, direction=judge, **kwargs)


def batches(items: list[int], lengths: list[int], batch_size: int, max_tokens: int) -> list[list[int]]:
    """Consecutive batches of at most ``batch_size`` items whose padded size fits ``max_tokens``.

    ``items`` come sorted longest first, so a batch's first length is its padded width.
    """
    batches: list[list[int]] = []
    current: list[int] = []
    width = 0
    for item, length in zip(items, lengths):
        width_if_added = max(width, length)
        if current and (len(current) >= batch_size or width_if_added * (len(current) + 1) > max_tokens):
            batches.append(current)
            current, width_if_added = [], length
        current.append(item)
        width = width_if_added
    if current:
        batches.append(current)
    return batches
