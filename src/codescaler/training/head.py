"""A reward head over a frozen backbone: each program's features once, then a Bradley–Terry head in seconds.

Fine-tuning a 0.5B backbone on two cores costs hours per pass; a linear head over the frozen backbone's
last-token state (the state a sequence classifier's ``score`` head reads) costs one forward pass per
distinct program, cached on disk, and then seconds per fit. So the L2 strength can be swept and chosen on
validation pairs, and a re-run with more pairs only computes the new programs' features.

The saved folder holds ``head.safetensors`` (the ``score`` weight) and a ``codescaler_config.json`` naming
the base; ``RewardModel.from_pretrained`` loads the base and puts the head on it. Scores are the base's
last-token state times the head, exactly what the fit optimised.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codescaler.judges.weights import HEAD_FILE, save_codescaler_config
from codescaler.measure.rm_eval import pair_summary
from codescaler.training.pairs import read_pairs, training_rows

if TYPE_CHECKING:  # torch loads with the model, not with the CLI that lists this config's flags
    import torch

    from codescaler.judges.reward_model import RewardModel

logger = logging.getLogger(__name__)


@dataclass
class HeadConfig:
    model_name_or_path: str = field(
        default="smollm2-135m", metadata={"help": "frozen backbone: hub id, folder, or a packaged name"}
    )
    gguf_file: str | None = field(default=None, metadata={"help": "GGUF file inside model_name_or_path's folder"})
    pairs: list[str] = field(default_factory=list, metadata={"help": "training pairs files (JSONL/Parquet)"})
    eval_pairs: list[str] = field(
        default_factory=list, metadata={"help": "validation pairs (default: the rows of `pairs` in split 'validation')"}
    )
    output_dir: str = field(default="", metadata={"help": "where the head, its config and report go"})
    features_dir: str | None = field(
        default=None, metadata={"help": "cache of computed features (default: OUTPUT_DIR/features); reused on re-runs"}
    )
    weight_decay: list[float] = field(
        default_factory=lambda: [1e-4, 1e-3, 1e-2, 1e-1],
        metadata={"help": "L2 strengths tried; the best on the validation pairs is kept"},
    )
    max_pairs: int = field(default=0, metadata={"help": "use at most this many training pairs (0: all)"})
    max_length: int = field(default=1024, metadata={"help": "tokens per sequence; longer ones are truncated"})
    max_iter: int = field(default=500, metadata={"help": "L-BFGS iterations per fit"})
    dtype: str = field(default="float32", metadata={"help": "backbone precision for the features"})
    device: str | None = field(default=None, metadata={"help": "cpu, cuda, ... (default: cuda if present)"})
    allow_eval: bool = field(
        default=False, metadata={"help": "allow HumanEval-derived pairs (never for a model you will evaluate)"}
    )

    def __post_init__(self) -> None:
        if not self.weight_decay or any(w < 0 for w in self.weight_decay):
            raise ValueError(f"weight_decay needs one or more non-negative values, got {self.weight_decay}")
        if self.max_pairs < 0:
            raise ValueError(f"max_pairs must be 0 (all) or positive, got {self.max_pairs}")
        if self.max_iter < 1:
            raise ValueError(f"max_iter must be positive, got {self.max_iter}")


class FeatureCache:
    """Features of (question, code) pairs under one backbone, computed once and kept on disk in parts, so
    an interrupted run loses at most the part in progress."""

    def __init__(self, folder: str | Path, rm: RewardModel) -> None:
        import torch

        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.rm = rm
        # the backbone and how it reads (not the head, which is what gets trained)
        probe = torch.cat([p.detach().flatten()[:64].float().cpu() for p in rm.backbone.parameters()])
        self.salt = json.dumps([hashlib.sha256(probe.numpy().tobytes()).hexdigest(), *rm.fingerprint()[1:]])
        self.known: dict[str, torch.Tensor] = {}
        for part in sorted(self.folder.glob("part-*.pt")):
            self.known.update(torch.load(part))

    def key(self, question: str, code: str) -> str:
        return hashlib.sha256(json.dumps([self.salt, question, code]).encode()).hexdigest()

    def get(self, questions: list[str], codes: list[str], part_size: int = 512) -> torch.Tensor:
        import torch

        keys = [self.key(q, c) for q, c in zip(questions, codes)]
        todo = list(dict.fromkeys(k for k in keys if k not in self.known))
        where = {k: i for i, k in enumerate(keys)}
        for start in range(0, len(todo), part_size):
            chunk = todo[start : start + part_size]
            rows = [where[k] for k in chunk]
            states = self.rm.features([questions[i] for i in rows], [codes[i] for i in rows])
            new = dict(zip(chunk, states.clone()))
            part = self.folder / f"part-{len(list(self.folder.glob('part-*.pt'))):05d}.pt"
            torch.save(new, part.with_suffix(".tmp"))
            part.with_suffix(".tmp").replace(part)  # whole or absent: a killed run never leaves half a part
            self.known.update(new)
            logger.info("features: %d of %d new programs", min(start + part_size, len(todo)), len(todo))
        dim = self.rm.head.in_features
        return torch.stack([self.known[k] for k in keys]) if keys else torch.zeros(0, dim)


def fit_head(chosen: torch.Tensor, rejected: torch.Tensor, weight_decay: float, max_iter: int = 500) -> torch.Tensor:
    """The head ``w`` minimising mean softplus(-(chosen - rejected)·w) + weight_decay·|w|², features already
    scaled. Convex, so L-BFGS from zero finds the one optimum; no learning rate to tune."""
    import torch

    diff = (chosen - rejected).double()
    w = torch.zeros(diff.shape[1], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([w], max_iter=max_iter, line_search_fn="strong_wolfe")

    def loss() -> torch.Tensor:
        optimizer.zero_grad()
        value = torch.nn.functional.softplus(-(diff @ w)).mean() + weight_decay * (w * w).sum()
        value.backward()
        return value

    optimizer.step(loss)
    return w.detach().float()


def _accuracy(chosen: torch.Tensor, rejected: torch.Tensor, w: torch.Tensor) -> float:
    return pair_summary((chosen @ w).tolist(), (rejected @ w).tolist())["accuracy"]


def train_head(config: HeadConfig) -> dict[str, Any]:
    """Fit the head, save it to ``config.output_dir`` (loadable by ``RewardModel.from_pretrained``), return the
    report: each L2 strength's validation accuracy and the one kept."""
    import torch

    from codescaler.judges.reward_model import RewardModel

    if not config.pairs:
        raise ValueError("no pairs given: set `pairs` to one or more pairs files (see `codescaler pairs`)")
    if not config.output_dir:
        raise ValueError("no output_dir given")
    started = time.perf_counter()
    rows = [pair for source in config.pairs for pair in read_pairs(source)]
    given = [pair for source in config.eval_pairs for pair in read_pairs(source)] if config.eval_pairs else None
    train_rows, eval_rows = training_rows(rows, given, " + ".join(config.pairs), config.allow_eval)
    if config.max_pairs:
        train_rows = train_rows[: config.max_pairs]
    if not train_rows or not eval_rows:
        raise ValueError(f"need training and validation pairs, got {len(train_rows)} and {len(eval_rows)}")
    rm = RewardModel.from_pretrained(
        config.model_name_or_path,
        gguf_file=config.gguf_file,
        dtype=config.dtype,
        device=config.device,
        max_length=config.max_length,
    )
    cache = FeatureCache(config.features_dir or Path(config.output_dir) / "features", rm)

    def features(pairs: list[Any]) -> tuple[torch.Tensor, torch.Tensor]:
        questions = [p["question"] for p in pairs] * 2
        both = cache.get(questions, [p["chosen"] for p in pairs] + [p["rejected"] for p in pairs])
        return both[: len(pairs)], both[len(pairs) :]

    train_chosen, train_rejected = features(train_rows)
    eval_chosen, eval_rejected = features(eval_rows)
    features_seconds = time.perf_counter() - started
    # One scale per feature (over the training programs), so one L2 strength suits every dimension.
    scale = torch.cat([train_chosen, train_rejected]).std(dim=0).clamp_min(1e-6)
    tried = []
    for weight_decay in config.weight_decay:
        w = fit_head(train_chosen / scale, train_rejected / scale, weight_decay, config.max_iter)
        tried.append(
            {
                "weight_decay": weight_decay,
                "train_accuracy": _accuracy(train_chosen / scale, train_rejected / scale, w),
                "validation_accuracy": _accuracy(eval_chosen / scale, eval_rejected / scale, w),
                "w": w,
            }
        )
    best = max(tried, key=lambda t: (t["validation_accuracy"], t["weight_decay"]))  # ties: the simpler head
    save_head(config.output_dir, best["w"] / scale, rm, config)
    report = {
        "config": asdict(config),
        "train_pairs": len(train_rows),
        "validation_pairs": len(eval_rows),
        "distinct_programs": len(cache.known),
        "features_seconds": features_seconds,
        "fit_seconds": time.perf_counter() - started - features_seconds,
        "tried": [{k: v for k, v in t.items() if k != "w"} for t in tried],
        "kept": {k: v for k, v in best.items() if k != "w"},
    }
    (Path(config.output_dir) / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def save_head(folder: str | Path, weight: torch.Tensor, rm: RewardModel, config: HeadConfig) -> None:
    from safetensors.torch import save_file

    Path(folder).mkdir(parents=True, exist_ok=True)
    save_file({"weight": weight[None, :].contiguous()}, str(Path(folder) / HEAD_FILE))
    save_codescaler_config(
        folder,
        base_model=config.model_name_or_path,
        gguf_file=config.gguf_file,
        train_max_length=config.max_length,
        weights="head",
    )
