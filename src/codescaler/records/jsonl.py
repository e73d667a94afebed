"""JSONL in and out for batch jobs: every input line yields one output line, and a killed job resumes.

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

from codescaler.records.schema import RecordError

_LINE_HEAD = re.compile(rb'\{"line": (\d+)[,}]')


def read_lines(path: str | Path, skip: Set[int] = frozenset()) -> Iterator[tuple[int, dict[str, Any] | RecordError]]:
    """``(line number, record)`` for each non-blank line not in ``skip`` (not even parsed: a resumed job's done
    lines can carry megabytes of tests); a line that is not a JSON object yields an error."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, text in enumerate(f, start=1):
            if number in skip or not text.strip():
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as err:
                yield number, RecordError(f"line {number}: invalid JSON: {err.msg} (column {err.colno})")
                continue
            if not isinstance(record, dict):
                yield number, RecordError(f"line {number}: expected a JSON object, got {type(record).__name__}")
                continue
            yield number, record


class ResumableWriter:
    """Appends output records, each flushed to disk, and knows which input lines are done."""

    def __init__(self, path: str | Path, *, resume: bool) -> None:
        self.path = Path(path)
        self.done: set[int] = set()
        if resume and self.path.exists():
            self._repair_and_load()
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
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
