"""codescaler: execution-free code reward models (after CodeScaler, arXiv 2602.17684).

The subsystems, lowest first (each imports only those before it; ``tests/test_architecture.py`` checks it):
``records`` -> ``extraction`` -> ``judges`` -> ``execution`` -> ``rewards`` -> ``benchmarks`` -> ``measure``
-> ``training`` -> ``evaluation`` -> ``serving`` -> ``integrations`` -> ``rl`` -> ``cli``.
"""

from typing import TYPE_CHECKING, Any

from codescaler.extraction import Extraction, check_program, extract_code
from codescaler.judges import ScoredPair, load_judge
from codescaler.rewards import RewardResult, ScoringConfig, rank, reward, shape_reward

if TYPE_CHECKING:
    from codescaler.judges.reward_model import RewardModel

__version__ = "0.1.0"

__all__ = [
    "Extraction",
    "RewardModel",
    "RewardResult",
    "ScoredPair",
    "ScoringConfig",
    "check_program",
    "extract_code",
    "load_judge",
    "rank",
    "reward",
    "shape_reward",
]


def __getattr__(name: str) -> Any:
    # The model imports torch: only code that scores pays for it (``codescaler verify`` and ``data`` do not).
    if name == "RewardModel":
        from codescaler.judges.reward_model import RewardModel

        return RewardModel
    raise AttributeError(f"module 'codescaler' has no attribute {name!r}")
