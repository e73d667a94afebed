"""The judges of (question, code) pairs: every one has the same ``score``/``score_pairs``, so extraction,
shaping, ``rank``, ``bon`` and ``serve`` work over any of them. Importing this package loads no model and no
torch; :func:`load_judge` does, for the judge it loads."""

from codescaler.judges.base import Judge, ScoredPair
from codescaler.judges.factory import JUDGES, REWARD_JUDGE, SELECTION_JUDGE, default_model, load_judge

__all__ = ["JUDGES", "REWARD_JUDGE", "SELECTION_JUDGE", "Judge", "ScoredPair", "default_model", "load_judge"]
