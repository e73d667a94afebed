"""`codescaler sample` tokens/s on the packaged SmolLM2 in float32 and bfloat16, side by side in one run.

python bench/sample_throughput.py [--problems 4] [--max-new-tokens 128]
"""

from __future__ import annotations

import argparse
import time

import torch
from common import write_result

from codescaler.benchmarks import load
from codescaler.training.generation import SampleConfig, TransformersSampler

MODEL = "smollm2-135m"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--problems", type=int, default=4, help="MBPP problems, 4 samples each (default: 4)")
    parser.add_argument("--max-new-tokens", type=int, default=128)
    args = parser.parse_args()
    questions = [r["question"] for r in load("mbpp")[: args.problems]]
    sampler = TransformersSampler.from_pretrained(MODEL, dtype="float32")
    config = SampleConfig(n=4, temperature=0.8, top_p=0.95, max_new_tokens=args.max_new_tokens, batch_size=16)
    rows = {}
    for dtype in ("float32", "bfloat16"):
        sampler.model = sampler.model.to(getattr(torch, dtype))
        start = time.perf_counter()
        out = sampler.generate(questions, config)
        seconds = time.perf_counter() - start
        tokens = sum(len(sampler.tokenizer(text)["input_ids"]) for answers in out for text in answers)
        rows[dtype] = {"seconds": seconds, "tokens": tokens, "tokens_per_second": tokens / seconds}
        print(f"{dtype:9s} {tokens:6d} tokens in {seconds:6.1f} s: {tokens / seconds:6.1f} tokens/s")
    ratio = rows["bfloat16"]["tokens_per_second"] / rows["float32"]["tokens_per_second"]
    print(f"bfloat16 / float32: {ratio:.2f}x")
    write_result(
        "sample_throughput",
        {
            "model": MODEL,
            "problems": args.problems,
            "samples_per_problem": 4,
            "max_new_tokens": args.max_new_tokens,
            "dtypes": rows,
            "bf16_speedup": ratio,
        },
    )


if __name__ == "__main__":
    main()
