"""Syntax-aware code extraction: turn a model's answer into a bare program, or say why not.

``strict`` is the CodeScaler rule: code only from exactly one well-formed fenced block, and the code
must parse. ``lenient`` is for evaluation: the last block that parses wins, a bare program counts, and
an unterminated final fence is tolerated. ``last`` is the paper's evaluation extractor (LiveCodeBench's):
the last fenced block as it is, unparsed, so a syntax error fails when it runs rather than being skipped.

Fences follow CommonMark: an opening line of up to three spaces then three or more backticks (or
tildes) and an info string; the block closes at a line of at least as many of the same character and
nothing else. Parsing is one pass over the lines, so a 1 MB answer costs linear time.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from typing import Literal, get_args

from codescaler.extraction.syntax import PYTHON_NAMES, Extraction, check_program, undefined_name

Mode = Literal["strict", "lenient", "last"]
Check = Literal["syntax", "names"]

_FENCE = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_THINK_CLOSE = "</think>"


@dataclass(frozen=True)
class _Block:
    body: str
    closed: bool


def normalize_response(response: str | bytes) -> str:
    """Decode bytes (bad UTF-8 replaced), unify line endings, drop reasoning before ``</think>``."""
    if isinstance(response, bytes):
        response = response.decode("utf-8", errors="replace")
    text = response.replace("\r\n", "\n").replace("\r", "\n")
    # The answer follows the last closing think tag; an unclosed <think> holds no answer yet.
    cut = text.rfind(_THINK_CLOSE)
    if cut >= 0:
        text = text[cut + len(_THINK_CLOSE) :]
    elif text.lstrip().startswith("<think>"):
        text = ""
    return text


def _fenced_blocks(text: str, limit: int | None = None) -> list[_Block]:
    """Fenced blocks in order; stops after ``limit`` of them."""
    blocks: list[_Block] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines) and (limit is None or len(blocks) < limit):
        opening = _FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        fence = opening.group("fence")
        closing = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        j = i + 1
        while j < len(lines) and not closing.match(lines[j]):
            j += 1
        blocks.append(_Block("\n".join(lines[i + 1 : j]), closed=j < len(lines)))
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
        code = _clean(blocks[-1].body) if blocks else ""
        reason = None if code else "no_block" if not blocks else "empty"
        return Extraction(code, reason is None, reason, language)
    # strict needs to know only whether there are zero, one or several blocks
    blocks = _fenced_blocks(text, limit=2 if mode == "strict" else None)
    if mode == "strict":
        closed = [b for b in blocks if b.closed]
        if len(blocks) > 1:
            return Extraction("", False, "multiple_blocks", language)
        if not closed:
            return Extraction("", False, "no_block", language)
        return check_program(_clean(closed[0].body), language)
    # lenient: the last block that parses; else the whole answer as a bare program.
    if not blocks:
        bare = check_program(_clean(text), language)
        return bare if bare.valid else Extraction("", False, "no_block", language)
    results = [check_program(_clean(block.body), language) for block in reversed(blocks)]
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
    if check == "names" and found.valid and language.lower() in PYTHON_NAMES:
        reason = undefined_name(found.code)
        if reason is not None:
            return Extraction("", False, reason, language)
    return found


def completion_program(code_prefix: str, response: str | bytes) -> str:
    """The program a completion stands for: the code it continues, then the completion, bare."""
    return (code_prefix + normalize_response(response)).rstrip()
