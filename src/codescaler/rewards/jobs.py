"""The batch jobs of ``codescaler score`` and ``rank``, run by :func:`codescaler.records.batch.run_chunked`."""

from __future__ import annotations

from dataclasses import asdict

from codescaler.records.batch import Output, Process
from codescaler.records.schema import Answer


def score_job(model, config=None) -> Process:
    """Per answer: a :class:`codescaler.RewardResult` row."""
    from codescaler.rewards.kinds import reward

    def process(items: list[tuple[int, dict, Answer]]) -> list[Output]:
        answers = [a for _, _, a in items]
        results = reward(
            model,
            [a["question"] for a in answers],
            [a["response"] for a in answers],
            code_prefixes=[a.get("code_prefix") for a in answers],
            config=config,
            show_progress=False,
        )
        return [r.to_dict() for r in results]

    return process


def rank_job(model, config=None, *, verify_top: int = 0, sandbox=None) -> Process:
    """Per problem: a :class:`codescaler.records.schema.RankRow`, ``order`` best first; with ``verify_top`` K, the
    judge's top programs are also run against the problem's tests until one passes, at most K
    (:func:`codescaler.rewards.selective.verify_top`), and ``verified`` says which ran and how they did; a problem
    with no tests is ranked by the judge alone, and ``not_run`` says why."""
    from codescaler.rewards.kinds import ranking, reward
    from codescaler.rewards.selective import verify_top as verify

    def process(items: list[tuple[int, dict, dict]]) -> list[Output]:
        flat = [(p, r) for _, _, p in items for r in p["responses"]]
        results = reward(
            model,
            [p["question"] for p, _ in flat],
            [r for _, r in flat],
            code_prefixes=[p.get("code_prefix") for p, _ in flat],
            config=config,
            show_progress=False,
        )
        outputs, start = [], 0
        for _, _, problem in items:
            mine = results[start : start + len(problem["responses"])]
            start += len(mine)
            rewards = [r.reward for r in mine]
            row = {
                "rewards": rewards,
                "scores": [r.score for r in mine],
                "p_pass": [r.p_pass for r in mine],
                "valid": [r.valid for r in mine],
                "reasons": [r.reason for r in mine],
                "truncated": [r.truncated for r in mine],
                "order": ranking(rewards),
                "codes": [r.code for r in mine],
            }
            if verify_top and problem.get("tests"):
                row["verified"] = asdict(verify(problem, rewards, verify_top, sandbox))
            elif verify_top:  # ranked all the same, and said so
                row["not_run"] = "the record has no tests"
            outputs.append(row)
        return outputs

    return process
