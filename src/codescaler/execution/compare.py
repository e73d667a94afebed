"""How a returned value or a printed output is judged against the expected one: each rule written once, from the
reference harness that defines it.

* :func:`call_matches`: a call's value, by its test's ``compare`` rule: ``equal`` is EvalPlus 0.3.1's (Python's
  ``==``, then floats within a tolerance, and its special oracles), ``strict`` keeps types apart
  (:func:`values_match`).
* :func:`stdout_matches`: a program's stdout, by its test's ``checker``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, get_args

from codescaler.records.schema import Compare, Oracle
from codescaler.records.tagged_json import from_json


def values_match(got: Any, expected: Any, atol: float = 0.0, rtol: float = 1e-9) -> bool:
    """The ``strict`` rule: equality with float tolerance; containers compared element by element, types kept
    apart (``0`` is not ``False``, a list is not a tuple)."""
    if isinstance(expected, float) or isinstance(got, float):
        numbers = (got, expected)
        if any(isinstance(v, bool) or not isinstance(v, int | float) for v in numbers):
            return False
        if math.isnan(expected) and math.isnan(got):
            return True
        return math.isclose(got, expected, rel_tol=rtol, abs_tol=atol)
    if isinstance(expected, list | tuple) and type(got) is type(expected):
        return len(got) == len(expected) and all(values_match(g, e, atol, rtol) for g, e in zip(got, expected))
    if isinstance(expected, dict) and isinstance(got, dict):
        return got.keys() == expected.keys() and all(values_match(got[k], expected[k], atol, rtol) for k in expected)
    return type(got) is type(expected) and got == expected


def _is_floats(value: Any) -> bool:
    """A float, or a non-empty list or tuple of floats: EvalPlus gives these a tolerance of 1e-6 when the problem
    sets none."""
    if isinstance(value, list | tuple):
        return bool(value) and all(isinstance(v, float) for v in value)
    return isinstance(value, float)


def _numbers(value: Any) -> tuple[list[complex | float | int], tuple[int, ...]] | None:
    """``value``'s numbers in order and its shape, as numpy would see a nested list of numbers; None where numpy
    could not make a numeric array of it (a string, None, ragged nesting)."""
    if isinstance(value, int | float | complex):  # bool is an int
        return [value], ()
    if not isinstance(value, list | tuple):
        return None
    parts = [_numbers(v) for v in value]
    if any(p is None for p in parts) or len({p[1] for p in parts if p is not None}) > 1:
        return None
    flat = [n for p in parts if p is not None for n in p[0]]
    return flat, (len(value), *(parts[0][1] if parts and parts[0] is not None else ()))


def _allclose(got: Any, expected: Any, atol: float, rtol: float = 1e-7) -> bool:
    """numpy's ``allclose(got, expected, rtol, atol)`` for equal shapes: |g - e| <= atol + rtol |e| everywhere,
    infinities equal only to themselves, NaN to nothing."""
    a, b = _numbers(got), _numbers(expected)
    if a is None or b is None or a[1] != b[1]:
        return False
    return all(
        g == e if not (_finite(g) and _finite(e)) else abs(g - e) <= atol + rtol * abs(e) for g, e in zip(a[0], b[0])
    )


def _finite(x: complex | float | int) -> bool:
    return isinstance(x, int) or (math.isfinite(x.real) and math.isfinite(x.imag))


def _poly(coefficients: list[float], x: float) -> float:
    return sum(c * math.pow(x, i) for i, c in enumerate(coefficients))


def _surface_area(base_edge: float, height: float) -> int:
    """Mbpp/581's accepted reading: a square pyramid's surface with ``height`` perpendicular to the base."""
    slant = math.sqrt((base_edge / 2) ** 2 + height**2)
    return round(base_edge**2 + 2 * base_edge * slant)


def _digit_distance(a: int, b: int) -> int:
    """Mbpp/558's accepted reading: the numbers padded with zeros to one length, digits compared in place."""
    x, y = str(a), str(b)
    width = max(len(x), len(y))
    return sum(abs(int(p) - int(q)) for p, q in zip(x.zfill(width), y.zfill(width)))


# EvalPlus's special oracles: whether a value that is not equal to the reference's is right all the same.
_ORACLES: dict[str, Any] = {
    "any": lambda got, expected, args, atol: True,  # Mbpp/164: every answer that runs is accepted
    "sum_div": lambda got, expected, args, atol: got == 0,
    "surface_area": lambda got, expected, args, atol: abs(got - _surface_area(*args)) <= atol,
    "digit_distance": lambda got, expected, args, atol: got == _digit_distance(*args),
}


def call_matches(test: dict[str, Any], got: Any, expected: Any) -> bool:
    """Whether a call's returned value ``got`` passes against ``expected``, by the test's ``compare`` rule.

    ``equal`` (the default) is EvalPlus 0.3.1's check (``evalplus/eval/__init__.py``, ``unsafe_execute``): the
    values are equal under Python's ``==`` (``0 == False``, ``1 == 1.0``); else, where the test has an ``atol``
    or the expected value is a float or a list of floats (then atol 1e-6), the types and lengths are the same and
    numpy's ``allclose`` holds with rtol 1e-7. Its special oracles come first (``oracle``): ``set`` compares
    ``set(got)`` with ``set(expected)`` in place of ``==``, ``not_none`` and the others accept a value the
    reference's does not equal, ``poly_root`` accepts any root of the polynomial within ``atol``. ``strict`` is
    :func:`values_match`; ``lcb`` is LiveCodeBench's (a returned tuple read as a list, then ``==``)."""
    compare, oracle, atol = test.get("compare", "equal"), test.get("oracle"), float(test.get("atol") or 0.0)
    if compare == "strict":
        return values_match(got, expected, atol=atol)
    if compare == "lcb":  # LiveCodeBench's grade_call_based: a tuple answers as the list it holds, then ==
        return bool((list(got) if isinstance(got, tuple) else got) == expected)
    if compare != "equal":
        raise ValueError(f"unknown compare rule {compare!r}: {', '.join(get_args(Compare))}")
    if oracle is not None and oracle not in get_args(Oracle):
        raise ValueError(f"unknown oracle {oracle!r}: {', '.join(get_args(Oracle))}")
    try:
        if oracle == "poly_root":
            return abs(_poly(from_json(test["args"])[0], got)) <= atol
        equal = set(got) == set(expected) if oracle == "set" else got == expected
        if not equal and oracle in _ORACLES:
            equal = _ORACLES[oracle](got, expected, from_json(test["args"]), atol)
        if atol == 0 and _is_floats(expected):
            atol = 1e-6
        if equal or atol == 0:
            return bool(equal)
        if type(got) is not type(expected) or (isinstance(expected, list | tuple) and len(got) != len(expected)):
            return False
        return _allclose(got, expected, atol)
    except Exception:  # a value the rule cannot even compare (set() of a list of lists) is not the right one
        return False


def _alike_in_order(got: list[str], expected: list[str], alike: Callable[[str, str], bool]) -> bool:
    """As many units on both sides, and each pair equal as text or else ``alike``."""
    return len(got) == len(expected) and all(g == e or alike(g, e) for g, e in zip(got, expected))


def outputs_match(got: str, expected: str, rtol: float = 1e-6, atol: float = 1e-9) -> bool:
    """Token-wise stdout comparison; numeric tokens agree within ``rtol`` relative or ``atol`` absolute."""

    def close(g: str, e: str) -> bool:
        try:
            return math.isclose(float(g), float(e), rel_tol=rtol, abs_tol=atol)
        except ValueError:
            return False

    return _alike_in_order(got.split(), expected.split(), close)


def stdout_matches(test: dict[str, Any], got: str, expected: str) -> bool:
    """``got`` against ``expected`` under the test's ``checker`` (all but ``program``, which runs in the sandbox)."""
    checker = test.get("checker", "tokens")
    if checker == "lines_unordered":
        got_lines = sorted(line.strip() for line in got.strip().splitlines())
        return got_lines == sorted(line.strip() for line in expected.strip().splitlines())
    if checker == "tokens_unordered":
        return sorted(got.split()) == sorted(expected.split())
    if checker == "tokens":
        return outputs_match(got, expected, test.get("rtol", 1e-6), test.get("atol", 1e-9))
    if checker == "lcb":
        return lcb_lines_match(got, expected)
    raise ValueError(f"unknown checker {checker!r}: tokens, lcb, lines_unordered, tokens_unordered or program")


def _stripped_lines(text: str) -> list[str]:
    return [line.strip() for line in text.strip().split("\n")]


def lcb_lines_match(got: str, expected: str) -> bool:
    """LiveCodeBench's stdio check (``lcb_runner/evaluation/testing_util.py``, ``grade_stdio``): both outputs
    stripped, then split on newlines and each line stripped; as many lines on both sides, blank ones inside
    included; each pair of lines equal as text, or else as lists of whitespace-separated tokens that all read as
    decimal numbers and are equal as such, exactly (``1.0`` is ``1`` and ``1e3`` is ``1000``; ``0.30000000000000004``
    is not ``0.3``). An empty expected output is matched by an output that is empty or whitespace only."""
    return _alike_in_order(_stripped_lines(got), _stripped_lines(expected), _equal_decimals)


def _equal_decimals(got: str, expected: str) -> bool:
    try:
        return [Decimal(t) for t in got.split()] == [Decimal(t) for t in expected.split()]
    except InvalidOperation:
        return False
