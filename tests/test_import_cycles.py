"""No module-level import cycles in sparsegraph or its CLI, and only the package imports that
docs/architecture.md allows.

Every ``import`` statement of every module counts, at any depth (module level, inside functions, under
``TYPE_CHECKING``), so a cycle cannot be hidden by moving an import into a function. An import of
``package.sub`` is an edge to the module ``package/sub.py`` (or ``package/sub/__init__.py``); the implicit
execution of the parent packages is not an edge, as in import-linter and pydeps. ``from package import
name`` is an edge to ``package.name`` when that is a module, else to ``package``.

Because imports inside functions count, moving an import into a function never hides a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# importable name -> folder
PACKAGES = {"sparsegraph": ROOT / "sparsegraph", "sparsegraph_cli": ROOT / "cli"}


def _modules() -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for name, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join([name, *parts])] = path
    return modules


def _is_package(module: str, modules: dict[str, Path]) -> bool:
    return modules[module].name == "__init__.py"


def _resolve(base: str, level: int, module: str | None, current: str, modules: dict[str, Path]) -> str:
    if level == 0:
        return module or ""
    package = current if _is_package(current, modules) else current.rpartition(".")[0]
    for _ in range(level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{module}" if module else package


def _closest(name: str, modules: dict[str, Path]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    """Module -> in-package modules it imports (anywhere in its body)."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for current, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve("", node.level, node.module, current, modules)
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    targets.append(full if full in modules else base)
            for target in targets:
                resolved = _closest(target, modules)
                if resolved is not None and resolved != current:
                    graph[current].add(resolved)
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm (iterative); components of more than one module, each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
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
            if child is None:
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
                        components.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return sorted(components)


def test_strongly_connected_finds_a_planted_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert strongly_connected(graph) == [["a", "b", "c"]]


def test_import_graph_resolves_relative_and_submodule_imports():
    graph = import_graph()
    # sparsegraph/__init__.py imports sparsegraph._lazy (absolute, module-level)
    assert "sparsegraph._lazy" in graph["sparsegraph"]
    assert len(graph) > 100


def test_no_import_cycles():
    cycles = strongly_connected(import_graph())
    assert cycles == [], "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


ARCHITECTURE = ROOT / "docs" / "architecture.md"


def _package(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "sparsegraph_cli":
        return "sparsegraph_cli"
    return parts[1] if len(parts) > 1 else parts[0]


def allowed_imports() -> dict[str, set[str]]:
    """Package -> packages it may import, from the table in docs/architecture.md."""
    allowed = {}
    for line in ARCHITECTURE.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("| `") else []
        if len(cells) == 2:
            allowed[cells[0].strip("`")] = {c.strip(" `") for c in cells[1].split(",") if c.strip(" `—")}
    return allowed


def test_packages_import_only_what_docs_architecture_allows():
    allowed = allowed_imports()
    assert {"errors", "registry", "graphs", "metrics", "pruning", "runs", "study"} <= set(allowed)
    violations = []
    for module, targets in import_graph().items():
        package = _package(module)
        if package == "sparsegraph_cli":
            continue
        assert package in allowed, f"{package} (of {module}) is missing from the table in docs/architecture.md"
        for target in targets:
            other = _package(target)
            if other != package and other not in allowed[package]:
                violations.append(f"{module} imports {target}")
    assert violations == [], "imports docs/architecture.md does not allow:\n" + "\n".join(violations)
