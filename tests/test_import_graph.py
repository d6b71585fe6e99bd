"""The import graph of ``xle``: no cycle between modules, and imports flow down the layers
that docs/design.md ("Package layout and import direction") lists.

Every ``import`` is counted, at module level or inside a function (a lazy import still
ties the two modules together), and so is one under ``if TYPE_CHECKING``. The package
facade ``xle/__init__.py`` re-exports the public names lazily and may import anything;
it is left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "xle"

#: Top to bottom; a module may import its own layer or a lower one.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("cli", ("xle.cli",)),
    ("applications", ("xle.dashboard", "xle.recorder", "xle.simulator", "xle.backtesting")),
    ("replay", ("xle.replay",)),
    ("analytics", ("xle.analytics", "xle.config")),
    ("store", ("xle.store",)),
    ("exchanges", ("xle.exchanges",)),
    ("native", ("xle._native",)),
    ("base", ("xle.records", "xle.errors", "xle.timeutil", "xle.numfmt")),
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The module of ``modules`` that importing ``name`` runs last (its longest prefix)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            # ``from pkg import mod`` imports the submodule; ``from mod import name`` the module
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for target in targets:
            resolved = _resolve(target, modules) if target.startswith("xle") else None
            if resolved is not None and resolved not in (name, "xle"):
                found.add(resolved)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items() if name != "xle"}


def _layer(module: str) -> int:
    last = module.rpartition(".")[2]
    if last == "commands" or module.startswith("xle.cli"):
        return 0
    for rank, (_label, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    raise AssertionError(f"{module} belongs to no layer: add it to LAYERS and docs/design.md")


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in graph:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_graph_sees_lazy_imports():
    graph = _graph()
    assert "xle.store.writer" in graph["xle.store.reader"]  # imported inside a method
    assert "xle.store.seek" in graph["xle.store.reader"]


def test_no_module_imports_one_that_imports_it_back():
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_every_module_belongs_to_a_layer():
    for module in _graph():
        _layer(module)


def test_imports_flow_down_the_layers():
    upward = [
        f"{module} ({LAYERS[_layer(module)][0]}) imports {target} ({LAYERS[_layer(target)][0]})"
        for module, targets in sorted(_graph().items())
        for target in sorted(targets)
        if _layer(target) < _layer(module)
    ]
    assert upward == []


def test_exchanges_know_nothing_of_storage_or_analytics():
    graph = _graph()
    leaks = [
        (module, target)
        for module, targets in graph.items()
        if module.startswith("xle.exchanges")
        for target in targets
        if target.startswith(("xle.store", "xle.analytics"))
    ]
    assert leaks == []
