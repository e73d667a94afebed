"""One GRPO step of the paper scored on one GPU, three ways side by side in one run.

The step: 128 prompts x 8 responses, prompts uniform in [300, 2000] tokens and responses uniform in
[200, 4000] (flags). The RM: a Qwen3ForSequenceClassification with the architecture of
Skywork-Reward-V2-Qwen3-1.7B or -8B (below), random weights made on the device, bf16, SDPA; no hub, no
weights to copy. A word-level tokenizer with Qwen3's vocabulary size and a ChatML template makes one token
of each word, so lengths are exact and token ids spread over the whole vocabulary.

  padded  what ``GRPOTrainer(reward_funcs=<model id>)`` does (TRL 1.16, ``_calculate_rewards``): the chat
          template, right-padded batches of a fixed size in rollout order (a group's 8 responses side by
          side), ``model(**batch).logits[:, 0]``. TRL puts a whole generation batch in one forward pass;
          at this step's lengths that does not fit, so a TRL user splits it: ``--padded-batch`` rows.
  sorted  ``RewardModel.score`` with ``share_prefix=False``: every sequence whole, sorted by length
          across the step and batched under a token budget.
  prefix  ``RewardModel.score``: each group's prompt runs once and its key/value states serve its 8
          responses, whose own tokens are sorted and batched across groups.

Figures per mode: seconds for the step (tokenising included), step tokens/s, MFU (2 x the matmul
parameters x the tokens the mode must compute, padding not counted, at ``--peak-tflops``), tokens fed
with padding, peak GPU memory, and against ``padded``: max |score difference| and top-1 agreement per
group. The bf16 noise floor: the first ``--noise-groups`` groups scored again with the model in fp32.

On the GPU (one model per call; results merge by model into one file):

    python bench/score_gpu.py --model 1.7b --prompts 128 && python bench/score_gpu.py --model 8b --prompts 32

The script checked on CPU (tests/test_bench_score_gpu.py does this):

    python bench/score_gpu.py --model tiny --device cpu --dtype float32 --prompts 3 \\
        --prompt-tokens 20 60 --response-tokens 10 80 --out /tmp/score_gpu_cpu.json
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import torch
from common import RESULTS, machine
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3ForSequenceClassification

from codescaler import RewardModel
from codescaler.judges.scorer import common_prefix_length

# Skywork-Reward-V2-Qwen3-{1.7B,8B} are Qwen3-{1.7B,8B} with a one-logit head (their config.json).
ARCHITECTURES = {
    "1.7b": dict(hidden_size=2048, intermediate_size=6144, num_hidden_layers=28, num_attention_heads=16),
    "8b": dict(hidden_size=4096, intermediate_size=12288, num_hidden_layers=36, num_attention_heads=32),
    "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4),
}
QWEN3_VOCAB = 151936
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHATML = "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
MODES = ("padded", "sorted", "prefix")
PAPER_STEP_PROMPTS = 128


def build_tokenizer(vocab_size: int) -> PreTrainedTokenizerFast:
    words = [*SPECIAL, "user", "assistant", "system"]
    words += [f"w{i}" for i in range(vocab_size - len(words))]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<|endoftext|>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<|endoftext|>", eos_token="<|im_end|>", additional_special_tokens=SPECIAL[1:]
    )
    fast.chat_template = CHATML
    return fast


def build_model(name: str, vocab_size: int, pad_token_id: int, dtype: torch.dtype, device: str) -> torch.nn.Module:
    head_dim = 16 if name == "tiny" else 128
    config = Qwen3Config(
        vocab_size=vocab_size,
        head_dim=head_dim,
        num_key_value_heads=2 if name == "tiny" else 8,
        max_position_embeddings=40960,
        rope_parameters={"rope_type": "default", "rope_theta": 1_000_000.0},
        tie_word_embeddings=False,
        num_labels=1,
        pad_token_id=pad_token_id,
        attn_implementation="sdpa",
        **ARCHITECTURES[name],
    )
    torch.manual_seed(0)
    default = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # weights born in bf16 on the device: an 8B never exists in fp32
    try:
        with torch.device(device):
            model = Qwen3ForSequenceClassification(config)
    finally:
        torch.set_default_dtype(default)
    return model.eval()


def synthetic_step(
    prompts: int,
    responses: int,
    prompt_tokens: tuple[int, int],
    response_tokens: tuple[int, int],
    vocab: int,
    seed: int,
) -> tuple[list[str], list[str]]:
    """Rollout order, as a GRPO trainer holds it: each prompt's responses side by side."""
    rng = random.Random(seed)

    def text(low: int, high: int) -> str:
        return " ".join(f"w{rng.randrange(vocab)}" for _ in range(rng.randint(low, high)))

    questions, codes = [], []
    for _ in range(prompts):
        question = text(*prompt_tokens)
        for _ in range(responses):
            questions.append(question)
            codes.append(text(*response_tokens))
    return questions, codes


def padded_scores(rm: RewardModel, questions: list[str], codes: list[str], batch: int) -> list[float]:
    """TRL's reward-model path, batch by batch in rollout order."""
    texts = [rm.format(q, c) for q, c in zip(questions, codes)]
    scores: list[float] = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch):
            inputs = rm.tokenizer(
                texts[start : start + batch],
                return_tensors="pt",
                padding=True,
                padding_side="right",
                add_special_tokens=False,
            ).to(rm.device)
            scores += rm.model(**inputs).logits[:, 0].float().tolist()
    return scores


def run_mode(mode: str, rm: RewardModel, questions, codes, args) -> list[float]:
    if mode == "padded":
        return padded_scores(rm, questions, codes, args.padded_batch)
    rm.share_prefix = mode == "prefix"
    return rm.score(questions, codes, max_batch_tokens=args.max_batch_tokens, show_progress=False)


class TokenCounter:
    """Tokens the backbone is fed, padding included (a forward pre-hook)."""

    def __init__(self, backbone: torch.nn.Module) -> None:
        self.fed = 0
        backbone.register_forward_pre_hook(self._count, with_kwargs=True)

    def _count(self, module, args, kwargs) -> None:
        ids = args[0] if args else kwargs["input_ids"]
        self.fed += ids.numel()


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def top1(scores: list[float], group: int) -> list[int]:
    """Each group's best response, as an index into the step."""
    return [max(range(s, s + group), key=scores.__getitem__) for s in range(0, len(scores), group)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=list(ARCHITECTURES), default="8b")
    parser.add_argument("--prompts", type=int, default=PAPER_STEP_PROMPTS, help="prompts in the step")
    parser.add_argument("--responses", type=int, default=8, help="responses per prompt (GRPO's group size)")
    parser.add_argument("--prompt-tokens", type=int, nargs=2, default=[300, 2000], metavar=("MIN", "MAX"))
    parser.add_argument("--response-tokens", type=int, nargs=2, default=[200, 4000], metavar=("MIN", "MAX"))
    parser.add_argument("--padded-batch", type=int, default=16, help="rows per forward pass in the padded mode")
    parser.add_argument("--max-batch-tokens", type=int, default=16384, help="RewardModel.score's token budget")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--noise-groups", type=int, default=2, help="groups scored again in fp32")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dtype", choices=["bfloat16", "float32"], default="bfloat16")
    parser.add_argument("--peak-tflops", type=float, default=790.0, help="the chip's dense peak in --dtype")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS / "score_gpu_h200.json")
    parser.add_argument("--save", type=Path, help="also save the model and tokenizer here (for serve_load.py)")
    args = parser.parse_args()
    if "padded" not in args.modes:
        parser.error("--modes must include padded: the other modes are compared with it")

    cuda = args.device.startswith("cuda")
    tokenizer = build_tokenizer(QWEN3_VOCAB)
    dtype = getattr(torch, args.dtype)
    start = time.perf_counter()
    model = build_model(args.model, QWEN3_VOCAB, tokenizer.pad_token_id, dtype, args.device)
    synchronize(args.device)
    built_s = time.perf_counter() - start
    if args.save:
        model.save_pretrained(args.save)
        tokenizer.save_pretrained(args.save)
    longest = args.prompt_tokens[1] + args.response_tokens[1] + 16  # the template's tokens
    rm = RewardModel(model, tokenizer, max_length=longest)
    counter = TokenCounter(rm.backbone)
    matmul_params = sum(m.weight.numel() for m in rm.backbone.modules() if isinstance(m, torch.nn.Linear))

    questions, codes = synthetic_step(
        args.prompts, args.responses, args.prompt_tokens, args.response_tokens, QWEN3_VOCAB - 6, args.seed
    )
    start = time.perf_counter()
    encoded = rm.encode(questions, codes)  # what every mode does first, timed alone: it runs on the CPU
    tokenize_s = time.perf_counter() - start
    assert not any(truncated for _, truncated in encoded)
    step_tokens = sum(len(ids) for ids, _ in encoded)
    g = args.responses
    shared = [common_prefix_length([ids for ids, _ in encoded[s : s + g]]) for s in range(0, len(encoded), g)]
    needed = {"padded": step_tokens, "sorted": step_tokens, "prefix": step_tokens - (g - 1) * sum(shared)}
    print(
        f"{args.model}: {matmul_params / 1e9:.2f}B matmul params, built in {built_s:.1f} s; "
        f"{len(codes)} sequences, {step_tokens:,} tokens, mean {step_tokens / len(codes):.0f}, "
        f"tokenised in {tokenize_s:.1f} s"
    )

    result = {
        "model": args.model,
        "architecture": {**ARCHITECTURES[args.model], "vocab_size": QWEN3_VOCAB},
        "matmul_params": matmul_params,
        "device": torch.cuda.get_device_name() if cuda else args.device,
        "dtype": args.dtype,
        "attn_implementation": rm.model.config._attn_implementation,
        "step": {
            "prompts": args.prompts,
            "responses": g,
            "prompt_tokens": args.prompt_tokens,
            "response_tokens": args.response_tokens,
            "sequences": len(codes),
            "tokens": step_tokens,
            "mean_shared_prefix": sum(shared) / len(shared),
        },
        "padded_batch": args.padded_batch,
        "max_batch_tokens": args.max_batch_tokens,
        "peak_tflops": args.peak_tflops,
        "model_build_seconds": round(built_s, 2),
        "tokenize_seconds": round(tokenize_s, 2),
        "modes": {},
    }

    scores: dict[str, list[float]] = {}
    for mode in args.modes:
        run_mode(mode, rm, questions[: 2 * g], codes[: 2 * g], args)  # warm-up: kernels chosen, allocator primed
        if cuda:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        counter.fed = 0
        synchronize(args.device)
        start = time.perf_counter()
        scores[mode] = run_mode(mode, rm, questions, codes, args)
        synchronize(args.device)
        seconds = time.perf_counter() - start
        row = {
            "seconds": round(seconds, 3),
            "seconds_per_grpo_step": round(seconds * PAPER_STEP_PROMPTS / args.prompts, 2),
            "tokens_per_s": round(step_tokens / seconds),
            "tokens_computed": needed[mode],
            "tokens_fed_with_padding": counter.fed,
            "mfu": round(2 * matmul_params * needed[mode] / seconds / (args.peak_tflops * 1e12), 4),
            "peak_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None,
        }
        if mode != "padded":
            diffs = [abs(a - b) for a, b in zip(scores[mode], scores["padded"])]
            row["max_abs_diff_vs_padded"] = max(diffs)
            agree = sum(a == b for a, b in zip(top1(scores[mode], g), top1(scores["padded"], g)))
            row["top1_agree_vs_padded"] = f"{agree}/{args.prompts}"
            row["speedup_vs_padded"] = round(result["modes"]["padded"]["seconds"] / seconds, 3)
        result["modes"][mode] = row
        print(f"  {mode:>6}: " + "  ".join(f"{k} {v}" for k, v in row.items()), flush=True)
        write(args.out, result)

    if args.noise_groups:
        # Random weights give every response nearly the same state at the last token (<|im_end|>), so two
        # responses' scores can be closer than bf16 resolves; a top-1 that differs inside that noise says
        # nothing about the modes. The noise is measured: the first groups again, in fp32.
        n = args.noise_groups * g
        rm.model.float()
        rm.share_prefix = False
        exact = rm.score(questions[:n], codes[:n], show_progress=False)
        noise = max(abs(a - b) for s in scores.values() for a, b in zip(s[:n], exact))
        best = top1(scores["padded"], g)
        gaps = [
            scores["padded"][b] - max(scores["padded"][i] for i in range(s, s + g) if i != b)
            for b, s in zip(best, range(0, len(codes), g))
        ]
        result["noise"] = {
            "sequences": n,
            "max_abs_diff_vs_fp32": noise,
            "score_std": float(torch.tensor(scores["padded"]).std()),
            "groups_with_top2_gap_within_2x_noise": sum(gap <= 2 * noise for gap in gaps),
        }
        for mode in scores.keys() - {"padded"}:
            result["modes"][mode]["top1_disagree_outside_2x_noise"] = sum(
                a != b and gap > 2 * noise for a, b, gap in zip(top1(scores[mode], g), best, gaps)
            )
        print(f"  noise: {result['noise']}")
    print(f"-> {write(args.out, result)}")


def write(path: Path, result: dict) -> Path:
    """Merge this model's figures into the file, so that one call per model builds one result."""
    previous = json.loads(path.read_text()) if path.exists() else {}
    merged = {"machine": machine(), "models": {**previous.get("models", {}), result["model"]: result}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(merged, indent=2) + "\n")
    return path


if __name__ == "__main__":
    main()
