"""The composed reward: extract -> score -> shape, for RL rewards and for ranking candidates.

The RM never sees an invalid answer: its score is ``None`` and its reward is ``invalid_reward``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from codescaler.extract import Check, Mode, extract_program
from codescaler.model import RewardModel
from codescaler.shaping import Shaping, shape_reward


@dataclass
class RewardConfig:
    """How answers become rewards. Defaults follow the CodeScaler paper and its released code."""

    mode: Mode = field(default="strict", metadata={"help": "extraction rule: strict (paper) or lenient"})
    check: Check = field(
        default="syntax",
        metadata={"help": "syntax (paper): the code must parse; names: Python must also define every name it uses"},
    )
    shaping: Shaping = field(
        default="softplus", metadata={"help": "softplus (validity-preserving), sigmoid, or raw (ablation)"}
    )
    language: str = field(default="python", metadata={"help": "language the code must parse as"})
    invalid_reward: float = field(default=0.0, metadata={"help": "reward of an answer with no valid code"})
    batch_size: int | None = field(
        default=None, metadata={"help": "most pairs in one forward pass (8 on CPU, 64 on GPU)"}
    )
    max_batch_tokens: int = field(default=16384, metadata={"help": "most padded tokens in one forward pass"})


@dataclass(frozen=True)
class RewardResult:
    code: str
    valid: bool
    reason: str | None
    score: float | None
    reward: float
    truncated: bool


def reward(
    model: RewardModel,
    questions: Sequence[str],
    responses: Sequence[str | bytes],
    *,
    code_prefixes: Sequence[str | None] | None = None,
    config: RewardConfig | None = None,
    show_progress: bool = True,
) -> list[RewardResult]:
    """One :class:`RewardResult` per (question, response), in input order."""
    config = config or RewardConfig()
    if len(questions) != len(responses):
        raise ValueError(f"got {len(questions)} questions but {len(responses)} responses")
    prefixes = code_prefixes if code_prefixes is not None else [None] * len(responses)
    if len(prefixes) != len(responses):
        raise ValueError(f"got {len(prefixes)} code_prefixes for {len(responses)} responses")
    programs = [extract_program(r, config.language, config.mode, p, config.check) for r, p in zip(responses, prefixes)]
    valid = [i for i, p in enumerate(programs) if p.valid]
    scored = model.score_pairs(
        [questions[i] for i in valid],
        [programs[i].code for i in valid],
        batch_size=config.batch_size,
        max_batch_tokens=config.max_batch_tokens,
        show_progress=show_progress,
    )
    by_index = dict(zip(valid, scored))
    results = []
    for i, p in enumerate(programs):
        s = by_index.get(i)
        score = s.score if s is not None else None
        results.append(
            RewardResult(
                code=p.code,
                valid=p.valid,
                reason=p.reason,
                score=score,
                reward=shape_reward(score, p.valid, config.shaping, config.invalid_reward),
                truncated=s.truncated if s is not None else False,
            )
        )
    return results


def ranking(rewards: Sequence[float]) -> list[int]:
    """Indices best first; ties keep input order."""
    return sorted(range(len(rewards)), key=lambda i: -rewards[i])


def rank(
    model: RewardModel,
    question: str,
    responses: Sequence[str],
    *,
    code_prefix: str | None = None,
    config: RewardConfig | None = None,
    show_progress: bool = False,
) -> list[tuple[int, RewardResult]]:
    """The candidates of one problem, best first, as ``(input index, result)``."""
    results = reward(
        model,
        [question] * len(responses),
        responses,
        code_prefixes=[code_prefix] * len(responses),
        config=config,
        show_progress=show_progress,
    )
    return [(i, results[i]) for i in ranking([r.reward for r in results])]
