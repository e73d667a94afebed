"""Whether a bare program parses, in Python (``ast``) or another language (tree-sitter), and the optional
undefined-name check (pyflakes): static checks only, nothing runs."""

from __future__ import annotations

import ast
import gc
import threading
from dataclasses import dataclass
from functools import cache

from codescaler.records.languages import canonical_language


@dataclass(frozen=True)
class Extraction:
    """What :func:`extract_code` found. ``code`` is empty whenever ``valid`` is false."""

    code: str
    valid: bool
    reason: str | None
    language: str


@cache
def _tree_sitter_parser(grammar: str):
    try:
        from tree_sitter_language_pack import get_parser
    except ImportError as err:  # pragma: no cover - a declared dependency
        raise ImportError(
            "checking non-Python code needs tree-sitter-language-pack: pip install 'tree-sitter-language-pack<1'"
        ) from err
    return get_parser(grammar)  # type: ignore[arg-type]  # canonical names are the grammars'


_AST_BUILDING = threading.Lock()


def parse_python(code: str) -> ast.Module:
    """``ast.parse(code)``, safe on threads. CPython 3.11 keeps the AST builder's recursion depth in one counter for
    the whole interpreter (python/cpython#106905): were another thread to build a tree meanwhile (ours, or a
    traceback being formatted, which parses its source line), a good parse would fail with a spurious SystemError
    and a valid answer score as invalid. Another thread runs mid-build only when a garbage collection there calls a
    finalizer, which hands over the GIL: so no collection while we build, and our own builds take turns."""
    with _AST_BUILDING:
        collecting = gc.isenabled()
        gc.disable()
        try:
            return ast.parse(code)
        finally:
            if collecting:
                gc.enable()


def _first_error_line(node) -> int:
    """1-based line of the first ERROR or MISSING node below ``node``."""
    stack = [node]
    while stack:
        current = stack.pop()
        if current.is_error or current.is_missing:
            return current.start_point[0] + 1
        stack.extend(reversed([c for c in current.children if c.has_error or c.is_missing]))
    return node.start_point[0] + 1


def syntax_error(code: str, language: str = "python") -> str | None:
    """``None`` when ``code`` parses as ``language``, else ``"syntax_error: <line>"``."""
    lang = canonical_language(language)
    if lang == "python":
        try:
            parse_python(code)
        except SyntaxError as err:
            return f"syntax_error: {err.lineno or 0}"
        except (ValueError, RecursionError, MemoryError):
            # null bytes, or nesting too deep for the parser: not a program we can score
            return "syntax_error: 0"
        return None
    root = _tree_sitter_parser(lang).parse(code.encode("utf-8", errors="replace")).root_node
    if root.has_error:
        return f"syntax_error: {_first_error_line(root)}"
    return None


def check_program(code: str, language: str = "python") -> Extraction:
    """Check a bare program (no fences): valid when non-empty and it parses."""
    if not code.strip():
        return Extraction("", False, "empty", language)
    error = syntax_error(code, language)
    if error is not None:
        return Extraction("", False, error, language)
    return Extraction(code, True, None, language)


def undefined_name(code: str) -> str | None:
    """``"undefined_name: <line> <name>"`` for the first global name ``code`` uses but never defines.

    pyflakes' static check (F821): such a program raises NameError wherever that line runs, e.g. a
    ``math.gcd`` without ``import math``. ``None`` when every name resolves, or when the code does not parse.
    """
    from pyflakes import checker, messages

    try:
        tree = parse_python(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    found = [m for m in checker.Checker(tree).messages if isinstance(m, messages.UndefinedName)]
    if not found:
        return None
    first = min(found, key=lambda m: m.lineno)
    return f"undefined_name: {first.lineno} {first.message_args[0]}"
