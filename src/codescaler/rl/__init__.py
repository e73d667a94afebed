"""GRPO with TRL on one machine, over the reward kinds (:mod:`codescaler.rl.grpo`): a recipe over the public
APIs of TRL and of :mod:`codescaler.integrations.trl`."""
