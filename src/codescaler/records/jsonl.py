"""JSONL in and out for batch jobs: every input line yields one output line, and a killed job resumes.

Output records carry ``line``, the 1-based input line they answer. On resume the output file is cut
back to its last complete line (a ``kill -9`` can leave half a line) and the lines already answered
are skipped, so a resumed job neither loses nor repeats records.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from codescaler.records.schema import RecordError


def read_lines(path: str | Path) -> Iterator[tuple[int, dict[str, Any] | RecordError]]:
    """``(line number, record)`` for each non-blank line; a line that is not a JSON object yields an error."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, text in enumerate(f, start=1):
            if not text.strip():
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
        data = self.path.read_bytes()
        complete = data[: data.rfind(b"\n") + 1]
        if len(complete) != len(data):
            with open(self.path, "r+b") as f:
                f.truncate(len(complete))
        for text in complete.decode("utf-8", errors="replace").splitlines():
            try:
                self.done.add(int(json.loads(text)["line"]))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                continue  # not one of ours: leave it, it does not mark any line done

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
