"""The architecture, checked: codescaler's subpackages are layers, and no module imports upward, in a circle, or
another module's private names, or grows past MAX_LINES (one job per module, readable top to bottom).

    python -m tools.import_graph            # from the repository root; exit 1 with one line per violation

Every import counts, also those inside functions and under ``TYPE_CHECKING``: a lazy import still ties the
two modules together. A package's ``__init__`` is a module like any other, so importing a package from inside
it (``from codescaler.judges import ...`` in ``codescaler.judges.engine``) closes a circle and is reported.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Sequence
from pathlib import Path

# Lowest first: a module may import its own layer and those before it. Modules directly in the package
# (its ``__init__``, ``__main__``) sit above every layer.
LAYERS = (
    "records",
    "extraction",
    "judges",
    "execution",
    "rewards",
    "benchmarks",
    "measure",
    "training",
    "evaluation",
    "serving",
    "integrations",
    "rl",
    "cli",
)
MAX_LINES = 400


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(root: Path) -> dict[str, list[tuple[str, int, str | None]]]:
    """module -> (imported module of the package, line, the name imported from it when it is no module)."""
    paths = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    found: dict[str, list[tuple[str, int, str | None]]] = {}
    for module, path in paths.items():
        is_package = path.name == "__init__.py"
        edges = found.setdefault(module, [])
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                edges += [(alias.name, node.lineno, None) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                    base = ".".join(anchor + ([base] if base else []))
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    edges.append((sub, node.lineno, None) if sub in paths else (base, node.lineno, alias.name))
        found[module] = [(target, line, name) for target, line, name in edges if target in paths]
    return found


def layer(module: str, layers: Sequence[str]) -> int:
    parts = module.split(".")
    return layers.index(parts[1]) if len(parts) > 2 or (len(parts) == 2 and parts[1] in layers) else len(layers)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module, or a module that imports itself (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def violations(root: Path, layers: Sequence[str] = LAYERS) -> list[str]:
    """One line per upward import, private name imported from another module, import circle and long module."""
    edges = imports(root)
    long = [(p, n) for p in sorted(root.rglob("*.py")) if (n := len(p.read_text().splitlines())) > MAX_LINES]
    unknown = sorted({m.split(".")[1] for m in edges if m.count(".") >= 1 and (root / m.split(".")[1]).is_dir()})
    out = [f"{root.name}.{name}: a subpackage missing from the layers" for name in unknown if name not in layers]
    for module, targets in edges.items():
        for target, line, name in targets:
            if layer(target, layers) > layer(module, layers):
                out.append(f"{module}:{line} imports {target}, a higher layer")
            if name is not None and name.startswith("_") and target != module:
                out.append(f"{module}:{line} imports {target}.{name}, a private name")
    graph = {module: {target for target, _, _ in targets} for module, targets in edges.items()}
    out += [f"import circle: {' -> '.join(component)}" for component in cycles(graph)]
    out += [f"{module_name(path, root)}: {lines} lines, over {MAX_LINES}" for path, lines in long]
    return out


def main(argv: Sequence[str] = sys.argv[1:]) -> int:
    root = Path(argv[0] if argv else "src/codescaler")
    found = violations(root)
    for line in found:
        print(line)
    print(f"{root}: {len(found)} violations of the layers {' < '.join(LAYERS)}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
