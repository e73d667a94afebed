"""codescaler: execution-free code reward models (after CodeScaler, arXiv 2602.17684)."""

from typing import TYPE_CHECKING, Any

from codescaler.extract import Extraction, check_program, extract_code
from codescaler.reward import RewardResult, ScoringConfig, rank, reward
from codescaler.shaping import shape_reward

if TYPE_CHECKING:
    from codescaler.model import RewardModel, ScoredPair

__version__ = "0.1.0"

__all__ = [
    "Extraction",
    "RewardModel",
    "RewardResult",
    "ScoredPair",
    "ScoringConfig",
    "check_program",
    "extract_code",
    "rank",
    "reward",
    "shape_reward",
]


def __getattr__(name: str) -> Any:
    # The model imports torch: only code that scores pays for it (``codescaler verify`` and ``data`` do not).
    if name in ("RewardModel", "ScoredPair"):
        from codescaler import model

        return getattr(model, name)
    raise AttributeError(f"module 'codescaler' has no attribute {name!r}")
