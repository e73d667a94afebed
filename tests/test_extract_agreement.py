"""``strict`` extraction against the CodeScaler authors' extractor (bench/extract_agreement.py): on a committed
sample of odd answers, and on the real responses of the shared data where it is present. Every disagreement
must be one docs/extraction.md lists."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from extract_agreement import ENDINGS, compare, corpus

from codescaler import extract_code

GOOD = "def f(xs):\n    return sum(xs)\n"
KEPT = {
    "line endings (CRLF)",
    "reasoning before </think>",
    "we accept, they reject: an indented block (IndentationError for them)",
}

SAMPLE = [
    "```python\n" + GOOD + "```",
    "Here is the code:\n```python\n" + GOOD + "```\nIt sums the list.",
    "```python\n" + GOOD + "```<|im_end|>",
    "```python\n" + GOOD + "```<|im_end|><|endoftext|><|endoftext|>",
    "<|endoftext|><|endoftext|>```python\n" + GOOD + "```<|endoftext|>",
    "```\n" + GOOD + "```",
    "```py\n" + GOOD + "```",
    "```python\n" + GOOD + "```\nand\n```python\nprint(f([1]))\n```",
    "```python\n" + GOOD + "```\nthen\n```python\nprint(f([1]))",
    "```python\ndef f(xs):\n    return sum(xs\n```",
    "```python\n```",
    "```python\n" + GOOD,
    "no code at all",
    GOOD,
    "````python\n" + GOOD + "````",
    "```python\ns = '```'\n" + GOOD + "```",
    "``` python\n" + GOOD + "```",
    "```python\n" + GOOD + "``` trailing words on the fence line",
    "```python\r\n" + GOOD.replace("\n", "\r\n") + "```\r\n",
    "<think>maybe\n```python\nx = (\n```\n</think>\n```python\n" + GOOD + "```",
    "1. Write it:\n   ```python\n   def f(xs):\n       return sum(xs)\n   ```",
    "```python\n\x00\n```",
    "```python\n" + "x = 1\n" * 1000 + "```",
]


@pytest.mark.parametrize("response", SAMPLE)
def test_strict_agrees_with_the_authors_or_the_difference_is_listed(response):
    assert compare(response) in {None, *KEPT}


def test_the_listed_differences_are_the_ones_we_mean():
    assert compare(SAMPLE[18]) == "line endings (CRLF)"
    assert compare(SAMPLE[19]) == "reasoning before </think>"
    assert compare(SAMPLE[20]).startswith("we accept, they reject: an indented block")
    assert extract_code(SAMPLE[2]).valid  # before: no_block, and reward 0 for a correct answer


def test_every_ending_a_policy_leaves_keeps_the_verdict():
    for name, variant in ENDINGS.items():
        for response in SAMPLE[:8]:
            ours, plain = extract_code(variant(response)), extract_code(response)
            assert (ours.valid, ours.code) == (plain.valid, plain.code), (name, response)


@pytest.mark.data
def test_real_responses_agree_but_for_the_listed_differences():
    from codescaler.benchmarks import data_dir

    reasons = {}
    for n, (_, response) in enumerate(corpus(data_dir())):
        if n >= 3000:
            break
        reason = compare(response)
        if reason is not None:
            reasons[reason] = reasons.get(reason, 0) + 1
    assert set(reasons) <= KEPT, reasons
