"""The batch jobs of ``codescaler sample`` and ``candidates``, run by :func:`codescaler.records.batch.run_chunked`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from codescaler.execution.jobs import verdicts
from codescaler.records.batch import Output, Process
from codescaler.records.schema import VERDICT_FIELDS

if TYPE_CHECKING:
    from codescaler.training.generation import SampleConfig


def sample_job(model_name_or_path: str, config: SampleConfig, gguf_file: str | None = None) -> Process:
    """Per problem: its record with ``config.n`` new samples after its ``responses`` (another ``seed`` adds to a
    first run). The model loads once, here.

    The record's verdicts are dropped: they describe its old responses, and ``candidates`` verifies them all
    again. ``config.completion``: continue ``code_prefix`` (else the question) as raw text, recorded as
    ``code_prefix``.
    """
    from codescaler.training.generation import make_sampler

    sampler = make_sampler(model_name_or_path, config, gguf_file=gguf_file)

    def prompt(problem: dict) -> str:
        return (problem.get("code_prefix") or problem["question"]) if config.completion else problem["question"]

    def process(items: list[tuple[int, dict, dict]]) -> list[Output]:
        problems = [p for _, _, p in items]
        samples = sampler.generate([prompt(p) for p in problems], config, show_progress=True)
        out = []
        for problem, new in zip(problems, samples):
            old = problem.get("responses", [])
            sources = problem.get("candidate_sources", ["sample"] * len(old))
            record = {k: v for k, v in problem.items() if k not in VERDICT_FIELDS}
            if config.completion:
                record["code_prefix"] = prompt(problem)
            record["responses"], record["candidate_sources"] = old + new, sources + ["sample"] * len(new)
            out.append(record)
        return out

    return process


_KEPT_BY_CANDIDATES = ("question", "language", "code_prefix", "split", "source")


def candidates_job(sandbox, config=None, mode="lenient") -> Process:
    """Per problem: its candidates (samples, reference, mutants, unaligned), each verified by execution."""
    from codescaler.execution.verify import verify_responses
    from codescaler.training.candidates import build_candidates

    def process(items: list[tuple[int, dict, dict]]) -> list[Output]:
        problems = build_candidates([p for _, _, p in items], config)
        out = []
        # every test: a rejected candidate's pass fraction orders the hard negatives
        verified = verify_responses(problems, sandbox, mode=mode, all_tests=True)
        for problem, verifications in zip(problems, verified):
            kept: dict[str, Any] = {
                k: problem[k] for k in ("question", "language", "code_prefix", "split", "source") if k in problem
            }
            out.append(
                {
                    **kept,
                    "responses": problem["responses"],
                    "candidate_sources": problem["candidate_sources"],
                    **verdicts(verifications),
                }
            )
        return out

    return process
