"""Evaluating a policy the way the CodeScaler paper does (:mod:`~codescaler.evaluation.policy`): its benchmarks,
LiveCodeBench's prompt, n samples per problem, every test run; and the report, with a baseline policy beside
it (:mod:`~codescaler.evaluation.report`)."""
