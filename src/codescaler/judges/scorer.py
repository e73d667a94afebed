"""The scoring machinery every local judge shares (:class:`PairScorer`), and loading a causal LM.

A judge says how a (question, code) pair becomes tokens and what is read from the last hidden state; the
scorer runs the backbone and returns one float per pair in input order. Where the time goes and what we do about it:

* Identical (question, code) pairs are scored once: a quarter of real sampling pools are duplicates.
* Records that share a question (the N candidates of one problem in best-of-N or a GRPO group) share
  a long token prefix: system turn, question, assistant header and any ``code_prefix``. That prefix
  runs once and its key/value cache is reused for every candidate, so only each candidate's own
  tokens are computed. The prefix is the longest common prefix of the *token ids*, so the result is
  the same computation as scoring each sequence whole, not an approximation at a text boundary.
* What is computed, whole sequences or candidates' own parts, is sorted by length across problems and
  batched under a token budget, so padding stays small: a GRPO group's eight responses alone would pad
  to the longest of the eight. A batch's rows may continue different prefixes (each at its own positions).
"""

from __future__ import annotations

import inspect
import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import torch
from torch.nn.utils.rnn import pad_sequence
from tqdm.auto import tqdm

from codescaler.judges.base import Judge, ScoredPair, batches
from codescaler.judges.calibration import Calibration
from codescaler.judges.weights import DTYPES, resolve_model_path

# A shared prefix shorter than this is not worth a separate forward pass.
_MIN_SHARED_PREFIX = 8


def gguf_load_dtype(torch_dtype: torch.dtype | str, gguf_file: str | None) -> torch.dtype | str:
    """The dtype to load in: a GGUF checkpoint in float32, cast to ``torch_dtype`` after (:func:`cast_to`).
    Asked for another dtype, transformers keeps GGUF blocks packed and unpacks them in every forward pass."""
    return torch.float32 if gguf_file is not None else torch_dtype


def cast_to(model: torch.nn.Module, torch_dtype: torch.dtype | str) -> torch.nn.Module:
    return model.to(torch_dtype) if isinstance(torch_dtype, torch.dtype) else model


def resolve_torch_dtype(dtype: str, device: str) -> torch.dtype | str:
    """The ``dtype=`` for ``from_pretrained``: ``auto`` is fp32 on CPU (checkpoints often store bf16/fp16,
    slow there) and the checkpoint's own on GPU; ``bf16-mixed`` keeps fp32 weights for bf16 autocast."""
    if dtype == "auto":
        return torch.float32 if device == "cpu" else "auto"
    return torch.float32 if dtype == "bf16-mixed" else getattr(torch, dtype)


def load_causal_lm(
    name_or_path: str, *, gguf_file: str | None = None, dtype: str = "auto", device: str | None = None
) -> tuple[torch.nn.Module, Any]:
    """A causal LM (hub id, folder, or packaged name) and its tokenizer, on ``device`` (default: cuda if
    present) in ``dtype`` (see :meth:`RewardModel.from_pretrained`), in eval mode."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    path, gguf_file = resolve_model_path(name_or_path, gguf_file)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    torch_dtype = resolve_torch_dtype(dtype, device)
    tokenizer = AutoTokenizer.from_pretrained(path, gguf_file=gguf_file)
    model = AutoModelForCausalLM.from_pretrained(
        path, gguf_file=gguf_file, dtype=gguf_load_dtype(torch_dtype, gguf_file)
    )
    return cast_to(model, torch_dtype).to(device).eval(), tokenizer


class PairScorer(Judge):
    """What every judge of (question, code) pairs shares: a decoder backbone run over each pair's tokens,
    duplicates once, shared prefixes once, length-sorted batches under a token budget, and a progress bar.

    A subclass says how a pair becomes tokens (:meth:`_sequences`: the ids, whether they were cut, and the
    first position whose hidden state is read) and what is read there (:meth:`_read`).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer: Any,
        *,
        max_length: int = 4096,
        mixed_bf16: bool = False,
        calibration: Calibration | None = None,
        share_prefix: bool = True,
    ) -> None:
        """``share_prefix=False`` scores every sequence whole: what the prefix reuse saves can be measured."""
        if max_length < 16:
            raise ValueError(f"max_length must be at least 16 tokens, got {max_length}")
        self.model = model.eval()
        self.backbone = getattr(model, model.base_model_prefix)
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.device = next(model.parameters()).device
        self.mixed_bf16 = mixed_bf16
        self.calibration = calibration  # raw score -> P(pass), where one was fitted for these weights
        self.share_prefix = share_prefix
        self._cache_arg = (
            "cache" if "cache" in inspect.signature(self.backbone.forward).parameters else "past_key_values"
        )

    def _sequences(self, questions: Sequence[str], codes: Sequence[str]) -> list[tuple[list[int], bool, int]]:
        raise NotImplementedError

    def _read(
        self, hidden: torch.Tensor, rows: list[list[int]], reads: list[int], batch: list[int], scores: list[float]
    ) -> None:
        """Write ``scores[batch[i]]`` from ``hidden[i]``, the states of ``rows[i]``, read from ``reads[i]`` on."""
        raise NotImplementedError

    def fingerprint(self) -> list[Any]:
        """What tells these weights and this reading apart from others of the same name (a cache key)."""
        calibration = self.calibration.to_dict() if self.calibration else None
        dtype = str(next(self.model.parameters()).dtype)
        return [*self._weights(), dtype, self.mixed_bf16, self.max_length, calibration]

    def _weights(self) -> list[Any]:
        """A digest of the weights that fine-tuning changes."""
        raise NotImplementedError

    # ---- scoring ------------------------------------------------------------------------------

    def score_pairs(
        self,
        questions: Sequence[str],
        codes: Sequence[str],
        *,
        batch_size: int | None = None,
        max_batch_tokens: int = 16384,
        show_progress: bool = True,
    ) -> list[ScoredPair]:
        """Like :meth:`score`, with each pair's truncation flag and token count."""
        encoded, values = self._values(questions, codes, batch_size, max_batch_tokens, show_progress)
        return [ScoredPair(value, truncated, len(ids)) for value, (ids, truncated, _) in zip(values, encoded)]

    def _values(
        self,
        questions: Sequence[str],
        codes: Sequence[str],
        batch_size: int | None,
        max_batch_tokens: int,
        show_progress: bool,
    ) -> tuple[list[tuple[list[int], bool, int]], list[Any]]:
        """Each pair's encoding, and what :meth:`_read` wrote for it."""
        if len(questions) != len(codes):
            raise ValueError(f"got {len(questions)} questions but {len(codes)} codes")
        if batch_size is None:
            batch_size = 8 if self.device.type == "cpu" else 64
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        if max_batch_tokens < 1:
            raise ValueError(f"max_batch_tokens must be positive, got {max_batch_tokens}")
        if not questions:
            return [], []
        encoded = self._sequences(questions, codes)
        unique: dict[tuple[int, ...], int] = {}
        slot = [unique.setdefault((read, *ids), len(unique)) for ids, _, read in encoded]
        sequences = [list(key[1:]) for key in unique]
        reads = [key[0] for key in unique]
        by_question: dict[str, list[int]] = defaultdict(list)
        for i, q in enumerate(questions):
            by_question[q].append(slot[i])
        scores: list[Any] = [math.nan] * len(sequences)
        autocast = torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.mixed_bf16)
        with autocast, tqdm(total=len(sequences), desc="scoring", unit="seq", disable=not show_progress) as bar:
            groups: list[tuple[list[int], int]] = []
            loose: list[int] = []
            for members in by_question.values():
                members = sorted(set(members))
                # every member's read positions must lie after the prefix, in its own rows
                shared = min(common_prefix_length([sequences[m] for m in members]), *(reads[m] for m in members))
                if self.share_prefix and len(members) > 1 and shared >= _MIN_SHARED_PREFIX:
                    groups.append((members, shared))
                else:
                    loose.extend(members)
            for window in prefix_windows(groups, max_batch_tokens):
                self._score_groups(sequences, reads, window, scores, batch_size, max_batch_tokens, bar)
            if loose:
                self._score_groups(sequences, reads, [(loose, 0)], scores, batch_size, max_batch_tokens, bar)
        return encoded, [scores[s] for s in slot]

    @torch.inference_mode()
    def _score_groups(self, sequences, reads, groups, scores, batch_size, max_batch_tokens, bar) -> None:
        """Score the members of ``groups``, each ``(members, shared)``: the members' first ``shared`` tokens
        are the same. A group's prefix runs once and its key/value states serve every member; then the
        members of all the groups are batched together, longest own part first, so that they pad as little
        as whole sequences would (``shared=0``: no prefix, each sequence whole)."""
        prefixes = self._prefix_states(sequences, groups, batch_size, max_batch_tokens)
        items = [(m, g, shared) for g, (members, shared) in enumerate(groups) for m in members]
        own = [len(sequences[m]) - shared for m, _, shared in items]
        order = sorted(range(len(items)), key=lambda i: -own[i])  # longest first: OOM shows early
        widest = max(shared for _, shared in groups)
        for batch in batches(order, [own[i] for i in order], batch_size, max(max_batch_tokens - widest, 1)):
            picked = [items[i] for i in batch]
            rows = [sequences[m][shared:] for m, _, shared in picked]
            input_ids, mask = self._pad(rows)
            if widest:
                hidden = self._forward_after(input_ids, mask, [prefixes[g] for _, g, _ in picked])
            else:
                hidden = self.backbone(input_ids=input_ids, attention_mask=mask, use_cache=False).last_hidden_state
            members = [m for m, _, _ in picked]
            self._read(hidden, rows, [reads[m] - shared for m, _, shared in picked], members, scores)
            bar.update(len(batch))

    def _prefix_states(self, sequences, groups, batch_size, max_batch_tokens) -> list[list[tuple[torch.Tensor, ...]]]:
        """Each group's prefix key and value states, per layer, each (heads, shared, head_dim); the prefixes
        run in length-sorted padded batches like whole sequences."""
        states: list[list[tuple[torch.Tensor, ...]]] = [[] for _ in groups]
        order = sorted((g for g, (_, shared) in enumerate(groups) if shared), key=lambda g: -groups[g][1])
        for batch in batches(order, [groups[g][1] for g in order], batch_size, max_batch_tokens):
            input_ids, mask = self._pad([sequences[groups[g][0][0]][: groups[g][1]] for g in batch])
            out = self.backbone(input_ids=input_ids, attention_mask=mask, use_cache=True)
            cache = out["cache"] if "cache" in out else out["past_key_values"]  # renamed in transformers 5.x
            for i, g in enumerate(batch):
                n = groups[g][1]
                states[g] = [(layer.keys[i, :, :n], layer.values[i, :, :n]) for layer in cache.layers]
        return states

    def _forward_after(self, input_ids: torch.Tensor, mask: torch.Tensor, prefixes: list) -> torch.Tensor:
        """Hidden states of rows that continue ``prefixes`` (one per row, as :meth:`_prefix_states` gives).
        The prefixes lie left-aligned in one cache as wide as the longest, the gap after a shorter one is
        masked out, and each row's positions continue its own prefix."""
        from transformers import DynamicCache

        lengths = torch.tensor([p[0][0].shape[1] for p in prefixes], device=self.device)
        width = int(lengths.max())
        # pad along positions, (rows, positions, heads, dim), then put heads before positions again
        layers = [
            tuple(
                pad_sequence([p[layer][j].transpose(0, 1) for p in prefixes], batch_first=True).transpose(1, 2)
                for j in (0, 1)
            )
            for layer in range(len(prefixes[0]))
        ]
        cache = DynamicCache(ddp_cache_data=layers, config=self.model.config)
        seen = (torch.arange(width, device=self.device) < lengths[:, None]).to(mask.dtype)
        positions = lengths[:, None] + torch.arange(input_ids.shape[1], device=self.device)
        return self.backbone(
            input_ids=input_ids,
            attention_mask=torch.cat([seen, mask], dim=1),
            position_ids=positions,
            use_cache=True,
            **{self._cache_arg: cache},
        ).last_hidden_state

    def _pad(self, rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        # Right padding: under causal attention real tokens never see the pads, whatever the pad id.
        width = max(len(r) for r in rows)
        input_ids = torch.zeros(len(rows), width, dtype=torch.long)
        mask = torch.zeros(len(rows), width, dtype=torch.long)
        for i, r in enumerate(rows):
            input_ids[i, : len(r)] = torch.tensor(r)
            mask[i, : len(r)] = 1
        return input_ids.to(self.device), mask.to(self.device)


def prefix_windows(groups: list[tuple[list[int], int]], max_tokens: int) -> list[list[tuple[list[int], int]]]:
    """Consecutive runs of ``(members, shared)`` groups whose prefixes hold at most ``max_tokens`` tokens
    together (one group at least): the prefix states of one run are held at once."""
    windows: list[list[tuple[list[int], int]]] = []
    held = 0
    for group in groups:
        if windows and held + group[1] <= max_tokens:
            windows[-1].append(group)
            held += group[1]
        else:
            windows.append([group])
            held = group[1]
    return windows


def common_prefix_length(rows: list[list[int]]) -> int:
    """Longest common prefix, leaving every row at least one token of its own to read the score at."""
    shortest = min(len(r) for r in rows)
    first = rows[0]
    n = 0
    while n < shortest - 1 and all(r[n] == first[n] for r in rows):
        n += 1
    return n
