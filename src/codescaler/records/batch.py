"""File-to-file batch jobs: what ``codescaler score``, ``rank``, ``verify``, ``sample`` and ``candidates`` share.
Each job's own processing lives with its subsystem (``rewards.jobs``, ``execution.jobs``, ``training.jobs``).

Input is read in chunks; each chunk is processed in one call (so candidates of a problem share their
prefix, and programs spread over every sandbox worker) and written before the next starts, which is
what makes ``--resume`` lose nothing. A malformed record yields an output record with ``error``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from codescaler.records.jsonl import ResumableWriter, read_lines
from codescaler.records.languages import LANGUAGES, RUNNABLE
from codescaler.records.schema import Answer, Problem, RecordError, check_record, record_label

logger = logging.getLogger(__name__)
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
                # said as it happens; the output line keeps it too. The text, not the error: a logged exception's
                # traceback would keep this job's frames (and a Ray job's actors) alive in any handler that holds it
                logger.warning("%s: %s", in_path, str(err))
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
            for number, record in read_lines(in_path, skip=done):
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


def problem_parser(*required: str, runs: bool = False) -> Parse:
    """Checks a problem record, with ``required`` fields (``responses``, ``tests``) that the job needs. Where the job
    ``runs`` the tests, the problem must be in a language the sandbox runs, and have a test."""
    languages = RUNNABLE if runs else LANGUAGES

    def parse(number: int, record: dict) -> Problem:
        problem = check_record(record, Problem, number, required=required, languages=languages)
        if runs and not problem.get("tests"):
            raise RecordError(f"{record_label(record, number)}: no tests")
        return problem

    return parse


def read_problems(path: str | Path, required: Callable[[dict], tuple[str, ...]]) -> Iterator[dict[str, Any]]:
    """The good problem records of ``path``, for commands that read a whole pool rather than answer each line
    (``bon``, ``calibrate``, ``pairs``): each with the fields ``required(record)`` names, and a language the sandbox
    runs where ``tests`` is one of them. A malformed record, or a line an earlier job wrote as ``error``, is left
    out and said, naming its line and why; the rest go on."""
    for number, record in read_lines(path):
        try:
            if isinstance(record, RecordError):
                raise record
            if "error" in record:
                raise RecordError(f"line {number}: an earlier job's error: {record['error']}")
            fields = required(record)
            yield problem_parser(*fields, runs="tests" in fields)(number, record)
        except RecordError as err:
            logger.warning("%s: skipped %s", path, str(err))
