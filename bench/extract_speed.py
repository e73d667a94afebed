"""extract_code on 1 MB answers of different shapes: the cost must grow linearly, never quadratically.

python bench/extract_speed.py
"""

from __future__ import annotations

import ast
import time

from common import write_result

from codescaler import extract_code

MB = 1_000_000
FUNCTION = "def f(x):\n    return x + 1\n"


def shapes() -> dict[str, tuple[str, str]]:
    prose = ("The answer uses a hash map of prefix sums, counting matches. " * 20 + "\n") * (MB // 1240)
    small_block = "```python\n" + FUNCTION + "```\n"
    many_blocks = ("Step:\n```python\nx = 1\n```\n") * (MB // 25)
    return {
        "prose, no block (strict)": (prose, "strict"),
        "prose + one small block (strict)": (prose + small_block, "strict"),
        "prose + one small block (lenient)": (prose + small_block, "lenient"),
        "40k blocks (strict)": (many_blocks, "strict"),
        "40k blocks, none parse (lenient)": (many_blocks.replace("x = 1", "x = ("), "lenient"),
        "one 1 MB code block (strict)": ("```python\n" + FUNCTION * (MB // len(FUNCTION)) + "```", "strict"),
        # special tokens are stripped at the ends only: 1 MB of them before a last character costs linear time
        "1 MB of end tokens, then text (strict)": ("<|endoftext|>" * (MB // 13) + "x", "strict"),
    }


def best_ms(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * min(times)


def main() -> None:
    results = {}
    for name, (text, mode) in shapes().items():
        ms = best_ms(lambda text=text, mode=mode: extract_code(text, mode=mode))
        half = best_ms(lambda text=text, mode=mode: extract_code(text[: len(text) // 2], mode=mode))
        results[name] = {"bytes": len(text), "ms": round(ms, 2), "ms_half_size": round(half, 2)}
        print(f"{name:>36}: {ms:8.2f} ms for {len(text) / MB:.2f} MB ({half:.2f} ms at half size)")
    code = FUNCTION * (MB // len(FUNCTION))
    parse = best_ms(lambda: ast.parse(code), repeats=3)
    results["ast.parse alone, 1 MB of code"] = {"bytes": len(code), "ms": round(parse, 2)}
    print(f"{'ast.parse alone, 1 MB of code':>36}: {parse:8.2f} ms (CPython's parser: the floor for a 1 MB program)")
    print(f"-> {write_result('extract_speed', results)}")


if __name__ == "__main__":
    main()
