"""Ground truth by reference: each problem's tests written once into a store file, and named in every row that
needs them by ``{"store", "offset", "length", "id"}``. verl's reward function gets the ground truth of every sample
it scores; inline, HumanEval+'s would be 147 MB of JSON for one problem (HumanEval/15), parsed again per sample.
By reference, a reward worker reads a problem's tests once and keeps the last problems it read.

The store's folder can differ on a cluster's workers: ``$CODESCALER_TEST_STORE_DIR`` replaces it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from codescaler.records.errors import InputError


def write_test_store(path: str | Path, records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Write each record's ``{"id", "tests"}`` as one line of ``path``; return each record's reference to it."""
    path = Path(path).resolve()
    refs = []
    with open(path, "wb") as f:
        for record in records:
            line = (json.dumps({"id": record.get("id"), "tests": record.get("tests", [])}) + "\n").encode()
            refs.append({"store": str(path), "offset": f.tell(), "length": len(line), "id": record.get("id")})
            f.write(line)
    return refs


def load_tests(ref: dict[str, Any]) -> list[dict[str, Any]]:
    """The tests a reference names, read once per worker for the last 32 problems (a GRPO step asks for each
    problem's tests once per sample of its group)."""
    store = Path(ref["store"])
    if os.environ.get("CODESCALER_TEST_STORE_DIR"):
        store = Path(os.environ["CODESCALER_TEST_STORE_DIR"]) / store.name
    return _read(str(store), int(ref["offset"]), int(ref["length"]), ref.get("id"))


@lru_cache(maxsize=32)
def _read(store: str, offset: int, length: int, problem_id: Any) -> list[dict[str, Any]]:
    try:
        with open(store, "rb") as f:
            f.seek(offset)
            entry = json.loads(f.read(length))
    except (OSError, ValueError) as err:
        raise InputError(f"test store {store}: cannot read problem {problem_id!r} at byte {offset}: {err}") from None
    if entry.get("id") != problem_id:  # the store was rewritten since the rows were exported
        raise InputError(f"test store {store} holds {entry.get('id')!r} where {problem_id!r} was written: re-export")
    return entry["tests"]


def forget_tests() -> None:
    """Drop the tests read so far: a store exported again under the same name is read anew."""
    _read.cache_clear()
