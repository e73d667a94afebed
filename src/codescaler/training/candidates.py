"""Candidate programs for preference pairs: a problem's samples (:mod:`codescaler.training.generation`), mutants of
its reference, and unaligned programs (other problems' references).

A candidate is ``{"response", "source"}``; its label always comes from running it (:mod:`codescaler.execution.verify`),
never from how it was made: a mutant that still passes is dropped, a sample that passes is a *chosen*.

Mutants edit the reference's *text* at one AST node, so formatting and comments stay the reference's own
and the reward model cannot tell chosen from rejected by layout (``ast.unparse`` would rewrite every
mutant in one house style, a shortcut the RM would learn instead of correctness).
"""

from __future__ import annotations

import ast
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from codescaler.extraction.syntax import parse_python

MUTATORS = ("comparison", "arithmetic", "boolean", "constant", "boundary", "deletion")
SOURCES = ("sample", "mutant", "unaligned", "reference")

_SWAPS: dict[type, tuple[str, str, str]] = {  # AST operator -> (mutator, token, replacement)
    ast.Lt: ("comparison", "<", "<="),
    ast.LtE: ("comparison", "<=", "<"),
    ast.Gt: ("comparison", ">", ">="),
    ast.GtE: ("comparison", ">=", ">"),
    ast.Eq: ("comparison", "==", "!="),
    ast.NotEq: ("comparison", "!=", "=="),
    ast.In: ("comparison", "in", "not in"),
    ast.NotIn: ("comparison", "not in", "in"),
    ast.Add: ("arithmetic", "+", "-"),
    ast.Sub: ("arithmetic", "-", "+"),
    ast.Mult: ("arithmetic", "*", "+"),
    ast.FloorDiv: ("arithmetic", "//", "/"),
    ast.Div: ("arithmetic", "/", "//"),
    ast.Mod: ("arithmetic", "%", "//"),
    ast.And: ("boolean", "and", "or"),
    ast.Or: ("boolean", "or", "and"),
}
_OPERATOR_CHARS = re.escape("*/<>=!+-%&|^")


@dataclass(frozen=True)
class Mutant:
    code: str
    mutator: str
    line: int


class _Source:
    """Byte offsets for AST positions (``col_offset`` counts UTF-8 bytes, not characters)."""

    def __init__(self, code: str) -> None:
        self.data = code.encode()
        self.starts = [0]
        for line in self.data.splitlines(keepends=True):
            self.starts.append(self.starts[-1] + len(line))

    def offset(self, line: int, col: int) -> int:
        return self.starts[line - 1] + col

    def span(self, node: Any) -> tuple[int, int]:  # an ast node with a position: expr, stmt, ...
        return self.offset(node.lineno, node.col_offset), self.offset(node.end_lineno, node.end_col_offset)

    def gap(self, left: Any, right: Any) -> tuple[int, int]:
        return self.span(left)[1], self.span(right)[0]

    def text(self, start: int, end: int) -> str:
        return self.data[start:end].decode()


def _token_edit(src: _Source, start: int, end: int, token: str, new: str) -> tuple[int, int, str] | None:
    """Replace the one operator ``token`` in the gap between two operands (never inside ``<=`` or ``**``)."""
    gap = src.text(start, end)
    if token.isalpha() or " " in token:
        pattern = r"\b" + r"\s+".join(map(re.escape, token.split())) + r"\b"
    else:
        pattern = rf"(?<![{_OPERATOR_CHARS}]){re.escape(token)}(?![{_OPERATOR_CHARS}])"
    found = list(re.finditer(pattern, gap))
    if len(found) != 1:  # a comment or string in the gap makes it ambiguous: skip the site
        return None
    a, b = start + len(gap[: found[0].start()].encode()), start + len(gap[: found[0].end()].encode())
    return a, b, new


def _plus_one(src: _Source, node: ast.AST, delta: str) -> tuple[int, int, str]:
    start, end = src.span(node)
    text = src.text(start, end)
    atom = isinstance(node, ast.Name | ast.Call | ast.Attribute | ast.Subscript | ast.Constant)
    return start, end, f"{text} {delta}" if atom else f"({text}) {delta}"


def _edits(tree: ast.AST, src: _Source) -> Iterator[tuple[str, int, tuple[int, int, str]]]:
    """Every single-site mutation: (mutator, line, (start byte, end byte, replacement))."""
    node: Any
    for node in ast.walk(tree):
        pairs: list[tuple[ast.AST, ast.AST, ast.AST]] = []
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            pairs = [(operands[i], op, operands[i + 1]) for i, op in enumerate(node.ops)]
        elif isinstance(node, ast.BinOp):
            pairs = [(node.left, node.op, node.right)]
        elif isinstance(node, ast.AugAssign):
            pairs = [(node.target, node.op, node.value)]
        elif isinstance(node, ast.BoolOp):
            pairs = [(node.values[i], node.op, node.values[i + 1]) for i in range(len(node.values) - 1)]
        for left, op, right in pairs:
            if type(op) in _SWAPS:
                mutator, token, new = _SWAPS[type(op)]
                if isinstance(node, ast.AugAssign):
                    token, new = token + "=", new + "="
                edit = _token_edit(src, *src.gap(left, right), token, new)
                if edit:
                    yield mutator, node.lineno, edit
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            start, _ = src.span(node)
            yield "boolean", node.lineno, (start, src.span(node.operand)[0], "")
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            start, end = src.span(node)
            for value in (node.value + 1, node.value - 1):
                if value >= 0:
                    yield "constant", node.lineno, (start, end, str(value))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range" and node.args:
            for delta in ("+ 1", "- 1"):
                yield "boundary", node.lineno, _plus_one(src, node.args[-1], delta)
        elif isinstance(node, ast.Slice):
            for bound in (node.lower, node.upper):
                if bound is not None:
                    yield "boundary", node.lineno, _plus_one(src, bound, "+ 1")
        for block in ("body", "orelse"):
            body = getattr(node, block, None)
            if isinstance(body, list) and len(body) >= 2 and isinstance(body[0], ast.stmt):
                for stmt in body:
                    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
                        continue  # a docstring: deleting it changes nothing
                    start, end = src.span(stmt)
                    line_start = src.starts[stmt.lineno - 1]
                    line_end = src.starts[stmt.end_lineno] if stmt.end_lineno < len(src.starts) else len(src.data)
                    whole_lines = not src.data[line_start:start].strip() and not src.data[end:line_end].strip()
                    if whole_lines:
                        yield "deletion", stmt.lineno, (line_start, line_end, "")


def mutants(code: str, mutators: Sequence[str] = MUTATORS) -> list[Mutant]:
    """Every single-edit mutant of ``code`` that parses and differs from it as a program.

    Returns ``[]`` for code that does not parse. Whether a mutant is wrong is for execution to say.
    """
    unknown = set(mutators) - set(MUTATORS)
    if unknown:
        raise ValueError(f"unknown mutators {sorted(unknown)}; choose from {', '.join(MUTATORS)}")
    try:
        tree = parse_python(code)
    except (SyntaxError, ValueError):
        return []
    src = _Source(code)
    original = ast.dump(tree)
    seen: set[str] = {code}
    out = []
    for mutator, line, (start, end, new) in _edits(tree, src):
        if mutator not in mutators:
            continue
        text = (src.data[:start] + new.encode() + src.data[end:]).decode()
        if text in seen:
            continue
        seen.add(text)
        try:
            if ast.dump(parse_python(text)) == original:
                continue
        except (SyntaxError, ValueError):
            continue
        out.append(Mutant(text, mutator, line))
    return out


def fenced(code: str, language: str = "python") -> str:
    """A response that carries ``code`` the way a chat model answers: one fenced block."""
    return f"```{language}\n{code.rstrip()}\n```"


@dataclass
class CandidatesConfig:
    """Which candidates to add beside a problem's existing ``responses`` (which count as samples)."""

    mutants_per_problem: int = field(default=8, metadata={"help": "mutants of the reference per problem"})
    unaligned_per_problem: int = field(
        default=2, metadata={"help": "correct programs of other problems, as negatives, per problem"}
    )
    mutators: list[str] = field(default_factory=lambda: list(MUTATORS), metadata={"help": "mutation operators"})
    include_reference: bool = field(default=True, metadata={"help": "add the reference solution itself"})
    seed: int = field(default=0, metadata={"help": "seed for drawing mutants and unaligned programs"})

    def __post_init__(self) -> None:
        unknown = [m for m in self.mutators if m not in MUTATORS]
        if unknown:
            raise ValueError(f"unknown mutators {unknown}; choose from {', '.join(MUTATORS)}")


def build_candidates(
    problems: Sequence[dict[str, Any]], config: CandidatesConfig | None = None
) -> list[dict[str, Any]]:
    """Problems with ``responses`` and ``candidate_sources`` extended, ready for :func:`verify_responses`.

    Existing responses are kept first (source ``sample`` unless ``candidate_sources`` says otherwise).
    Mutants are drawn without replacement, round-robin over the mutators so one kind of edit does not
    fill the quota; unaligned candidates are references of other problems in ``problems``.
    A problem with a ``code_prefix`` (HumanEval style) is answered by completions of it: its reference
    must start with the prefix, its mutants edit only what follows, and it gets no unaligned programs
    (another problem's program does not continue this prefix).
    """
    config = config or CandidatesConfig()
    mutators = config.mutators
    rng = random.Random(config.seed)
    with_reference = [p for p in problems if p.get("reference")]
    out = []
    for problem in problems:
        language = problem.get("language", "python")
        prefix = problem.get("code_prefix")
        responses = list(problem.get("responses") or [])
        sources = list(problem.get("candidate_sources") or ["sample"] * len(responses))
        reference = problem.get("reference")
        if reference and prefix is not None and not reference.startswith(prefix):
            raise ValueError(f"problem {problem.get('id')!r}: the reference does not start with its code_prefix")
        if reference:
            if config.include_reference:
                responses.append(_as_response(reference, prefix, language))
                sources.append("reference")
            by_mutator: dict[str, list[Mutant]] = {}
            for m in mutants(reference, mutators):
                if prefix is None or m.code.startswith(prefix):  # a completion can only change what follows it
                    by_mutator.setdefault(m.mutator, []).append(m)
            for group in by_mutator.values():
                rng.shuffle(group)
            order = [m for round_ in _round_robin(list(by_mutator.values())) for m in round_]
            for m in order[: config.mutants_per_problem]:
                responses.append(_as_response(m.code, prefix, language))
                sources.append(f"mutant:{m.mutator}")
        draw = rng.sample(with_reference, min(len(with_reference), config.unaligned_per_problem + 1))
        unaligned = [p for p in draw if p["id"] != problem["id"]] if prefix is None else []
        for other in unaligned[: config.unaligned_per_problem]:
            responses.append(fenced(other["reference"], other.get("language", "python")))
            sources.append("unaligned")
        out.append({**problem, "responses": responses, "candidate_sources": sources})
    return out


def _as_response(code: str, code_prefix: str | None, language: str) -> str:
    """A program as the problem's answers come: fenced, or the completion after its ``code_prefix``."""
    return fenced(code, language) if code_prefix is None else code[len(code_prefix) :]


def _round_robin(groups: list[list[Mutant]]) -> Iterator[list[Mutant]]:
    depth = max((len(g) for g in groups), default=0)
    for i in range(depth):
        yield [g[i] for g in groups if i < len(g)]
