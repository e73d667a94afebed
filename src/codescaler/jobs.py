"""File-to-file batch jobs behind ``codescaler score``, ``rank``, ``verify``, ``sample`` and ``candidates``.

Input is read in chunks; each chunk is processed in one call (so candidates of a problem share their
prefix, and programs spread over every sandbox worker) and written before the next starts, which is
what makes ``--resume`` lose nothing. A malformed record yields an output record with ``error``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from codescaler.jsonl import ResumableWriter, read_lines
from codescaler.schema import VERDICT_FIELDS, Answer, Problem, RecordError, check_record

if TYPE_CHECKING:
    from codescaler.generation import SampleConfig

Output = dict[str, Any]
# (line number, record) -> what the job needs of it; raises RecordError for a malformed record
Parse = Callable[[int, dict], Any]
# parsed items (line number, record, parsed) of one chunk -> one output per item
Process = Callable[[list[tuple[int, dict, Any]]], list[Output]]


def _count_lines(path: str | Path) -> int:
    with open(path, "rb") as f:
        return sum(1 for line in f if line.strip())


def run_chunked(
    in_path: str | Path,
    out_path: str | Path | None,
    parse: Parse,
    process: Process,
    *,
    resume: bool = False,
    chunk_size: int = 256,
    desc: str = "records",
    show_progress: bool = True,
) -> Iterator[Output]:
    """Parse each line, process the good ones a chunk at a time, write and yield every output in order.

    ``parse`` returns what ``process`` needs for one record; ``process`` returns one output per item.
    """
    writer = ResumableWriter(out_path, resume=resume) if out_path is not None else None
    done = writer.done if writer is not None else set()
    pending: list[tuple[int, dict | RecordError]] = []

    def flush() -> list[Output]:
        good, out = [], {}
        for number, record in pending:
            try:
                if isinstance(record, RecordError):
                    raise record
                good.append((number, record, parse(number, record)))
            except RecordError as err:
                out[number] = {
                    "line": number,
                    "id": record.get("id") if isinstance(record, dict) else None,
                    "error": str(err),
                }
        for (number, record, _), result in zip(good, process(good) if good else []):
            # a record from an earlier job carries that job's `line`; this job's wins, or resume skips wrong lines
            out[number] = {"line": number, "id": record.get("id"), **{k: v for k, v in result.items() if k != "line"}}
        ordered = [out[number] for number, _ in pending]
        if writer is not None:
            writer.write(ordered)
        return ordered

    try:
        total = _count_lines(in_path) - len(done)
        with tqdm(total=total, desc=desc, unit="rec", disable=not show_progress) as bar:
            for number, record in read_lines(in_path):
                if number in done:
                    continue
                pending.append((number, record))
                if len(pending) >= chunk_size:
                    yield from flush()
                    bar.update(len(pending))
                    pending = []
            if pending:
                yield from flush()
                bar.update(len(pending))
    finally:
        if writer is not None:
            writer.close()


def parse_answer(number: int, record: dict) -> Answer:
    return check_record(record, Answer, number)


def problem_parser(*required: str) -> Parse:
    """Checks a problem record, with ``required`` fields (``responses``, ``tests``) that the job needs."""

    def parse(number: int, record: dict) -> Problem:
        return check_record(record, Problem, number, required=required)

    return parse


def score_job(model, config=None) -> Process:
    """Per answer: a :class:`codescaler.RewardResult` row."""
    from codescaler.reward import reward

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
    """Per problem: a :class:`codescaler.schema.RankRow`, ``order`` best first; with ``verify_top`` K, the
    judge's top programs are also run against the problem's tests until one passes, at most K
    (:func:`codescaler.selective.verify_top`), and ``verified`` says which ran and how they did."""
    from codescaler.reward import ranking, reward
    from codescaler.selective import verify_top as verify

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
            if verify_top:
                row["verified"] = asdict(verify(problem, rewards, verify_top, sandbox))
            outputs.append(row)
        return outputs

    return process


def _verdicts(verifications: list) -> Output:
    """What ``verify`` and ``candidates`` write per problem (:data:`VERDICT_FIELDS`): one per response in each."""
    return {
        "passed": [v.passed for v in verifications],
        "pass_fraction": [round(v.pass_fraction, 6) for v in verifications],
        "status": [v.status for v in verifications],
        "detail": [v.detail for v in verifications],
    }


def verify_job(sandbox, mode="lenient", time_limit=None) -> Process:
    """Per problem: passed, pass_fraction and status per response (``time_limit``: a ``verify.TimeLimit``)."""
    from codescaler.verify import verify_responses

    def process(items: list[tuple[int, dict, dict]]) -> list[Output]:
        problems = [p for _, _, p in items]
        return [_verdicts(v) for v in verify_responses(problems, sandbox, mode=mode, time_limit=time_limit)]

    return process


def sample_job(model_name_or_path: str, config: SampleConfig, gguf_file: str | None = None) -> Process:
    """Per problem: its record with ``config.n`` new samples after its ``responses`` (another ``seed`` adds to a
    first run). The model loads once, here.

    The record's verdicts are dropped: they describe its old responses, and ``candidates`` verifies them all
    again. ``config.completion``: continue ``code_prefix`` (else the question) as raw text, recorded as
    ``code_prefix``.
    """
    from codescaler.generation import make_sampler

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
    from codescaler.candidates import build_candidates
    from codescaler.verify import verify_responses

    def process(items: list[tuple[int, dict, dict]]) -> list[Output]:
        problems = build_candidates([p for _, _, p in items], config)
        out = []
        for problem, verifications in zip(problems, verify_responses(problems, sandbox, mode=mode)):
            kept: dict[str, Any] = {
                k: problem[k] for k in ("question", "language", "code_prefix", "split", "source") if k in problem
            }
            out.append(
                {
                    **kept,
                    "responses": problem["responses"],
                    "candidate_sources": problem["candidate_sources"],
                    **_verdicts(verifications),
                }
            )
        return out

    return process
