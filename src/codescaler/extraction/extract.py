"""Syntax-aware code extraction: turn a model's answer into a bare program, or say why not.

``strict`` is the CodeScaler rule as the authors' released extractor applies it: blocks are the matches of
``` ```lang\n ... ``` ``` (the body ends at the next three backticks, wherever they stand, so a closing fence
followed at once by ``<|im_end|>`` still closes), exactly one of them, and its code must parse. Where we
differ from that extractor on purpose (line endings, reasoning before ``</think>``, an indented block, info
strings such as ``c++``) is listed in docs/extraction.md with the reason, and measured by
``bench/extract_agreement.py``.

``lenient`` is for evaluation: the last block that parses wins, a bare program counts, and an unterminated
final fence is tolerated. ``last`` is the paper's evaluation extractor (LiveCodeBench's): the last fenced
block as it is, unparsed, so a syntax error fails when it runs rather than being skipped. Both read fences
as CommonMark does: an opening line of up to three spaces then three or more backticks (or tildes) and an
info string; the block closes at a line of at least as many of the same character and nothing else.

Every mode first drops the special tokens a policy's decoded text can carry at its ends (end of sequence,
padding, left padding), as OpenRLHF's ``serve_rm`` strips them: a correct answer followed by ``<|im_end|>``
is the same answer. All parsing is linear in the answer's length.
"""

from __future__ import annotations

import re
import textwrap
from typing import Literal, get_args

from codescaler.extraction.syntax import Extraction, check_program, undefined_name
from codescaler.records.languages import canonical_language

Mode = Literal["strict", "lenient", "last"]
Check = Literal["syntax", "names"]

_FENCE = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
# The authors' block pattern, with info strings such as ``c++`` or ``objective-c`` read as one word too.
_PAPER_BLOCK = re.compile(r"```[\w+#.-]*\n(.*?)```", re.DOTALL)
_THINK_CLOSE = "</think>"
# Tokenizers' control tokens as decoded text: <|im_end|>, <|endoftext|>, <|eot_id|>, DeepSeek's <｜end▁of▁sentence｜>,
# and the older </s>, <pad>, <eos>, [PAD]. Only runs of them at either end of an answer are dropped.
_SPECIAL = r"(?:<\|[^|<>\s]{1,40}\|>|<｜[^｜<>\s]{1,40}｜>|</?s>|<pad>|<eos>|<bos>|<unk>|\[PAD\]|\[SEP\]|\[CLS\])"
_LEADING_TOKEN = re.compile(rf"\s*{_SPECIAL}")
_TRAILING_TOKEN = re.compile(rf"{_SPECIAL}\s*$")
_LONGEST_TOKEN = 48  # characters: a token is looked for only this far from an end, so stripping stays linear


def normalize_response(response: str | bytes) -> str:
    """Decode bytes (bad UTF-8 replaced), drop special tokens at the ends, unify line endings, drop
    reasoning before ``</think>``."""
    if isinstance(response, bytes):
        response = response.decode("utf-8", errors="replace")
    text = strip_special_tokens(response).replace("\r\n", "\n").replace("\r", "\n")
    # The answer follows the last closing think tag; an unclosed <think> holds no answer yet.
    cut = text.rfind(_THINK_CLOSE)
    if cut >= 0:
        text = text[cut + len(_THINK_CLOSE) :]
    elif text.lstrip().startswith("<think>"):
        text = ""
    return text


def strip_special_tokens(text: str) -> str:
    """``text`` without the runs of control tokens at its start (left padding) and end (end of sequence,
    padding): what a policy's text decoded with ``skip_special_tokens=False`` carries."""
    start, end = 0, len(text)
    while (found := _LEADING_TOKEN.match(text, start, min(end, start + _LONGEST_TOKEN))) is not None:
        start = found.end()
    while end > start and (found := _TRAILING_TOKEN.search(text, max(start, end - _LONGEST_TOKEN), end)):
        end = found.start()
    return text[start:end] if (start, end) != (0, len(text)) else text


def _fenced_blocks(text: str) -> list[str]:
    """The bodies of CommonMark's fenced blocks, in order (an unterminated last one runs to the end)."""
    blocks: list[str] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        fence = opening.group("fence")
        closing = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        j = i + 1
        while j < len(lines) and not closing.match(lines[j]):
            j += 1
        blocks.append("\n".join(lines[i + 1 : j]))
        i = j + 1
    return blocks


def _clean(code: str) -> str:
    return textwrap.dedent(code).strip("\n").rstrip()


def extract_code(response: str | bytes, language: str = "python", mode: Mode = "strict") -> Extraction:
    """Extract the program from ``response`` and check its syntax.

    Reasons when invalid: ``no_block``, ``multiple_blocks``, ``syntax_error: <line>``, ``empty``. ``last``
    checks no syntax: its code is valid whenever the last block holds any.
    """
    if mode not in get_args(Mode):
        raise ValueError(f"mode must be one of {', '.join(get_args(Mode))}, got {mode!r}")
    text = normalize_response(response)
    if not text.strip():
        return Extraction("", False, "empty", language)
    if mode == "last":
        blocks = _fenced_blocks(text)
        code = _clean(blocks[-1]) if blocks else ""
        reason = None if code else "no_block" if not blocks else "empty"
        return Extraction(code, reason is None, reason, language)
    if mode == "strict":  # only whether there are zero, one or several blocks matters
        bodies = [m.group(1) for _, m in zip(range(2), _PAPER_BLOCK.finditer(text))]
        if len(bodies) > 1:
            return Extraction("", False, "multiple_blocks", language)
        if not bodies:
            return Extraction("", False, "no_block", language)
        return check_program(_clean(bodies[0]), language)
    blocks = _fenced_blocks(text)
    # lenient: the last block that parses; else the whole answer as a bare program.
    if not blocks:
        bare = check_program(_clean(text), language)
        return bare if bare.valid else Extraction("", False, "no_block", language)
    results = [check_program(_clean(block), language) for block in reversed(blocks)]
    return next((r for r in results if r.valid), results[0])


def extract_program(
    response: str | bytes,
    language: str = "python",
    mode: Mode = "strict",
    code_prefix: str | None = None,
    check: Check = "syntax",
) -> Extraction:
    """The program an answer stands for.

    With ``code_prefix`` the answer is a completion that continues it (HumanEval style), taken bare:
    the program is ``code_prefix + response``. Without, the code is extracted from the answer.
    ``check="names"`` also rejects Python that uses a name it never defines (:func:`undefined_name`);
    use it where the program runs as written, not where a harness injects imports (LeetCode's ``List``).
    """
    if check not in ("syntax", "names"):
        raise ValueError(f"check must be 'syntax' or 'names', got {check!r}")
    if code_prefix is None:
        found = extract_code(response, language, mode)
    else:
        found = check_program(completion_program(code_prefix, response), language)
    if check == "names" and found.valid and canonical_language(language) == "python":
        reason = undefined_name(found.code)
        if reason is not None:
            return Extraction("", False, reason, language)
    return found


def completion_program(code_prefix: str, response: str | bytes) -> str:
    """The program a completion stands for: the code it continues, then the completion, bare."""
    return (code_prefix + normalize_response(response)).rstrip()
