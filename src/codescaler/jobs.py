"""File-to-file batch jobs behind ``codescaler score``, ``rank``, ``verify``, ``sample`` and ``candidates``.

Input is read in chunks; each chunk is processed in one call (so candidates of a problem share their
prefix, and programs spread over every sandbox worker) and written before the next starts, which is
what makes ``--resume`` lose nothing. A malformed record yields an output record with ``error``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from codescaler.jsonl import RecordError, ResumableWriter, read_lines, require

Output = dict[str, Any]
# (line number, parsed record) -> output record; raises RecordError for a malformed record
Parse = Callable[[int, dict], Any]


def _count_lines(path: str | Path) -> int:
    with open(path, "rb") as f:
        return sum(1 for line in f if line.strip())


def run_chunked(
    in_path: str | Path,
    out_path: str | Path | None,
    parse: Parse,
    process: Callable[[list[tuple[int, dict, Any]]], list[Output]],
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
                out[number] = {"line": number, "id": record.get("id") if isinstance(record, dict) else None,
                               "error": str(err)}  # fmt: skip
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


def parse_answer(number: int, record: dict) -> tuple[str, str]:
    return require(record, number, "question", str), require(record, number, "response", str)


def parse_problem(number: int, record: dict) -> dict:
    """A problem with candidate responses; ``tests`` are required only by the jobs that run code."""
    require(record, number, "question", str)
    responses = require(record, number, "responses", list)
    if not all(isinstance(r, str) for r in responses):
        raise RecordError(f"line {number} (id {record.get('id')!r}): every response must be a string")
    if record.get("code_prefix") is not None:
        require(record, number, "code_prefix", str)
    return record


def parse_verifiable(number: int, record: dict) -> dict:
    parse_problem(number, record)
    return parse_tested(number, record)


def parse_tested(number: int, record: dict) -> dict:
    """A problem with tests; its ``responses``, if any, are checked when present."""
    require(record, number, "question", str)
    if "responses" in record:
        parse_problem(number, record)
    tests = require(record, number, "tests", list)
    for i, test in enumerate(tests):
        if not isinstance(test, dict) or test.get("type") not in ("assert", "call", "stdio"):
            raise RecordError(f"line {number} (id {record.get('id')!r}): test {i} needs type assert, call or stdio")
    return record


def score_job(model, config=None) -> Callable[[list], list[Output]]:
    """Per answer: code, valid, reason, score, reward, truncated."""
    from codescaler.reward import reward

    def process(items: list[tuple[int, dict, tuple[str, str]]]) -> list[Output]:
        questions, responses = zip(*(pair for _, _, pair in items))
        results = reward(model, questions, responses, config=config, show_progress=False)
        return [
            {
                "code": r.code,
                "valid": r.valid,
                "reason": r.reason,
                "score": r.score,
                "reward": r.reward,
                "truncated": r.truncated,
            }  # fmt: skip
            for r in results
        ]

    return process


def rank_job(model, config=None) -> Callable[[list], list[Output]]:
    """Per problem: rewards, scores, valid, reasons, truncated, codes, and ``order`` (best first)."""
    from codescaler.reward import ranking, reward

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
            outputs.append(
                {
                    "rewards": rewards,
                    "scores": [r.score for r in mine],
                    "valid": [r.valid for r in mine],
                    "reasons": [r.reason for r in mine],
                    "truncated": [r.truncated for r in mine],
                    "order": ranking(rewards),
                    "codes": [r.code for r in mine],
                }
            )
        return outputs

    return process


def _verdicts(verifications: list) -> Output:
    """What ``verify`` and ``candidates`` write per problem: one verdict per response in each field."""
    return {
        "passed": [v.passed for v in verifications],
        "pass_fraction": [round(v.pass_fraction, 6) for v in verifications],
        "status": [v.status for v in verifications],
    }


def verify_job(sandbox, mode="lenient") -> Callable[[list], list[Output]]:
    """Per problem: passed, pass_fraction and status per response."""
    from codescaler.verify import verify_responses

    def process(items: list[tuple[int, dict, dict]]) -> list[Output]:
        return [_verdicts(v) for v in verify_responses([p for _, _, p in items], sandbox, mode=mode)]

    return process


def sample_job(model_name_or_path: str, *, completion: bool = False, **sampling: Any) -> Callable[[list], list[Output]]:
    """Per problem: its record with new samples after its ``responses`` (another ``seed`` adds to a first run).

    The record's verdicts are dropped: they describe its old responses, and ``candidates`` verifies them all
    again. ``completion``: continue ``code_prefix`` (else the question) as raw text, recorded as ``code_prefix``.
    ``sampling``: the keyword arguments of :func:`codescaler.candidates.sample_responses`.
    """
    from codescaler.candidates import sample_responses

    def prompt(problem: dict) -> str:
        return (problem.get("code_prefix") or problem["question"]) if completion else problem["question"]

    def process(items: list[tuple[int, dict, dict]]) -> list[Output]:
        problems = [p for _, _, p in items]
        samples = sample_responses([prompt(p) for p in problems], model_name_or_path, completion=completion, **sampling)
        out = []
        for problem, new in zip(problems, samples):
            old = problem.get("responses", [])
            sources = problem.get("candidate_sources", ["sample"] * len(old))
            record = {k: v for k, v in problem.items() if k not in _verdicts([])}  # its verdict fields
            if completion:
                record["code_prefix"] = prompt(problem)
            record["responses"], record["candidate_sources"] = old + new, sources + ["sample"] * len(new)
            out.append(record)
        return out

    return process


def candidates_job(sandbox, config=None, mode="lenient") -> Callable[[list], list[Output]]:
    """Per problem: its candidates (samples, reference, mutants, unaligned), each verified by execution."""
    from codescaler.candidates import build_candidates
    from codescaler.verify import verify_responses

    def process(items: list[tuple[int, dict, dict]]) -> list[Output]:
        problems = build_candidates([p for _, _, p in items], config)
        out = []
        for problem, verifications in zip(problems, verify_responses(problems, sandbox, mode=mode)):
            kept = {k: problem[k] for k in ("question", "language", "code_prefix", "split", "source") if k in problem}
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
