"""codescaler: execution-free code reward models (after CodeScaler, arXiv 2602.17684)."""

from codescaler.extract import Extraction, check_program, extract_code
from codescaler.model import RewardModel, ScoredPair
from codescaler.reward import RewardConfig, RewardResult, rank, reward
from codescaler.shaping import shape_reward

__version__ = "0.1.0"

__all__ = [
    "Extraction",
    "RewardConfig",
    "RewardModel",
    "RewardResult",
    "ScoredPair",
    "check_program",
    "extract_code",
    "rank",
    "reward",
    "shape_reward",
]
