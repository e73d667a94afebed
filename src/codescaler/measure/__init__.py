"""Measuring judges and rewards: best-of-N selection and its reports (``bon*``), pairwise accuracy, RM-Bench and
calibration data (:mod:`~codescaler.measure.rm_eval`), and the reward-hacking monitor that measures a reward's
agreement with execution during RL (:mod:`~codescaler.measure.monitor`)."""
