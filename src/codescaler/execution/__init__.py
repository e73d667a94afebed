"""Execution: a pool of jailed workers that run untrusted programs in six languages
(:mod:`codescaler.execution.sandbox`, the stdlib-only ``worker*`` modules), and labels from it: verdicts, time
limits and pass@k (:mod:`codescaler.execution.verify`). Imports no torch."""
