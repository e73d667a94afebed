"""JSONL in and out for batch jobs: every input line yields one output line, and a killed job resumes. A Parquet
file's rows read as its lines: row ``n`` (1-based) is line ``n``.

Output records carry ``line``, the 1-based input line they answer. On resume the output file is cut
back to its last complete line (a ``kill -9`` can leave half a line) and the lines already answered
are skipped, so a resumed job neither loses nor repeats records.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Set
from pathlib import Path
from typing import Any

from codescaler.records.errors import InputError, RecordError

_LINE_HEAD = re.compile(rb'\{"line": (\d+)[,}]')
_SNIFF = 1 << 16  # bytes read to tell a text file from a binary one


_PARQUET_ROWS = 1024  # rows decoded at a time: a Parquet input streams as JSONL does


def is_parquet(path: str | Path) -> bool:
    """Whether ``path`` is framed as Parquet: its magic at both ends. A text file that merely starts "PAR1" reads
    as JSONL (each line an error or a record), as any bytes do."""
    with open(path, "rb") as f:
        if f.read(4) != b"PAR1" or f.seek(0, os.SEEK_END) < 12:
            return False
        f.seek(-4, os.SEEK_END)
        return f.read(4) == b"PAR1"


def parquet_rows(path: str | Path, skip: Set[int] = frozenset()) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(row number, row)`` for each row of a Parquet file not in ``skip``, a batch of rows in memory at a time."""
    import pyarrow.parquet as pq

    number = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=_PARQUET_ROWS):
        for row in batch.to_pylist():
            number += 1
            if number not in skip:
                yield number, row


def count_records(path: str | Path) -> int:
    """The records of a JSONL (non-blank lines) or Parquet (rows) file."""
    if is_parquet(path):
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    with open(path, "rb") as f:
        return sum(1 for line in f if line.strip())


def writable(path: str | Path) -> Path:
    """``path``, its folder made where it is missing, as every batch job makes its output's."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def check_input(path: str | Path) -> Path:
    """``path`` as a Path if it is a readable JSONL text file, or a Parquet file, with something in it; else
    :class:`InputError` naming it."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"no such file: {path}")
    if path.is_dir():
        raise InputError(f"{path} is a folder, not a file")
    try:
        with open(path, "rb") as f:
            head = f.read(_SNIFF)
    except OSError as err:
        raise InputError(f"cannot read {path}: {err.strerror}") from None
    if head.startswith(b"PAR1"):
        if not is_parquet(path):
            raise InputError(f"{path} starts as Parquet but has no Parquet footer: cut short?")
        import pyarrow as pa

        try:
            rows = count_records(path)
        except (pa.ArrowException, OSError) as err:
            raise InputError(f"{path} is not a readable Parquet file: {err}") from None
        if rows == 0:
            raise InputError(f"{path} is empty: no records")
        return path
    nul = head.find(b"\0")
    if nul >= 0:
        raise InputError(f"{path} is not a text file (a NUL byte at byte {nul + 1}); expected JSONL")
    if not head.strip():
        raise InputError(f"{path} is empty: no records")
    return path if path.suffix == ".json" else _with_a_record(path)  # a .json is one document, read whole


def _with_a_record(path: Path) -> Path:
    """``path`` once one of its lines is a JSON object (the first, in any file worth reading); a file with none is
    no input at all, said before a model loads, not a batch of error rows."""
    first: RecordError | None = None
    lines = 0
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            record = parse_line(raw, number)
            if isinstance(record, dict):
                return path
            first, lines = first or record, lines + 1
    raise InputError(f"{path} holds no record: none of its {lines} lines is a JSON object ({first})")


def _decode(raw: bytes, number: int) -> str | RecordError:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        return RecordError(f"line {number}: not UTF-8 (byte 0x{raw[err.start]:02x} at byte {err.start + 1})")
    return text.removeprefix("\ufeff") if number == 1 else text  # a BOM is no part of the record


def parse_line(raw: bytes, number: int) -> dict[str, Any] | RecordError:
    """Line ``number``'s record, or the error that says why it is none: not UTF-8, not JSON, not an object."""
    text = _decode(raw, number)
    if isinstance(text, RecordError):
        return text
    text = text.rstrip("\r\n")
    try:
        record = json.loads(text)
    except json.JSONDecodeError as err:
        why = f"invalid JSON: {err.msg.removesuffix(' at')} at column {err.colno}"
        if err.msg.startswith("Unterminated") or err.pos >= len(text.rstrip()):  # cut short: say where
            why = f"the JSON is cut off at column {len(text.rstrip()) + 1} ({why})"
        return RecordError(f"line {number}: {why}")
    if not isinstance(record, dict):
        return RecordError(f"line {number}: expected a JSON object, got {type(record).__name__}")
    return record


def read_lines(path: str | Path, skip: Set[int] = frozenset()) -> Iterator[tuple[int, dict[str, Any] | RecordError]]:
    """``(line number, record)`` for each non-blank line not in ``skip`` (not even parsed: a resumed job's done
    lines can carry megabytes of tests); a line that is not UTF-8 or not a JSON object yields an error. A Parquet
    file gives its rows."""
    if is_parquet(path):
        yield from parquet_rows(path, skip)
        return
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            if number not in skip and raw.strip():
                yield number, parse_line(raw, number)


class ResumableWriter:
    """Appends output records, each flushed to disk, and knows which input lines are done."""

    def __init__(self, path: str | Path, *, resume: bool) -> None:
        self.path = Path(path)
        self.done: set[int] = set()
        if resume and self.path.exists():
            self._repair_and_load()
        else:
            writable(self.path)
            self.path.write_text("")
        self._file = open(self.path, "a", encoding="utf-8")

    def _repair_and_load(self) -> None:
        complete = 0
        with open(self.path, "rb") as f:
            for text in f:
                if not text.endswith(b"\n"):
                    break  # a record cut by a kill: dropped below, its line runs again
                complete += len(text)
                # Records written here start with their line number, so most are read without parsing the rest.
                head = _LINE_HEAD.match(text)
                if head:
                    self.done.add(int(head[1]))
                    continue
                try:
                    self.done.add(int(json.loads(text)["line"]))
                except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                    continue  # not one of ours: leave it, it does not mark any line done
        if complete != self.path.stat().st_size:
            with open(self.path, "r+b") as f:
                f.truncate(complete)

    def write(self, records: list[dict[str, Any]]) -> None:
        for record in records:
            self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
            self.done.add(record["line"])
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> ResumableWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LineIndex:
    """Random access to a JSONL file's records by line number: the lines' offsets are found once (one pass, no
    parsing), and a record is read and parsed only when asked for. Lets a row name its record instead of
    carrying a copy of it (eval-policy's samples name their problem in ``problems.jsonl``)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._offsets: list[int] = []
        with open(self.path, "rb") as f:
            offset = 0
            for raw in f:
                self._offsets.append(offset)
                offset += len(raw)

    def __len__(self) -> int:
        return len(self._offsets)

    def __getitem__(self, number: int) -> dict[str, Any]:
        """The record on line ``number`` (1-based)."""
        if not 1 <= number <= len(self._offsets):
            raise RecordError(f"{self.path} has no line {number}")
        with open(self.path, "rb") as f:
            f.seek(self._offsets[number - 1])
            return json.loads(f.readline())
