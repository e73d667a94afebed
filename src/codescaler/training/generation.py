"""Sampling answers from a causal LM: one interface, a backend per engine, one factory that chooses.

A :class:`Sampler` turns prompts into ``n`` responses each under a :class:`SampleConfig`, each a
:class:`Sample` that knows its tokens and seconds. Backends: ``transformers`` (any machine;
:class:`TransformersSampler` also wraps a model already in memory, as RL evaluation does), ``vllm`` (GPU), and
any OpenAI-compatible server (``openai+http://host:8000/v1``: vLLM, SGLang, TGI serving a trained policy;
:class:`OpenAISampler`). :func:`make_sampler` is the only place that picks one.

A prompt is a question sent through the model's chat template, or with ``completion`` raw text to
continue (a HumanEval-style signature and docstring), which is how base models are sampled for
best-of-N pools such as CodeT's. A completion ends *before* its stop string (``"\\ndef "`` closes the
function; kept, it would not parse); a chat answer keeps it (``"\\n```\\n"`` ends it after its first code
block, which is all that extraction reads and about half the tokens of a chat model's answer).
"""

from __future__ import annotations

import copy
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from codescaler.records.errors import unloadable

Backend = Literal["transformers", "vllm", "auto"]  # auto: vllm where it is installed and a GPU is there
SampleDType = Literal["auto", "float32", "bfloat16", "float16"]
SAMPLER_BACKENDS: tuple[str, ...] = get_args(Backend)
SAMPLER_DTYPES: tuple[str, ...] = get_args(SampleDType)


@dataclass
class SampleConfig:
    """How answers are sampled. Temperature 0 decodes greedily."""

    n: int = field(default=4, metadata={"help": "samples per prompt", "short": "-n"})
    temperature: float = field(default=0.8, metadata={"help": "sampling temperature (0: greedy)"})
    top_p: float = field(default=0.95, metadata={"help": "nucleus sampling"})
    top_k: int = field(default=0, metadata={"help": "sample among the k likeliest tokens (0: no limit)"})
    system: str = field(default="", metadata={"help": "system message of chat prompts (none when empty)"})
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
    backend: Backend = field(
        default="transformers", metadata={"help": "engine (auto: vllm where installed with a GPU, else transformers)"}
    )
    dtype: SampleDType = field(
        default="auto",
        metadata={"help": "weights precision: auto is fp32 on CPU; bfloat16 samples 2x faster on AVX512-BF16 CPUs"},
    )
    concurrency: int = field(default=8, metadata={"help": "openai+http://...: requests in flight"})
    served_model: str = field(default="", metadata={"help": "openai+http://...: model name (default: its first)"})

    def __post_init__(self) -> None:
        if self.backend not in SAMPLER_BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(SAMPLER_BACKENDS)}, got {self.backend!r}")
        if self.dtype not in SAMPLER_DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(SAMPLER_DTYPES)}, got {self.dtype!r}")
        if self.n < 1 or self.batch_size < 1 or self.max_new_tokens < 1 or self.concurrency < 1 or self.top_k < 0:
            raise ValueError(
                f"n, batch_size, max_new_tokens and concurrency must be positive and top_k at least 0, got "
                f"{self.n}, {self.batch_size}, {self.max_new_tokens}, {self.concurrency}, {self.top_k}"
            )


@dataclass(frozen=True)
class Sample:
    """One response: its text, the tokens generated, the wall seconds of the call that made it (shared evenly
    among the samples that call made), and whether it was cut off at ``max_new_tokens`` before it ended."""

    text: str
    tokens: int
    seconds: float
    truncated: bool = False


class Sampler(ABC):
    """What every backend offers: :meth:`sample` (its own), and the texts alone (:meth:`generate`)."""

    @abstractmethod
    def sample(self, prompts: Sequence[str], config: SampleConfig, show_progress: bool = False) -> list[list[Sample]]:
        """``config.n`` samples per prompt, in prompt order."""

    def generate(self, prompts: Sequence[str], config: SampleConfig, show_progress: bool = False) -> list[list[str]]:
        """``config.n`` responses per prompt, in prompt order."""
        return [[s.text for s in row] for row in self.sample(prompts, config, show_progress)]


def chat(prompt: str, config: SampleConfig) -> list[dict[str, str]]:
    """The messages of a chat prompt: ``config.system`` (when set), then the prompt as the user's turn."""
    system = [{"role": "system", "content": config.system}] if config.system else []
    return [*system, {"role": "user", "content": prompt}]


def cut_before(text: str, stop: Sequence[str]) -> str:
    """``text`` up to its first stop string (generation halts on the token that completes one, maybe past it)."""
    return text[: min((i for i in (text.find(s) for s in stop) if i >= 0), default=len(text))]


class TransformersSampler(Sampler):
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

    def _end_ids(self) -> set[int]:
        """The tokens a finished row ends or pads with: the tokenizer's and the model's end tokens (a chat model
        may end at <|im_end|> while its tokenizer's EOS is another), and padding."""
        configured = getattr(getattr(self.model, "generation_config", None), "eos_token_id", None)
        configured = configured if isinstance(configured, list) else [configured]
        return {self.tokenizer.eos_token_id, self.tokenizer.pad_token_id, *configured} - {None}

    def sample(self, prompts: Sequence[str], config: SampleConfig, show_progress: bool = False) -> list[list[Sample]]:
        import torch
        from tqdm.auto import tqdm

        tokenizer = self.tokenizer
        device = next(self.model.parameters()).device
        texts = (
            list(prompts)
            if config.completion
            else [
                tokenizer.apply_chat_template(chat(p, config), tokenize=False, add_generation_prompt=True)
                for p in prompts
            ]
        )
        flat = [(i, t) for i, t in enumerate(texts) for _ in range(config.n)]
        flat.sort(key=lambda item: len(item[1]))  # similar lengths batch with little padding
        out: list[list[Sample]] = [[] for _ in prompts]
        sampling: dict[str, Any] = {"do_sample": False}
        if config.temperature > 0:
            # top_k=0 turns off transformers' own default of 50
            sampling = {
                "do_sample": True,
                "temperature": config.temperature,
                "top_p": config.top_p,
                "top_k": config.top_k,
            }
        if config.stop:
            sampling |= {"stop_strings": list(config.stop), "tokenizer": tokenizer}
        torch.manual_seed(config.seed)
        for start in tqdm(range(0, len(flat), config.batch_size), desc="sample", disable=not show_progress):
            chunk = flat[start : start + config.batch_size]
            # a chat template writes its own special tokens; raw text gets the tokenizer's (a BOS, if it has one)
            inputs = tokenizer(
                [t for _, t in chunk], return_tensors="pt", padding=True, add_special_tokens=config.completion
            )
            started = time.perf_counter()
            with torch.inference_mode():
                generated = self.model.generate(
                    **inputs.to(device),
                    **sampling,
                    max_new_tokens=config.max_new_tokens,
                    pad_token_id=tokenizer.pad_token_id,
                )
            new = generated[:, inputs["input_ids"].shape[1] :]
            seconds = (time.perf_counter() - started) / len(chunk)
            answers = tokenizer.batch_decode(new, skip_special_tokens=True)
            counts = (new != tokenizer.pad_token_id).sum(dim=1).tolist()  # a finished row pads after its end
            ended = _ended(new, self._end_ids(), config.stop, answers)
            for (i, _), answer, tokens, done in zip(chunk, answers, counts, ended):
                text = cut_before(answer, config.stop) if config.completion else answer
                out[i].append(Sample(text, int(tokens), seconds, truncated=not done))
        return out


def _ended(new: Any, ends: set[int], stop: Sequence[str], answers: Sequence[str]) -> list[bool]:
    """Per generated row, whether it ended by itself (an end token, or a stop string) rather than at the
    ``max_new_tokens`` limit: a row that ended pads after its end, so only a row with no padding can be cut."""
    return [
        bool(ends & set(row[-1:].tolist())) or len(row) == 0 or any(s in answer for s in stop)
        for row, answer in zip(new, answers)
    ]


class VLLMSampler(Sampler):
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

    def sample(self, prompts: Sequence[str], config: SampleConfig, show_progress: bool = False) -> list[list[Sample]]:
        from vllm import SamplingParams

        params = SamplingParams(
            n=config.n,
            temperature=config.temperature,
            top_p=config.top_p,
            top_k=config.top_k or -1,  # vLLM's "no limit"
            max_tokens=config.max_new_tokens,
            seed=config.seed,
            stop=list(config.stop) or None,
            include_stop_str_in_output=not config.completion,
        )
        started = time.perf_counter()
        if config.completion:
            results = self.llm.generate(list(prompts), params, use_tqdm=show_progress)
        else:
            results = self.llm.chat([chat(p, config) for p in prompts], params, use_tqdm=show_progress)
        seconds = (time.perf_counter() - started) / max(1, len(prompts) * config.n)  # one engine run for all
        return [
            [Sample(o.text, len(o.token_ids), seconds, truncated=o.finish_reason == "length") for o in r.outputs]
            for r in results
        ]


OPENAI_SCHEME = "openai+"


class OpenAISampler(Sampler):
    """Samples from an OpenAI-compatible server (``/chat/completions``, or ``/completions`` for raw text):
    one request per prompt asks for all ``n``, ``concurrency`` requests in flight, each retried on a dropped
    connection and on 429/502/503/504. A choice's tokens are the request's ``usage`` shared evenly."""

    def __init__(self, base_url: str, *, timeout: float = 600.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def sample(self, prompts: Sequence[str], config: SampleConfig, show_progress: bool = False) -> list[list[Sample]]:
        import httpx
        from tqdm.auto import tqdm

        from codescaler.judges.http import ServerError, post_json

        with httpx.Client(timeout=self.timeout) as http:
            model = config.served_model or self._first_model(http)
            endpoint = f"{self.base_url}/{'completions' if config.completion else 'chat/completions'}"

            def one(index: int) -> list[Sample]:
                body: dict[str, Any] = {
                    "model": model,
                    "n": config.n,
                    "temperature": config.temperature,
                    "top_p": config.top_p,
                    "max_tokens": config.max_new_tokens,
                    "seed": config.seed + index,
                }
                if config.top_k:
                    body["top_k"] = config.top_k  # vLLM's and SGLang's extension of the API
                if config.stop:
                    body["stop"] = list(config.stop)
                if config.completion:
                    body["prompt"] = prompts[index]
                else:
                    body["messages"] = chat(prompts[index], config)
                started = time.perf_counter()
                answer = post_json(http, endpoint, body)
                seconds = time.perf_counter() - started
                try:
                    choices = sorted(answer["choices"], key=lambda c: c.get("index", 0))
                    texts = [c["text"] if config.completion else c["message"]["content"] or "" for c in choices]
                    tokens = (answer.get("usage") or {}).get("completion_tokens", 0)
                    cut = [c.get("finish_reason") == "length" for c in choices]
                except (KeyError, TypeError) as err:
                    raise ServerError(f"{endpoint} answered without choices: {str(answer)[:200]}") from err
                if len(texts) != config.n:
                    raise ServerError(f"{endpoint} gave {len(texts)} choices for n={config.n}")
                if config.completion:
                    texts = [cut_before(t, config.stop) for t in texts]
                share = round(tokens / len(texts))
                return [Sample(t, share, seconds / len(texts), truncated=c) for t, c in zip(texts, cut)]

            with ThreadPoolExecutor(config.concurrency) as pool:
                results = pool.map(one, range(len(prompts)))
                return list(tqdm(results, total=len(prompts), desc="sample", disable=not show_progress))

    def _first_model(self, http: Any) -> str:
        import httpx

        from codescaler.judges.http import ServerError

        try:
            return http.get(f"{self.base_url}/models").json()["data"][0]["id"]
        except (httpx.HTTPError, ValueError, KeyError, IndexError) as err:
            raise ServerError(f"{self.base_url}/models names no model; pass --served-model ({err})") from err


def _vllm_usable() -> bool:
    import importlib.util

    import torch

    return importlib.util.find_spec("vllm") is not None and torch.cuda.is_available()


def check_policy(name_or_path: str) -> None:
    """Raise the one-line load error :func:`make_sampler` would, reading only the policy's config (where another
    machine loads its weights: a Ray actor). A served policy is checked where it is called."""
    if name_or_path.startswith(OPENAI_SCHEME):
        return
    from transformers import AutoConfig

    from codescaler.judges.weights import resolve_model_path

    try:
        path, gguf_file = resolve_model_path(name_or_path, None)
        AutoConfig.from_pretrained(path, gguf_file=gguf_file)
    except (OSError, ValueError) as err:
        raise unloadable("policy", name_or_path, err) from err


def make_sampler(name_or_path: str, config: SampleConfig, *, gguf_file: str | None = None) -> Sampler:
    """Load ``name_or_path`` (hub id, folder or packaged name) on ``config.backend`` in ``config.dtype``, or
    connect to the server it names (``openai+http://host:8000/v1``)."""
    if name_or_path.startswith(OPENAI_SCHEME):
        return OpenAISampler(name_or_path[len(OPENAI_SCHEME) :])
    try:
        if config.backend == "vllm" or (config.backend == "auto" and _vllm_usable()):
            return VLLMSampler.from_pretrained(name_or_path, gguf_file=gguf_file, dtype=config.dtype, seed=config.seed)
        return TransformersSampler.from_pretrained(name_or_path, gguf_file=gguf_file, dtype=config.dtype)
    except OSError as err:  # no such folder, hub id or packaged name: said in one line
        raise unloadable("policy", name_or_path, err) from err
