"""Sampling answers from a causal LM: one interface, a backend per engine, one factory that chooses.

A :class:`Sampler` turns prompts into ``n`` responses each under a :class:`SampleConfig`. Backends:
``transformers`` (any machine; :class:`TransformersSampler` also wraps a model already in memory, as RL
evaluation does) and ``vllm`` (GPU). :func:`make_sampler` is the only place that picks one.

A prompt is a question sent through the model's chat template, or with ``completion`` raw text to
continue (a HumanEval-style signature and docstring), which is how base models are sampled for
best-of-N pools such as CodeT's. A completion ends *before* its stop string (``"\\ndef "`` closes the
function; kept, it would not parse); a chat answer keeps it (``"\\n```\\n"`` ends it after its first code
block, which is all that extraction reads and about half the tokens of a chat model's answer).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

SAMPLER_BACKENDS = ("transformers", "vllm")
SAMPLER_DTYPES = ("auto", "float32", "bfloat16", "float16")


@dataclass
class SampleConfig:
    """How answers are sampled. Temperature 0 decodes greedily."""

    n: int = field(default=4, metadata={"help": "samples per prompt", "short": "-n"})
    temperature: float = field(default=0.8, metadata={"help": "sampling temperature (0: greedy)"})
    top_p: float = field(default=0.95, metadata={"help": "nucleus sampling"})
    max_new_tokens: int = field(default=384, metadata={"help": "tokens per response"})
    batch_size: int = field(default=16, metadata={"help": "sequences per generate call (transformers)"})
    stop: list[str] = field(
        default_factory=list,
        metadata={"help": "strings that end a response, e.g. $'\\n```\\n' after the first code block"},
    )
    completion: bool = field(
        default=False, metadata={"help": "continue each prompt as raw text, no chat template; cut before a stop"}
    )
    seed: int = field(default=0, metadata={"help": "sampling seed"})
    backend: Literal["transformers", "vllm"] = field(default="transformers", metadata={"help": "engine"})
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = field(
        default="auto",
        metadata={"help": "weights precision: auto is fp32 on CPU; bfloat16 samples 2x faster on AVX512-BF16 CPUs"},
    )

    def __post_init__(self) -> None:
        if self.backend not in SAMPLER_BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(SAMPLER_BACKENDS)}, got {self.backend!r}")
        if self.dtype not in SAMPLER_DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(SAMPLER_DTYPES)}, got {self.dtype!r}")
        if self.n < 1 or self.batch_size < 1 or self.max_new_tokens < 1:
            raise ValueError(
                f"n, batch_size and max_new_tokens must be positive, got {self.n}, {self.batch_size}, "
                f"{self.max_new_tokens}"
            )


class Sampler(Protocol):
    def generate(self, prompts: Sequence[str], config: SampleConfig, show_progress: bool = False) -> list[list[str]]:
        """``config.n`` responses per prompt, in prompt order."""
        ...


def cut_before(text: str, stop: Sequence[str]) -> str:
    """``text`` up to its first stop string (generation halts on the token that completes one, maybe past it)."""
    return text[: min((i for i in (text.find(s) for s in stop) if i >= 0), default=len(text))]


class TransformersSampler:
    """Samples with ``model.generate``: length-sorted batches, left padding."""

    def __init__(self, model: Any, tokenizer: Any) -> None:
        self.model = model
        # Our own copy: generation needs left padding and a pad token, and the caller's tokenizer keeps its own.
        self.tokenizer = copy.deepcopy(tokenizer)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token

    @classmethod
    def from_pretrained(
        cls, name_or_path: str, *, gguf_file: str | None = None, dtype: str = "auto"
    ) -> TransformersSampler:
        from codescaler.judges.scorer import load_causal_lm

        return cls(*load_causal_lm(name_or_path, gguf_file=gguf_file, dtype=dtype))

    def generate(self, prompts: Sequence[str], config: SampleConfig, show_progress: bool = False) -> list[list[str]]:
        import torch
        from tqdm.auto import tqdm

        tokenizer = self.tokenizer
        device = next(self.model.parameters()).device
        texts = (
            list(prompts)
            if config.completion
            else [
                tokenizer.apply_chat_template(
                    [{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True
                )
                for p in prompts
            ]
        )
        flat = [(i, t) for i, t in enumerate(texts) for _ in range(config.n)]
        flat.sort(key=lambda item: len(item[1]))  # similar lengths batch with little padding
        out: list[list[str]] = [[] for _ in prompts]
        sampling: dict[str, Any] = {"do_sample": False}
        if config.temperature > 0:
            sampling = {"do_sample": True, "temperature": config.temperature, "top_p": config.top_p}
        if config.stop:
            sampling |= {"stop_strings": list(config.stop), "tokenizer": tokenizer}
        torch.manual_seed(config.seed)
        for start in tqdm(range(0, len(flat), config.batch_size), desc="sample", disable=not show_progress):
            chunk = flat[start : start + config.batch_size]
            # a chat template writes its own special tokens; raw text gets the tokenizer's (a BOS, if it has one)
            inputs = tokenizer(
                [t for _, t in chunk], return_tensors="pt", padding=True, add_special_tokens=config.completion
            )
            with torch.inference_mode():
                generated = self.model.generate(
                    **inputs.to(device),
                    **sampling,
                    max_new_tokens=config.max_new_tokens,
                    pad_token_id=tokenizer.pad_token_id,
                )
            answers = tokenizer.batch_decode(generated[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
            for (i, _), answer in zip(chunk, answers):
                out[i].append(cut_before(answer, config.stop) if config.completion else answer)
        return out


class VLLMSampler:
    """Samples with vLLM's offline engine (``LLM.generate`` for completions, ``LLM.chat`` for chat prompts)."""

    def __init__(self, llm: Any) -> None:
        self.llm = llm

    @classmethod
    def from_pretrained(
        cls, name_or_path: str, *, gguf_file: str | None = None, dtype: str = "auto", seed: int = 0
    ) -> VLLMSampler:
        try:
            from vllm import LLM
        except ImportError as err:
            raise ImportError("the vllm backend needs vLLM: pip install 'codescaler[vllm]'") from err
        from codescaler.judges.weights import resolve_model_path

        path, gguf_file = resolve_model_path(name_or_path, gguf_file)
        return cls(LLM(model=path, tokenizer=path if gguf_file is None else None, seed=seed, dtype=dtype))

    def generate(self, prompts: Sequence[str], config: SampleConfig, show_progress: bool = False) -> list[list[str]]:
        from vllm import SamplingParams

        params = SamplingParams(
            n=config.n,
            temperature=config.temperature,
            top_p=config.top_p,
            max_tokens=config.max_new_tokens,
            seed=config.seed,
            stop=list(config.stop) or None,
            include_stop_str_in_output=not config.completion,
        )
        if config.completion:
            results = self.llm.generate(list(prompts), params, use_tqdm=show_progress)
        else:
            chats = [[{"role": "user", "content": p}] for p in prompts]
            results = self.llm.chat(chats, params, use_tqdm=show_progress)
        return [[o.text for o in r.outputs] for r in results]


def make_sampler(name_or_path: str, config: SampleConfig, *, gguf_file: str | None = None) -> Sampler:
    """Load ``name_or_path`` (hub id, folder or packaged name) on ``config.backend`` in ``config.dtype``."""
    if config.backend == "vllm":
        return VLLMSampler.from_pretrained(name_or_path, gguf_file=gguf_file, dtype=config.dtype, seed=config.seed)
    return TransformersSampler.from_pretrained(name_or_path, gguf_file=gguf_file, dtype=config.dtype)
