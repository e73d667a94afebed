"""File-to-file batch jobs behind ``codescaler score`` and ``codescaler rank``.

Input is read in chunks; each chunk is scored in one call (so candidates of a problem share their
prefix) and written before the next starts, which is what makes ``--resume`` lose nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from codescaler.jsonl import RecordError, ResumableWriter, read_lines, require
from codescaler.model import RewardModel
from codescaler.reward import RewardConfig, RewardResult, ranking, reward

logger = logging.getLogger(__name__)


def _chunks(path: str | Path, skip: set[int], size: int) -> Iterator[list[tuple[int, dict | RecordError]]]:
    chunk = []
    for number, record in read_lines(path):
        if number in skip:
            continue
        chunk.append((number, record))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _count_lines(path: str | Path) -> int:
    with open(path, "rb") as f:
        return sum(1 for line in f if line.strip())


def _result_fields(result: RewardResult) -> dict[str, Any]:
    return {
        "code": result.code,
        "valid": result.valid,
        "reason": result.reason,
        "score": result.score,
        "reward": result.reward,
        "truncated": result.truncated,
    }


def score_jsonl(
    model: RewardModel,
    in_path: str | Path,
    out_path: str | Path,
    *,
    config: RewardConfig | None = None,
    resume: bool = False,
    chunk_size: int = 512,
    show_progress: bool = True,
) -> dict[str, int]:
    """Score ``{"id", "question", "response"}`` lines into one output line each; returns counts."""
    counts = {"written": 0, "errors": 0, "skipped": 0}
    with ResumableWriter(out_path, resume=resume) as writer:
        counts["skipped"] = len(writer.done)
        total = _count_lines(in_path) - len(writer.done)
        with tqdm(total=total, desc="score", unit="rec", disable=not show_progress) as bar:
            for chunk in _chunks(in_path, writer.done, chunk_size):
                good: list[tuple[int, dict, str, str]] = []
                out: dict[int, dict[str, Any]] = {}
                for number, record in chunk:
                    try:
                        if isinstance(record, RecordError):
                            raise record
                        question = require(record, number, "question", str)
                        response = require(record, number, "response", str)
                        good.append((number, record, question, response))
                    except RecordError as err:
                        record_id = record.get("id") if isinstance(record, dict) else None
                        out[number] = {"line": number, "id": record_id, "error": str(err)}
                results = reward(model, [g[2] for g in good], [g[3] for g in good], config=config, show_progress=False)
                for (number, record, _, _), result in zip(good, results):
                    out[number] = {"line": number, "id": record.get("id"), **_result_fields(result)}
                writer.write([out[n] for n, _ in chunk])
                counts["written"] += len(chunk)
                counts["errors"] += sum(1 for n, _ in chunk if "error" in out[n])
                bar.update(len(chunk))
    return counts


def rank_jsonl(
    model: RewardModel,
    in_path: str | Path,
    out_path: str | Path | None = None,
    *,
    config: RewardConfig | None = None,
    resume: bool = False,
    chunk_size: int = 16,
    show_progress: bool = True,
) -> Iterator[dict[str, Any]]:
    """Rank each problem's ``responses``; yields (and writes, given ``out_path``) one record per problem."""
    writer = ResumableWriter(out_path, resume=resume) if out_path is not None else None
    skip = writer.done if writer is not None else set()
    try:
        with tqdm(
            total=_count_lines(in_path) - len(skip), desc="rank", unit="problem", disable=not show_progress
        ) as bar:
            for chunk in _chunks(in_path, skip, chunk_size):
                ranked = list(_rank_chunk(model, chunk, config))
                if writer is not None:
                    writer.write(ranked)
                bar.update(len(chunk))
                yield from ranked
    finally:
        if writer is not None:
            writer.close()


def _rank_chunk(model, chunk, config) -> Iterator[dict[str, Any]]:
    problems: list[tuple[int, dict, list[str], str | None]] = []
    errors: dict[int, dict[str, Any]] = {}
    for number, record in chunk:
        try:
            if isinstance(record, RecordError):
                raise record
            require(record, number, "question", str)
            responses = require(record, number, "responses", list)
            if not all(isinstance(r, str) for r in responses):
                raise RecordError(f"line {number} (id {record.get('id')!r}): every response must be a string")
            prefix = require(record, number, "code_prefix", str) if record.get("code_prefix") is not None else None
            problems.append((number, record, responses, prefix))
        except RecordError as err:
            record_id = record.get("id") if isinstance(record, dict) else None
            errors[number] = {"line": number, "id": record_id, "error": str(err)}
    flat = [(p, r) for p in problems for r in p[2]]
    results = reward(
        model,
        [p[1]["question"] for p, _ in flat],
        [r for _, r in flat],
        code_prefixes=[p[3] for p, _ in flat],
        config=config,
        show_progress=False,
    )
    ranked: dict[int, dict[str, Any]] = {}
    start = 0
    for number, record, responses, _ in problems:
        mine = results[start : start + len(responses)]
        start += len(responses)
        rewards = [r.reward for r in mine]
        ranked[number] = {
            "line": number,
            "id": record.get("id"),
            "rewards": rewards,
            "scores": [r.score for r in mine],
            "valid": [r.valid for r in mine],
            "reasons": [r.reason for r in mine],
            "truncated": [r.truncated for r in mine],
            "order": ranking(rewards),
            "codes": [r.code for r in mine],
        }
    for number, _ in chunk:
        yield errors.get(number) or ranked[number]
