"""The reward: extraction -> judge -> shaping, composed into the reward kinds RL trains on
(:mod:`codescaler.rewards.kinds`), and selective execution, the rules that spend a bounded sandbox budget
where the judge's order says it matters (:mod:`codescaler.rewards.selective`)."""

from codescaler.rewards.kinds import REWARD_KINDS, RewardResult, ScoringConfig, kind_rewards, rank, reward
from codescaler.rewards.shaping import shape_reward

__all__ = ["REWARD_KINDS", "RewardResult", "ScoringConfig", "kind_rewards", "rank", "reward", "shape_reward"]
