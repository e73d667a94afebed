"""Calibrated P(pass): Platt scaling of a judge's raw scores, fitted on held-out verified candidates.

``p_pass = σ(a·score + b)`` with ``a > 0``, so the order of scores is kept. A judge that carries a
calibration (``"calibration"`` in its ``codescaler_config.json``) reports ``p_pass`` beside each raw
score, and shaping applies softplus to the calibrated logit ``a·score + b``: valid answers still outrank
invalid ones and keep their order, and a reward's size now says how likely the program is to pass.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Calibration:
    a: float
    b: float
    fitted_on: str = ""  # what the fit saw: data, split, counts

    def logit(self, score: float) -> float:
        return self.a * score + self.b

    def p_pass(self, score: float) -> float:
        return _sigmoid(self.logit(score))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        return cls(float(data["a"]), float(data["b"]), str(data.get("fitted_on", "")))


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def fit_platt(scores: Sequence[float], passed: Sequence[bool], *, fitted_on: str = "") -> Calibration:
    """Platt's fit: Newton's method on the log loss, against his smoothed targets (so a perfectly separable
    set still gives finite ``a`` and ``b``). Raises ValueError unless both outcomes occur."""
    if len(scores) != len(passed):
        raise ValueError(f"got {len(scores)} scores but {len(passed)} labels")
    positives = sum(bool(p) for p in passed)
    negatives = len(passed) - positives
    if not positives or not negatives:
        raise ValueError(f"calibration needs passing and failing programs; got {positives} and {negatives}")
    high, low = (positives + 1) / (positives + 2), 1 / (negatives + 2)
    targets = [high if p else low for p in passed]
    a, b = 0.0, math.log((negatives + 1) / (positives + 1))
    for _ in range(100):
        # gradient and Hessian of the mean log loss in (a, b), with a tiny ridge for a flat start
        ga = gb = haa = hab = hbb = 0.0
        for s, t in zip(scores, targets):
            p = _sigmoid(a * s + b)
            d, w = p - t, max(p * (1 - p), 1e-12)
            ga, gb = ga + d * s, gb + d
            haa, hab, hbb = haa + w * s * s, hab + w * s, hbb + w
        haa, hbb = haa + 1e-9, hbb + 1e-9
        det = haa * hbb - hab * hab
        step_a, step_b = (hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det
        a, b = a - step_a, b - step_b
        if abs(step_a) < 1e-10 and abs(step_b) < 1e-10:
            break
    if a <= 0:
        raise ValueError(f"the scores do not rank passing programs higher (fitted a = {a:.4g}): nothing to calibrate")
    return Calibration(a, b, fitted_on)


def expected_calibration_error(probabilities: Sequence[float], passed: Sequence[bool], bins: int = 10) -> float:
    """ECE: the gap between predicted and observed pass rates, averaged over equal-width bins by their size."""
    total = 0.0
    for k in range(bins):
        members = [
            (p, y)
            for p, y in zip(probabilities, passed)
            if k / bins <= p < (k + 1) / bins or (k == bins - 1 and p == 1)
        ]
        if members:
            gap = sum(p for p, _ in members) / len(members) - sum(bool(y) for _, y in members) / len(members)
            total += len(members) * abs(gap)
    return total / len(probabilities)


def brier_score(probabilities: Sequence[float], passed: Sequence[bool]) -> float:
    return sum((p - bool(y)) ** 2 for p, y in zip(probabilities, passed)) / len(probabilities)
