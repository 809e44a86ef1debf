"""The import graph: `receiver` stands alone, and nothing imports in a circle.

Every import statement counts: at module level, inside a function, and under
`if TYPE_CHECKING:` too. A type-only import never runs, but it still ties the two
modules together (each needs the other to be read), so it is held to the same rule.
A package's `__init__` importing its own submodules is no cycle: a submodule only
closes a circle by importing from its package by name, and that is an edge here.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("receiver", "processors")
# Calls that import what no import statement names: the graph could not see them.
DYNAMIC_IMPORTS = frozenset({"import_module", "__import__", "iter_modules", "walk_packages"})


def modules(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> dict[str, Path]:
    """Every module of our packages, by dotted name."""
    found = {}
    for package in packages:
        for path in (root / package).rglob("*.py"):
            parts = path.relative_to(root).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported_names(name: str, source: str, is_package: bool = False) -> Iterator[str]:
    """Dotted names module `name` imports anywhere in `source` (absolute, with members)."""
    package = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def graph(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> dict[str, set[str]]:
    """{module: the modules of ours it imports}."""
    known = modules(root, packages)
    edges: dict[str, set[str]] = {}
    for name, path in known.items():
        targets = set()
        source = path.read_text(encoding="utf-8")
        for imported in imported_names(name, source, path.name == "__init__.py"):
            while imported and imported not in known:
                imported = imported.rpartition(".")[0]
            if imported and imported != name:
                targets.add(imported)
        edges[name] = targets
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(edges[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def loop(edges: dict[str, set[str]], group: list[str]) -> list[str]:
    """One shortest circle through the group's first module: [a, b, ..., a]."""
    start, members = group[0], set(group)
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for target in sorted(edges[node] & members):
            if target == start:
                back = [node]  # walked back from the end of the circle to its start
                while back[-1] != start:
                    back.append(came_from[back[-1]])
                return [*reversed(back), start]
            if target not in came_from:
                came_from[target] = node
                queue.append(target)
    raise AssertionError(f"no circle through {start}")  # a strongly connected group has one


def described(edges: dict[str, set[str]]) -> str:
    """Each circle of `edges` as one line: a -> b -> a (and every module caught in it)."""
    return "\n".join(
        f"{' -> '.join(loop(edges, group))}  (modules in the cycle: {', '.join(group)})"
        for group in cycles(edges)
    )


def dynamic_imports(source: str) -> set[str]:
    """The calls in `source` that import modules by a computed name."""
    return {
        node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute | ast.Name)
        and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id)
        in DYNAMIC_IMPORTS
    }


def test_the_receiver_imports_nothing_from_processors() -> None:
    edges = graph()
    assert "receiver" in edges
    crossing = {
        (name, target)
        for name, targets in edges.items()
        if name.split(".")[0] == "receiver"
        for target in targets
        if target.split(".")[0] == "processors"
    }
    assert crossing == set()


def test_no_module_imports_in_a_circle() -> None:
    edges = graph()
    assert not cycles(edges), "import cycles:\n" + described(edges)


def test_every_import_is_one_the_graph_sees() -> None:
    """No module imports by a computed name (registration is explicit, not discovered)."""
    found = {
        name: calls
        for name, path in modules().items()
        if (calls := dynamic_imports(path.read_text(encoding="utf-8")))
    }
    assert found == {}


def test_the_checks_see_what_they_look_for(tmp_path: Path) -> None:
    """A cycle, a late import and a type-only import are found: the checks can fail."""
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(edges) == [["a", "b", "c"]]
    assert described(edges).startswith("a -> b -> c -> a  ")
    late = graph()["processors.safe_jobs"]  # imports processors.jobs inside a function
    assert "processors.jobs" in late
    assert dynamic_imports("import importlib\nimportlib.import_module(name)") == {"import_module"}

    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "one.py").write_text("from pkg.two import Two\n")
    (package / "two.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.one import One\n"
    )
    edges = graph(tmp_path, ("pkg",))
    assert edges["pkg.two"] == {"pkg.one"}
    assert cycles(edges) == [["pkg.one", "pkg.two"]]
    assert described(edges).startswith("pkg.one -> pkg.two -> pkg.one  ")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from . import values", "processors.pipeline.values"),
        ("from .values import Notes", "processors.pipeline.values.Notes"),
        ("from ..jobs import drain", "processors.jobs.drain"),
        ("def f():\n    import processors.jobs", "processors.jobs"),
    ],
)
def test_relative_and_late_imports_resolve(source: str, expected: str) -> None:
    assert expected in set(imported_names("processors.pipeline.parse", source))
