"""Bradley–Terry training of a sequence-classification reward model with TRL's ``RewardTrainer``.

Pairs are tokenised here with :meth:`RewardModel.encode`, the same chat template and truncation the
model is scored with, and handed to TRL already tokenised: so training and scoring read identical
tokens, and over-long pairs are truncated the way scoring truncates them instead of being dropped
(TRL's own preprocessing drops them). The loss, batching of chosen and rejected in one forward pass,
accuracy logging, checkpoints, resume and ``report_to`` are TRL's and ``transformers.Trainer``'s.

Fine-tuning modes: ``full``; ``last-k`` (the top ``last_k`` blocks, the final norm and the head);
``lora`` (``peft`` adapters on every linear layer, the head trained whole); ``head`` (the head only: the
floor any other mode must beat). A LoRA run saves only the adapter and head beside a
``codescaler_config.json`` naming the base, which is how ``codescaler-mini`` ships in a few MB.
"""

from __future__ import annotations

import json
import logging
import resource
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from trl import RewardConfig, RewardTrainer

from codescaler.judges.reward_model import RewardModel
from codescaler.judges.weights import resolve_model_path, save_codescaler_config, split_adapter
from codescaler.measure.rm_eval import pairwise
from codescaler.training.pairs import read_pairs, training_rows

logger = logging.getLogger(__name__)

FINETUNE_MODES = ("full", "last-k", "lora", "head")


@dataclass
class TrainConfig(RewardConfig):
    """TRL's ``RewardConfig`` plus what a code RM needs. Changed defaults are listed after the fields."""

    model_name_or_path: str = field(
        default="smollm2-135m", metadata={"help": "backbone or existing RM: hub id, folder, or a packaged name"}
    )
    gguf_file: str | None = field(default=None, metadata={"help": "GGUF file inside model_name_or_path's folder"})
    pairs: str = field(
        default="", metadata={"help": "pairs: JSONL/Parquet file or hub dataset id, ours or CodeScalerPair's layout"}
    )
    eval_pairs: str | None = field(
        default=None, metadata={"help": "validation pairs; default: the rows of `pairs` whose split is 'validation'"}
    )
    finetune: Literal["full", "last-k", "lora", "head"] = field(
        default="lora", metadata={"help": "which weights train: full, last-k blocks, lora adapters, or head only"}
    )
    last_k: int = field(default=4, metadata={"help": "blocks trained in finetune=last-k"})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank"})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha"})
    lora_dropout: float = field(default=0.0, metadata={"help": "LoRA dropout"})
    lora_layers: int = field(
        default=0, metadata={"help": "adapt only the top this many blocks (0: all); the rest run forward only"}
    )
    adapter_dtype: str = field(
        default="float32",
        metadata={
            "help": "dtype a LoRA adapter is saved in: float32, or bfloat16 (half the size; codescaler-mini "
            "scored the same validation accuracy either way)"
        },
    )
    max_pairs: int = field(default=0, metadata={"help": "use at most this many training pairs (0: all)"})
    allow_eval: bool = field(
        default=False, metadata={"help": "allow HumanEval-derived pairs (never for a model you will evaluate)"}
    )

    # Changed defaults: CPU-sized runs, no gradient checkpointing (small models fit), fp32 unless asked.
    learning_rate: float = field(default=2e-4, metadata={"help": "AdamW learning rate"})
    num_train_epochs: float = field(default=1.0, metadata={"help": "epochs over the training pairs"})
    per_device_train_batch_size: int = field(default=8, metadata={"help": "pairs per step per device"})
    per_device_eval_batch_size: int = field(default=16, metadata={"help": "pairs per eval step per device"})
    gradient_checkpointing: bool = field(default=False, metadata={"help": "trade compute for activation memory"})
    bf16: bool | None = field(default=False, metadata={"help": "bf16 mixed precision"})
    max_length: int | None = field(default=1024, metadata={"help": "tokens per sequence; longer ones are truncated"})
    eval_strategy: str = field(default="epoch", metadata={"help": "when to compute validation accuracy"})
    save_strategy: str = field(default="steps", metadata={"help": "when to checkpoint"})
    save_steps: float = field(default=100, metadata={"help": "checkpoint every this many steps"})
    save_total_limit: int | None = field(default=2, metadata={"help": "checkpoints kept"})
    logging_steps: float = field(default=10, metadata={"help": "log every this many steps"})
    lr_scheduler_type: str = field(default="cosine", metadata={"help": "learning-rate schedule"})
    warmup_ratio: float = field(default=0.05, metadata={"help": "warm-up fraction of the steps"})


def _tokenized(rm: RewardModel, pairs: Sequence[Mapping[str, Any]]):
    import datasets

    chosen = rm.encode([p["question"] for p in pairs], [p["chosen"] for p in pairs])
    rejected = rm.encode([p["question"] for p in pairs], [p["rejected"] for p in pairs])
    truncated = sum(c[1] or r[1] for c, r in zip(chosen, rejected))
    if truncated:
        logger.warning("%d of %d pairs were truncated to %d tokens", truncated, len(pairs), rm.max_length)
    return datasets.Dataset.from_dict({"chosen_ids": [c[0] for c in chosen], "rejected_ids": [r[0] for r in rejected]})


def _prepare(model: torch.nn.Module, config: TrainConfig):
    """Freeze what the mode keeps fixed; return a peft config for LoRA."""
    if config.finetune not in FINETUNE_MODES:
        raise ValueError(f"finetune must be one of {', '.join(FINETUNE_MODES)}, got {config.finetune!r}")
    backbone = getattr(model, model.base_model_prefix)
    if config.finetune == "lora":
        from peft import LoraConfig, TaskType

        depth = len(backbone.layers)
        top = range(depth - config.lora_layers, depth) if 0 < config.lora_layers < depth else None
        return LoraConfig(
            task_type=TaskType.SEQ_CLS,
            r=config.lora_r,
            lora_alpha=config.lora_alpha,
            lora_dropout=config.lora_dropout,
            target_modules=_linear_names(backbone),
            modules_to_save=["score"],
            layers_to_transform=list(top) if top else None,
        )
    if config.finetune == "full":
        return None
    model.requires_grad_(False)
    model.score.requires_grad_(True)
    if config.finetune == "last-k":
        layers = backbone.layers
        if not 1 <= config.last_k <= len(layers):
            raise ValueError(f"last_k must be between 1 and {len(layers)} for this model, got {config.last_k}")
        for layer in layers[-config.last_k :]:
            layer.requires_grad_(True)
        backbone.norm.requires_grad_(True)
    return None


def train_reward_model(config: TrainConfig) -> dict[str, Any]:
    """Train, save to ``config.output_dir`` (loadable by ``RewardModel.from_pretrained``), return the report."""
    if not config.pairs:
        raise ValueError("no pairs given: set `pairs` to a file or dataset id (see `codescaler pairs`)")
    started = time.perf_counter()
    given = read_pairs(config.eval_pairs) if config.eval_pairs else None
    train_rows, eval_rows = training_rows(read_pairs(config.pairs), given, config.pairs, config.allow_eval)
    if config.max_pairs:
        train_rows = train_rows[: config.max_pairs]
    # A LoRA RM trained further with finetune=lora continues its own adapter (its rank and layers), so the
    # result ships the same way; every other case starts from merged weights.
    base, gguf_file, adapter = split_adapter(*resolve_model_path(config.model_name_or_path, config.gguf_file))
    if config.finetune != "lora" or adapter is None:
        base, gguf_file, adapter = config.model_name_or_path, config.gguf_file, None
    rm = RewardModel.from_pretrained(
        base,
        gguf_file=gguf_file,
        dtype="float32",
        device="cpu" if config.use_cpu else None,
        max_length=config.max_length or 4096,
    )
    model = rm.model
    model.hf_quantizer = None  # a GGUF backbone is de-quantised on load: plain tensors that can train and save
    model.is_quantized = False
    if adapter:
        from peft import PeftModel

        logger.info("continuing the LoRA adapter of %s (its rank and layers; lora_* settings unused)", adapter)
        model, peft_config = PeftModel.from_pretrained(model, adapter, is_trainable=True), None
    else:
        peft_config = _prepare(model, config)
    trainer = RewardTrainer(
        model=model,
        args=config,
        processing_class=rm.tokenizer,
        peft_config=peft_config,
        train_dataset=_tokenized(rm, train_rows),
        eval_dataset=_tokenized(rm, eval_rows) if eval_rows else None,
    )
    last = _last_checkpoint(config.output_dir) if config.resume_from_checkpoint is None else None
    result = trainer.train(resume_from_checkpoint=config.resume_from_checkpoint or last)
    trained = trainer.model
    trainable = sum(p.numel() for p in trained.parameters() if p.requires_grad)
    if config.finetune == "lora":
        trained.save_pretrained(config.output_dir)
        _cast_safetensors(Path(config.output_dir) / "adapter_model.safetensors", config.adapter_dtype)
        trained = trained.merge_and_unload()
    else:
        trained.save_pretrained(config.output_dir)
    rm.tokenizer.save_pretrained(config.output_dir)
    save_codescaler_config(
        config.output_dir,
        base_model=base if config.finetune == "lora" else None,
        gguf_file=gguf_file,
        train_max_length=config.max_length,
    )
    elapsed = time.perf_counter() - started
    runtime = result.metrics.get("train_runtime") or elapsed
    scorer = RewardModel(trained.eval(), rm.tokenizer, max_length=rm.max_length)
    validation = pairwise(scorer, eval_rows)["overall"] if eval_rows else None
    report = {
        "model": config.model_name_or_path,
        "finetune": config.finetune,
        "pairs": config.pairs,
        "train_pairs": len(train_rows),
        "validation_pairs": len(eval_rows),
        "epochs": config.num_train_epochs,
        "steps": result.global_step,
        "train_loss": result.training_loss,
        "train_seconds": runtime,
        "pairs_per_second": result.global_step * config.per_device_train_batch_size / runtime,
        "wall_seconds": elapsed,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "trainable_parameters": trainable,
        "validation": validation,
        "log_history": trainer.state.log_history,
    }
    with open(Path(config.output_dir) / "report.json", "w") as f:
        json.dump(report, f, indent=2)
    return report


def _cast_safetensors(path: Path, dtype: str) -> None:
    from safetensors.torch import load_file, save_file

    if dtype not in ("float32", "bfloat16"):
        raise ValueError(f"adapter_dtype must be float32 or bfloat16, got {dtype!r}")
    tensors = load_file(path)
    save_file({k: v.to(getattr(torch, dtype)) for k, v in tensors.items()}, path, metadata={"format": "pt"})


def _linear_names(backbone: torch.nn.Module) -> list[str]:
    """Names of the blocks' linear layers (peft's "all-linear" shorthand cannot be limited to some layers)."""
    return sorted(
        {name.rsplit(".", 1)[-1] for name, m in backbone.layers.named_modules() if isinstance(m, torch.nn.Linear)}
    )


def _last_checkpoint(output_dir: str) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(output_dir) if Path(output_dir).is_dir() else None
