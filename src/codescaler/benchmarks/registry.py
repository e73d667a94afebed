"""The registry of benchmark loaders, and where the data is read from: ``$CODESCALER_DATA`` or the nearest
``shared/data`` above the working directory."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from codescaler.records.errors import InputError

Record = dict[str, Any]


_LOADERS: dict[str, Callable[[Path, str], list[Record]]] = {}
_FOLDERS: dict[str, str] = {}  # dataset name -> the folder of the data root it reads


def data_dir() -> Path:
    if "CODESCALER_DATA" in os.environ:
        return Path(os.environ["CODESCALER_DATA"])
    for folder in [Path.cwd(), *Path.cwd().parents]:
        if (folder / "shared" / "data").is_dir():
            return folder / "shared" / "data"
    raise InputError("no shared/data above the working directory: set CODESCALER_DATA to the datasets' folder")


def read_jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def loader(*names: str, folder: str):
    """Registers a loader of the datasets ``names``, which read the data root's ``folder``."""

    def register(fn):
        for name in names:
            if name in _LOADERS:
                raise ValueError(f"dataset {name!r} registered twice")
            _LOADERS[name] = fn
            _FOLDERS[name] = folder
        return fn

    return register


def where(name: str) -> Path | None:
    """The folder dataset ``name`` is read from, or None where no data root is set up."""
    try:
        return data_dir() / _FOLDERS[name]
    except InputError:
        return None


def names() -> list[str]:
    return sorted(_LOADERS)


def load(name: str, root: str | Path | None = None) -> list[Record]:
    """Problem records of dataset ``name`` (see :func:`names`)."""
    if name not in _LOADERS:
        import difflib

        close = difflib.get_close_matches(name, names(), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(names())}"
        raise InputError(f"unknown dataset {name!r}{hint}")
    return _LOADERS[name](Path(root) if root else data_dir(), name)
