"""The reward model: a Bradley–Terry sequence classifier read at the last token, over its own chat
template of (question, code) (:class:`codescaler.judges.rm_input.RMInput`), scored by :class:`PairScorer`."""

from __future__ import annotations

import copy
import hashlib
import logging
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from codescaler.judges.rm_input import RMInput, load_rm_tokenizer
from codescaler.judges.scorer import PairScorer, cast_to, gguf_load_dtype, resolve_torch_dtype
from codescaler.judges.weights import DTYPES, HEAD_FILE, read_calibration, resolve_model_path, split_adapter

logger = logging.getLogger(__name__)


@contextmanager
def _hushed(quiet: bool) -> Iterator[None]:
    """transformers' loading report and deprecation notices off while ``quiet``, as they were after."""
    from transformers.utils import logging as hf_logging

    before = hf_logging.get_verbosity()
    with warnings.catch_warnings():
        if quiet:
            hf_logging.set_verbosity_error()
            warnings.simplefilter("ignore", FutureWarning)
        try:
            yield
        finally:
            hf_logging.set_verbosity(before)


class RewardModel(RMInput, PairScorer):
    """A sequence-classification reward model with a single-logit ``score`` head, read at the last token.
    Its input (chat template, truncation) is :class:`codescaler.judges.rm_input.RMInput`'s."""

    def __init__(self, model: torch.nn.Module, tokenizer: Any, **options: Any) -> None:
        """``options``: :class:`PairScorer`'s (``max_length``, ``mixed_bf16``, ``calibration``)."""
        head = getattr(model, "score", None)
        if not isinstance(head, torch.nn.Linear) or head.out_features != 1:
            raise ValueError(
                f"{type(model).__name__} has no single-output `score` head; codescaler reads the reward "
                "at the last token of a decoder-only *ForSequenceClassification model with num_labels=1"
            )
        super().__init__(model, tokenizer, **options)
        # The head runs in fp32 so that close candidates do not tie after a bf16 backbone.
        self.head = torch.nn.Linear(head.in_features, 1, bias=head.bias is not None).to(self.device)
        self.head.load_state_dict({k: v.float() for k, v in head.state_dict().items()})

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str,
        *,
        gguf_file: str | None = None,
        dtype: str = "auto",
        device: str | None = None,
        max_length: int = 4096,
        revision: str | None = None,
        trust_remote_code: bool = False,
    ) -> RewardModel:
        """Load an RM (or a causal LM, which gets a fresh one-logit head) from the hub or a folder.

        ``dtype``: ``auto`` (fp32 on CPU, the checkpoint's dtype on GPU), ``float32``, ``bfloat16``,
        ``float16``, or ``bf16-mixed``: fp32 weights and residual stream with bf16 matmuls (autocast),
        about as fast as ``bfloat16`` on CPUs with AVX512-BF16 or AMX and closer to fp32 rankings.
        Dynamic int8 was tried and dropped: per-batch activation scales make a score depend on its batch.
        """
        from transformers import AutoModelForSequenceClassification

        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
        tokenizer = load_rm_tokenizer(
            name_or_path, gguf_file=gguf_file, revision=revision, trust_remote_code=trust_remote_code
        )
        path, gguf_file = resolve_model_path(name_or_path, gguf_file)
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        torch_dtype = resolve_torch_dtype(dtype, device)
        calibration = read_calibration(path)
        base, base_gguf, adapter = split_adapter(path, gguf_file)
        path, gguf_file = resolve_model_path(base, base_gguf)
        kwargs = {"revision": revision, "trust_remote_code": trust_remote_code, "gguf_file": gguf_file}
        # A backbone's fresh head is drawn from a fixed seed, so an untrained model scores reproducibly. Where our
        # adapter or head replaces it, transformers' "score.weight MISSING ... Consider training" is not so: hushed.
        with torch.random.fork_rng(devices=[]), _hushed(adapter is not None):
            torch.manual_seed(0)
            model, info = AutoModelForSequenceClassification.from_pretrained(
                path, num_labels=1, dtype=gguf_load_dtype(torch_dtype, gguf_file), output_loading_info=True, **kwargs
            )
        if adapter is not None and (Path(adapter) / HEAD_FILE).is_file():
            from safetensors.torch import load_file

            model.score.load_state_dict(load_file(str(Path(adapter) / HEAD_FILE)))
        elif adapter is not None:
            from peft import PeftModel

            with _hushed(True):
                model = PeftModel.from_pretrained(model, adapter).merge_and_unload()
        elif any(key.startswith("score.") for key in info.get("missing_keys", ())):
            logger.warning(
                "%s has no reward head: a fresh one (seed 0) was added. Its scores mean nothing until it is "
                "trained; use a trained RM for ranking.",
                name_or_path,
            )
        model = cast_to(model, torch_dtype).to(device)  # after any adapter is merged, in full precision
        return cls(model, tokenizer, max_length=max_length, mixed_bf16=dtype == "bf16-mixed", calibration=calibration)

    def _sequences(self, questions: Sequence[str], codes: Sequence[str]) -> list[tuple[list[int], bool, int]]:
        return [(ids, truncated, len(ids) - 1) for ids, truncated in self.encode(questions, codes)]

    def features(
        self,
        questions: Sequence[str],
        codes: Sequence[str],
        *,
        batch_size: int | None = None,
        max_batch_tokens: int = 16384,
        show_progress: bool = True,
    ) -> torch.Tensor:
        """The states the head reads, one fp32 row per pair in input order: what a head over a frozen
        backbone trains on (:mod:`codescaler.training.head`). Same tokens, batching and prefix reuse as
        :meth:`score`."""
        reader = copy.copy(self)
        reader._read_states = True
        _, states = reader._values(questions, codes, batch_size, max_batch_tokens, show_progress)
        return torch.stack(states) if states else torch.zeros(0, self.head.in_features)

    _read_states = False  # set on the copy :meth:`features` reads through

    def _read(self, hidden, rows, reads, batch, scores) -> None:
        # one position per row, its last token
        index = torch.arange(len(rows), device=hidden.device)
        pooled = hidden[index, torch.tensor(reads, device=hidden.device)].float()
        values = list(pooled.cpu()) if self._read_states else self.head(pooled)[:, 0].tolist()
        for m, value in zip(batch, values):
            scores[m] = value

    def _weights(self) -> list[Any]:
        # The head: every fine-tuning mode trains it.
        return [hashlib.sha256(self.head.weight.detach().float().cpu().numpy().tobytes()).hexdigest()[:16]]
