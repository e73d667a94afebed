"""What unit tests cost when they must first be written: a local model writes tests for HumanEval problems.

CodeT's baseline needs generated tests before it can select anything. This times that step on this CPU
with a local chat model (SmolLM2-135M-Instruct from PyPI by default), greedy, for a sample of problems,
and counts the asserts that parse and call the entry point. The figures feed the whole-pipeline latency
comparison of the best-of-N report (RM scoring vs. writing tests + running them).

    python bench/test_generation_cost.py [--problems 10] [--model smollm2-135m] [--max-new-tokens 256]
"""

from __future__ import annotations

import argparse
import time

import torch
from common import write_result

from codescaler import benchmarks
from codescaler.measure.bon_methods import generated_calls
from codescaler.training.generation import SampleConfig, TransformersSampler

PROMPT = (
    "Here is a Python function to test:\n\n{prompt}\n\nWrite 5 different test cases for `{entry}` as "
    "Python assert statements, one per line, in the form `assert {entry}(...) == ...`."
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", type=int, default=10)
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--max-new-tokens", type=int, default=256)
    args = parser.parse_args()
    problems = benchmarks.load("humaneval")[: args.problems]
    sampler = TransformersSampler.from_pretrained(args.model, dtype="float32")
    greedy = SampleConfig(n=1, temperature=0.0, max_new_tokens=args.max_new_tokens, batch_size=8)
    prompts = [PROMPT.format(prompt=p["question"], entry=p["entry_point"]) for p in problems]
    sampler.generate(prompts[:1], SampleConfig(n=1, temperature=0.0, max_new_tokens=8))  # warm-up
    wall, cpu = time.perf_counter(), time.process_time()
    answers = sampler.generate(prompts, greedy)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    tokens = sum(len(sampler.tokenizer(a[0])["input_ids"]) for a in answers)
    usable = [len(generated_calls(a[0].splitlines(), p["entry_point"])) for a, p in zip(answers, problems)]
    result = {
        "model": args.model,
        "problems": len(problems),
        "threads": torch.get_num_threads(),
        "wall_s_per_problem": wall / len(problems),
        "cpu_s_per_problem": cpu / len(problems),
        "generated_tokens_per_problem": tokens / len(problems),
        "usable_asserts_per_problem": sum(usable) / len(problems),
        "problems_with_a_usable_assert": sum(u > 0 for u in usable),
    }
    print(
        f"{args.model}: {result['wall_s_per_problem']:.2f} s wall ({result['cpu_s_per_problem']:.2f} s CPU) per "
        f"problem to write tests; {result['usable_asserts_per_problem']:.1f} usable asserts per problem; "
        f"{result['problems_with_a_usable_assert']}/{len(problems)} problems with at least one"
    )
    write_result("test_generation_cost", result)


if __name__ == "__main__":
    main()
