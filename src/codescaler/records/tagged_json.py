"""Tagged JSON: Python values through JSON without losing tuples, sets, dict keys, bytes or special floats.

Test arguments travel to the sandbox and returned values travel back in this form, and cached outputs
and generated tests are stored in it. Standard library only: the sandbox worker loads this file by its
path (it must not put our package on a program's import path), before any untrusted code runs.
"""

from typing import Any

# Taken at import, before any untrusted code runs in the worker, which may patch builtins.
_isinstance, _type = isinstance, type
_INF = float("inf")


def to_json(value: Any) -> Any:
    """A JSON form of a plain value that keeps tuples, sets, dict keys, bytes and special floats apart;
    subclasses are reduced to their builtin base. Raises TypeError for anything else."""
    if value is None or _type(value) is bool:
        return value
    if _isinstance(value, str):
        return str(value)
    if _isinstance(value, int):
        # hex: no digit limit for power-of-two bases (decimal str() refuses past 4300 digits)
        return int(value) if -(10**15) < value < 10**15 else {"__int__": hex(value)}
    if _isinstance(value, float):
        value = float(value)
        return value if value == value and value not in (_INF, -_INF) else {"__float__": repr(value)}
    if _isinstance(value, (set, frozenset)):
        return {"__set__": sorted((to_json(v) for v in value), key=repr)}
    if _isinstance(value, tuple):
        return tag_tuple([to_json(v) for v in value])
    if _isinstance(value, list):
        return [to_json(v) for v in value]
    if _isinstance(value, dict):
        return {"__dict__": [[to_json(k), to_json(v)] for k, v in value.items()]}
    if _isinstance(value, complex):
        return {"__complex__": [value.real, value.imag]}
    if _isinstance(value, bytes):
        return {"__bytes__": bytes(value).decode("latin-1")}
    raise TypeError(f"returned a {_type(value).__name__}, not a plain value")


def tag_tuple(items: list[Any]) -> dict[str, list[Any]]:
    """The tagged form of a tuple whose items are already tagged JSON."""
    return {"__tuple__": items}


def from_json(value: Any) -> Any:
    """Inverse of :func:`to_json`; untagged JSON comes back as itself."""
    if _isinstance(value, list):
        return [from_json(v) for v in value]
    if not _isinstance(value, dict):
        return value
    if "__tuple__" in value:
        return tuple(from_json(v) for v in value["__tuple__"])
    if "__set__" in value:
        return {_hashable(from_json(v)) for v in value["__set__"]}
    if "__dict__" in value:
        return {_hashable(from_json(k)): from_json(v) for k, v in value["__dict__"]}
    if "__int__" in value:
        return int(value["__int__"], 16)
    if "__complex__" in value:
        return complex(*value["__complex__"])
    if "__bytes__" in value:
        return value["__bytes__"].encode("latin-1")
    if "__float__" in value:
        return float(value["__float__"])
    return {k: from_json(v) for k, v in value.items()}


def _hashable(value: Any) -> Any:
    return tuple(_hashable(v) for v in value) if _isinstance(value, list) else value
