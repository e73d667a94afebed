"""File-to-file batch jobs: what ``codescaler score``, ``rank``, ``verify``, ``sample`` and ``candidates`` share.
Each job's own processing lives with its subsystem (``rewards.jobs``, ``execution.jobs``, ``training.jobs``).

Input is read in chunks; each chunk is processed in one call (so candidates of a problem share their
prefix, and programs spread over every sandbox worker) and written before the next starts, which is
what makes ``--resume`` lose nothing. A malformed record yields an output record with ``error``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Set
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from codescaler.records.jsonl import ResumableWriter, count_records, read_lines
from codescaler.records.languages import LANGUAGES, RUNNABLE
from codescaler.records.schema import Answer, Problem, RecordError, check_record, record_label

logger = logging.getLogger(__name__)
Output = dict[str, Any]
# (line number, record) -> what the job needs of it; raises RecordError for a malformed record
Parse = Callable[[int, dict], Any]
# parsed items (line number, record, parsed) of one chunk -> one output per item
Process = Callable[[list[tuple[int, dict, Any]]], list[Output]]
# (input path, lines already answered, parse) -> every other line's output, in order, a block at a time: a job run
# elsewhere than in this process (codescaler.integrations.ray.RayEngine)
Engine = Callable[[Path, Set[int], Parse], Iterator[list[Output]]]


def run_chunked(
    in_path: str | Path,
    out_path: str | Path | None,
    parse: Parse,
    process: Process | None = None,
    *,
    engine: Engine | None = None,
    resume: bool = False,
    chunk_size: int = 256,
    desc: str = "records",
    show_progress: bool = True,
) -> Iterator[Output]:
    """Parse each line, process the good ones a chunk at a time, write and yield every output in order.

    ``parse`` returns what ``process`` needs for one record; ``process`` returns one output per item. With an
    ``engine`` instead, the engine answers the lines and this writes them, as they come.
    """
    writer = ResumableWriter(out_path, resume=resume) if out_path is not None else None
    done = writer.done if writer is not None else set()
    if engine is None:
        if process is None:
            raise TypeError("run_chunked needs a process or an engine")
        blocks = _answer_here(in_path, done, parse, process, chunk_size)
    else:
        blocks = engine(Path(in_path), frozenset(done), parse)
    try:
        total = count_records(in_path) - len(done)
        with tqdm(total=total, desc=desc, unit="rec", disable=not show_progress) as bar:
            for outputs in blocks:
                if writer is not None:
                    writer.write(outputs)
                bar.update(len(outputs))
                yield from outputs
    finally:
        if writer is not None:
            writer.close()


def _answer_here(
    in_path: str | Path, done: Set[int], parse: Parse, process: Process, chunk_size: int
) -> Iterator[list[Output]]:
    pending: list[tuple[int, dict | RecordError]] = []
    for number, record in read_lines(in_path, skip=done):
        pending.append((number, record))
        if len(pending) >= chunk_size:
            yield answer(pending, parse, process, in_path)
            pending = []
    if pending:
        yield answer(pending, parse, process, in_path)


def answer(
    items: list[tuple[int, dict | RecordError]], parse: Parse, process: Process, source: str | Path = "input"
) -> list[Output]:
    """One output per ``(line number, record)``, in their order: the good records processed together in one call,
    each malformed one an output with ``error`` (said as it happens, naming ``source`` and the line)."""
    good, out = [], {}
    for number, record in items:
        try:
            if isinstance(record, RecordError):
                raise record
            good.append((number, record, parse(number, record)))
        except RecordError as err:
            # The text, not the error: a logged exception's traceback would keep this job's frames (and a Ray
            # job's actors) alive in any handler that holds it.
            logger.warning("%s: %s", source, str(err))
            out[number] = {
                "line": number,
                "id": record.get("id") if isinstance(record, dict) else None,
                "error": str(err),
            }
    for (number, record, _), result in zip(good, process(good) if good else []):
        # a record from an earlier job carries that job's `line`; this job's wins, or resume skips wrong lines
        out[number] = {"line": number, "id": record.get("id"), **{k: v for k, v in result.items() if k != "line"}}
    return [out[number] for number, _ in items]


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
