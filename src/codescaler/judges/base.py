"""What every judge of (question, code) pairs offers (:class:`Judge`), what it returns per pair
(:class:`ScoredPair`), and the batching every judge uses. Below every judge: each imports this, none is
imported here (the judges by name are :mod:`codescaler.judges.factory`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from codescaler.judges.calibration import Calibration

# An RM served by an inference engine is named by its address: ``vllm+http://host:8000``, ``sglang+http://...``.
ENGINE_SCHEMES = ("vllm", "sglang")


@dataclass(frozen=True)
class ScoredPair:
    """One pair's judge output: the raw scalar, whether the input was cut to ``max_length``, its length."""

    score: float
    truncated: bool
    num_tokens: int


class Judge(ABC):
    """What every judge offers and what its callers read: :meth:`score_pairs` (its own), plain floats from it,
    :meth:`fingerprint` (what its cached scores are keyed by) and ``calibration`` (raw score -> P(pass), where one
    was fitted for these weights)."""

    calibration: Calibration | None = None

    @abstractmethod
    def fingerprint(self) -> list[Any]:
        """What decides its scores (weights, reading, calibration): cached scores of another judge never match."""

    @abstractmethod
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
