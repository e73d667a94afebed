"""The batch job of ``codescaler verify``, run by :func:`codescaler.records.batch.run_chunked`."""

from __future__ import annotations

from codescaler.records.batch import Output, Process


def verdicts(verifications: list) -> Output:
    """What ``verify`` and ``candidates`` write per problem (:data:`VERDICT_FIELDS`): one per response in each.
    ``passed`` and ``pass_fraction`` are null where the sandbox could not run the tests (status ``infrastructure``):
    not a failure; ``pass_fraction`` is null too where a failing program's other tests were not run. ``reasons``
    says why no program could be read from a response."""
    return {
        "passed": [None if v.infrastructure else v.passed for v in verifications],
        "pass_fraction": [None if v.pass_fraction is None else round(v.pass_fraction, 6) for v in verifications],
        "status": [v.status for v in verifications],
        "reasons": [v.extraction for v in verifications],
        "detail": [v.detail for v in verifications],
    }


def verify_job(sandbox, mode="lenient", time_limit=None, all_tests=False) -> Process:
    """Per problem: passed, pass_fraction and status per response (``time_limit``: a ``verify.TimeLimit``; a failing
    program's tests stop at its first failure unless ``all_tests``, and its pass_fraction is then null)."""
    from codescaler.execution.verify import verify_responses

    def process(items: list[tuple[int, dict, dict]]) -> list[Output]:
        problems = [p for _, _, p in items]
        verified = verify_responses(problems, sandbox, mode=mode, time_limit=time_limit, all_tests=all_tests)
        return [verdicts(v) for v in verified]

    return process
