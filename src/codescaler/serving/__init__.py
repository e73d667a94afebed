"""HTTP services: the reward server (:mod:`~codescaler.serving.reward_server`), the sandbox behind
SandboxFusion's API (:mod:`~codescaler.serving.sandbox_server`), and what both share: limits, metrics and
starting one for tests (:mod:`~codescaler.serving.http`)."""
