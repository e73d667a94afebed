"""RewardModel.score against the model-card reference loop, side by side in one run.

512 real (question, code) records from the MultiPL-E python pool (code-davinci-002 completions of
HumanEval prompts), the default RM (codescaler-mini: SmolLM2-135M plus a LoRA adapter), this CPU.

(a) reference: chat template, pad to longest, batches of 8 in input order, fp32, no_grad.
(b) RewardModel.score, fp32.   (c) the faster modes: bf16 weights, and bf16-mixed (fp32 weights and
residual stream, bf16 matmuls).

    python bench/score_throughput.py [--records 512]
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import time

import torch
from common import DATA, gemm_gflops, kendall_tau, write_result

from codescaler import RewardModel

FAST_MODES = ("float32", "bfloat16", "bf16-mixed")


def load_records(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    pool = []
    with gzip.open(DATA / "multipl_e_davinci" / "humaneval_python_davinci002_t0.8.jsonl.gz", "rt") as f:
        for line in f:
            problem = json.loads(line)
            pool += [(problem["prompt"], (problem["prompt"] + c).rstrip()) for c in problem["completions"]]
    sample = random.Random(seed).sample(pool, n)
    return [q for q, _ in sample], [c for _, c in sample]


def reference_scores(rm: RewardModel, questions: list[str], codes: list[str]) -> list[float]:
    tokenizer, model = rm.tokenizer, rm.model
    tokenizer.padding_side = "right"
    scores: list[float] = []
    with torch.no_grad():
        for start in range(0, len(codes), 8):
            texts = [rm.format(q, c) for q, c in zip(questions[start : start + 8], codes[start : start + 8])]
            batch = tokenizer(texts, padding="longest", add_special_tokens=False, return_tensors="pt")
            scores += model(**batch).logits[:, 0].float().tolist()
    return scores


def timed(fn):
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    value = fn()
    return value, time.perf_counter() - start_wall, time.process_time() - start_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=512)
    parser.add_argument("--model", default="codescaler-mini", help="packaged name, folder or hub id")
    parser.add_argument(
        "--dtypes",
        nargs="+",
        default=list(FAST_MODES),
        choices=FAST_MODES,
        help="modes to time (bfloat16 and bf16-mixed need AVX512-BF16 or AMX to be fast)",
    )
    args = parser.parse_args()

    questions, codes = load_records(args.records)
    models = {
        dtype: RewardModel.from_pretrained(args.model, dtype=dtype)
        for dtype in dict.fromkeys(["float32", *args.dtypes])
    }
    fp32 = models["float32"]
    tokens = sum(len(ids) for ids, _ in fp32.encode(questions, codes))
    linear_params = sum(m.weight.numel() for m in fp32.backbone.modules() if isinstance(m, torch.nn.Linear))
    flops_per_token = 2 * linear_params  # matmuls only; attention over <=600 tokens adds a few percent
    peak = gemm_gflops()

    for rm in models.values():  # warm-up
        rm.score(questions[:16], codes[:16], show_progress=False)
    ref, ref_s, _ = timed(lambda: reference_scores(fp32, questions, codes))
    result = {"model": args.model, "records": len(codes), "tokens": tokens, "fp32_gemm_gflops": round(peak, 1)}

    def row(seconds: float, scores: list[float]) -> dict:
        return {
            "seconds": round(seconds, 2),
            "records_per_s": round(len(codes) / seconds, 2),
            "tokens_per_s": round(tokens / seconds, 1),
            "gemm_fraction": round(tokens / seconds * flops_per_token / 1e9 / peak, 3),
            "speedup": round(ref_s / seconds, 2),
            "max_abs_diff": max(abs(a - b) for a, b in zip(ref, scores)),
            "kendall_tau_vs_reference": round(kendall_tau(ref, scores), 4),
        }

    result["reference_fp32"] = row(ref_s, ref)
    for dtype, rm in models.items():
        scores, seconds, _ = timed(lambda rm=rm: rm.score(questions, codes, show_progress=False))
        result[f"score_{dtype}"] = row(seconds, scores)
    path = write_result("score_throughput", result)
    for name in ["reference_fp32"] + [f"score_{d}" for d in models]:
        r = result[name]
        print(
            f"{name:>17}: {r['records_per_s']:6.2f} rec/s {r['tokens_per_s']:7.1f} tok/s "
            f"{100 * r['gemm_fraction']:5.1f}% of fp32 GEMM ({peak:.0f} GFLOP/s)  {r['speedup']:5.2f}x  "
            f"max|d| {r['max_abs_diff']:.1e}  tau {r['kendall_tau_vs_reference']}"
        )
    print(f"-> {path}")


if __name__ == "__main__":
    main()
