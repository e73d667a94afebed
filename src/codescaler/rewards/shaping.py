"""Validity-preserving reward shaping.

An invalid answer (no extractable program, or one that does not parse) gets ``invalid_reward`` (0.0);
a valid one gets ``transform(score)``. With ``softplus`` and ``sigmoid`` every valid reward is strictly
positive, so no invalid answer outranks a valid one, and both transforms are monotone, so the RM's order
among valid answers is kept (ties appear only where float64 saturates, beyond about ±700 for softplus).
``raw`` passes the score through unshaped: it is the ablation, and a negative score then ranks below an
invalid answer.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import Literal

Shaping = Literal["softplus", "sigmoid", "raw"]

# Smallest positive normal float: keeps a valid reward > 0 where the transform underflows.
_TINY = sys.float_info.min
_HUGE = sys.float_info.max


def _softplus(x: float) -> float:
    # log(1 + e^x) without overflow: max(x, 0) + log1p(e^-|x|)
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


_POSITIVE: dict[str, Callable[[float], float]] = {"softplus": _softplus, "sigmoid": _sigmoid}
SHAPINGS: tuple[str, ...] = ("softplus", "sigmoid", "raw")


def pass_probability(reward: float) -> float:
    """The probability a softplus-shaped reward stands for: ``r = softplus(x)`` gives ``σ(x) = 1 - e^(-r)``.

    Over a calibrated judge ``x`` is the calibrated logit, so this is its P(pass); over an uncalibrated RM
    it is the Bradley–Terry model's own reading of its score. An invalid answer's reward of 0 gives 0.
    """
    return -math.expm1(-reward)


def shape_reward(score: float | None, valid: bool, shaping: Shaping = "softplus", invalid_reward: float = 0.0) -> float:
    """The reward for one answer from its RM ``score`` and whether its code is ``valid``.

    Always a finite float. A NaN score (a broken model) counts as the worst valid score.
    """
    if shaping not in SHAPINGS:
        raise ValueError(f"unknown shaping {shaping!r}; choose one of {', '.join(SHAPINGS)}")
    if not valid:
        return float(invalid_reward)
    if score is None:
        raise ValueError("a valid answer needs an RM score; got None")
    x = float(score)
    if math.isnan(x):
        x = -math.inf
    if shaping == "raw":
        return min(max(x, -_HUGE), _HUGE)
    return min(max(_POSITIVE[shaping](x), _TINY), _HUGE)
