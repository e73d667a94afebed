"""``extract_code(mode="strict")`` against the CodeScaler authors' extractor, over every real response we hold.

The authors' rule (their ``extract_code_from_model``): ``re.findall(r"```(?:\\w+)?\\n(.*?)```", response, DOTALL)``,
exactly one match, and the match must pass ``ast.parse``; otherwise the code is "". Each response is judged by
both; a disagreement is explained when the authors' rule, given our normalised text (line endings, reasoning
before ``</think>`` and edge special tokens dropped, as docs/extraction.md lists), agrees with us.

The corpus: LeetCodeDataset's model responses (train and test), each also as a policy decodes it with its
special tokens kept (an end token, padding, left padding, CRLF), MultiPL-E's python completions and CodeT's
HumanEval samples (raw model output, most without a fence). Extraction is no training: reading eval-split
outputs here puts nothing of them into a model.

python bench/extract_agreement.py [--limit N]
"""

from __future__ import annotations

import argparse
import ast
import gzip
import json
import re
import textwrap
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from common import DATA, write_result

from codescaler import extract_code
from codescaler.extraction.extract import normalize_response

AUTHORS_BLOCK = re.compile(r"```(?:\w+)?\n(.*?)```", re.DOTALL)
# How a policy's text looks when decoded with its special tokens kept (Qwen's end, padding and left padding).
ENDINGS = {
    "end token": lambda r: r + "<|im_end|>",
    # A policy that stops right after its code block, as RL policies learn to: the fence, then the end token.
    "block, then end token": lambda r: r[: r.rfind("```") + 3] + "<|im_end|>" if "```" in r else r + "<|im_end|>",
    "end + padding": lambda r: r + "<|im_end|><|endoftext|><|endoftext|>",
    "left padding": lambda r: "<|endoftext|><|endoftext|>" + r + "<|endoftext|>",
    "crlf": lambda r: r.replace("\n", "\r\n"),
}


def authors_extract(response: str) -> str:
    """The code the authors' extractor gives ``response``: "" when it has none."""
    blocks = AUTHORS_BLOCK.findall(response)
    if len(blocks) != 1:
        return ""
    try:
        ast.parse(blocks[0])
    except (SyntaxError, ValueError):
        return ""
    return blocks[0]


def _same_code(code: str) -> str:
    return textwrap.dedent(code).strip()


def compare(response: str) -> str | None:
    """``None`` when both extractors agree on validity and code; else why they differ."""
    ours, theirs = extract_code(response, mode="strict"), authors_extract(response)
    if ours.valid == bool(theirs.strip()) and (not ours.valid or _same_code(ours.code) == _same_code(theirs)):
        return None
    normalised = authors_extract(normalize_response(response))
    if ours.valid == bool(normalised.strip()) and (not ours.valid or _same_code(ours.code) == _same_code(normalised)):
        if "\r" in response:
            return "line endings (CRLF)"
        if "</think>" in response or response.lstrip().startswith("<think>"):
            return "reasoning before </think>"
        return "special tokens at the ends"
    if ours.valid and not theirs.strip():
        return "we accept, they reject: " + _kind(response)
    if theirs.strip() and not ours.valid:
        return f"they accept, we reject ({ours.reason})"
    return "both accept, different code"


def _kind(response: str) -> str:
    text = normalize_response(response)
    blocks = AUTHORS_BLOCK.findall(text)
    if len(blocks) == 1:
        try:
            ast.parse(blocks[0])
        except SyntaxError:
            return "an indented block (IndentationError for them)" if blocks[0][:1] in " \t" else "syntax"
    return "an info string that is not one word (c++, objective-c)" if blocks == [] else "other"


def _jsonl_gz(path: Path) -> Iterator[dict]:
    with gzip.open(path, "rt") as f:
        yield from (json.loads(line) for line in f)


def corpus(data: Path = DATA) -> Iterator[tuple[str, str]]:
    """``(source, response)`` for every real response we hold, and the decoded variants of the chat ones."""
    for split in ("train", "test"):
        path = data / "leetcodedataset" / f"LeetCodeDataset-v0.2.0-{split}.jsonl.gz"
        for row in _jsonl_gz(path):
            yield f"leetcode-{split}", row["response"]
            for name, variant in ENDINGS.items():
                yield f"leetcode-{split}, {name}", variant(row["response"])
    for row in _jsonl_gz(data / "multipl_e_davinci" / "humaneval_python_davinci002_t0.8.jsonl.gz"):
        for completion in row["completions"]:
            yield "multipl-e python", completion
    for path in sorted((data / "codet").glob("HumanEval_codegen16B*code_solution.jsonl")):
        for line in path.open():
            for sample in json.loads(line)["samples"]:
                yield "codet humaneval", sample


def measure(limit: int | None = None) -> dict:
    by_source: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    examples: dict[str, str] = {}
    valid = 0
    for n, (source, response) in enumerate(corpus()):
        if limit is not None and n >= limit:
            break
        by_source[source] += 1
        valid += extract_code(response, mode="strict").valid
        reason = compare(response)
        if reason is not None:
            reasons[reason] += 1
            examples.setdefault(reason, response[-300:])
    total = sum(by_source.values())
    explained = sum(c for r, c in reasons.items() if not r.startswith(("we accept", "they accept", "both")))
    return {
        "responses": total,
        "valid_strict": valid,
        "by_source": dict(by_source),
        "agree": total - sum(reasons.values()),
        "agree_rate": (total - sum(reasons.values())) / total,
        "disagreements": dict(reasons),
        "explained_by_normalisation": explained,
        "examples": examples,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=None, help="the first N responses of the corpus")
    args = parser.parse_args()
    result = measure(args.limit)
    print(f"{result['responses']:,} responses, {result['valid_strict']:,} valid under strict")
    print(f"agree: {result['agree']:,} ({100 * result['agree_rate']:.2f}%)")
    for reason, count in sorted(result["disagreements"].items(), key=lambda kv: -kv[1]):
        print(f"  {count:6,}  {reason}")
    print(write_result("extract_agreement", result))


if __name__ == "__main__":
    main()
