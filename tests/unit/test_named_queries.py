"""Named SQL queries: every name the code asks for exists, and every query is used."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from receiver.queries import load_queries

ROOT = Path(__file__).resolve().parents[2]
LOADERS = {"query", "fetch_one", "fetch_all", "projection_query"}


def sources() -> Iterator[ast.AST]:
    for package in ("receiver", "processors"):
        for path in sorted((ROOT / package).rglob("*.py")):
            yield ast.parse(path.read_text(encoding="utf-8"))


def asked_for() -> set[str]:
    """Names passed as a literal to query(), fetch_one(), fetch_all(), projection_query()."""
    names = set()
    for tree in sources():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if called in LOADERS and isinstance(first, ast.Constant):
                names.add(first.value)
    return names


def strings_in_code() -> set[str]:
    """Every string literal of the code (a query name may travel in a tuple or a table)."""
    return {
        node.value
        for tree in sources()
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


def test_every_name_the_code_asks_for_is_a_query() -> None:
    asked = asked_for()
    assert len(asked) > 30  # the scan finds the calls
    assert asked - set(load_queries()) == set()


def test_every_query_is_used() -> None:
    assert set(load_queries()) - strings_in_code() == set()
