"""Named SQL queries, loaded by name from the files in `sql/queries/`."""

from __future__ import annotations

import functools
import re
from pathlib import Path

from psycopg import sql

_NAME_LINE = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


def sql_dir() -> Path:
    """The folder holding migrations, views and queries (packaged copy or checkout)."""
    packaged = Path(__file__).parent / "sql"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parent.parent / "sql"


def parse_queries(text: str, source: str = "<string>") -> dict[str, sql.SQL]:
    """Split a file of `-- name: xyz` blocks into {name: query}."""
    parts = _NAME_LINE.split(text)
    queries: dict[str, sql.SQL] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in queries:
            raise ValueError(f"{source}: query {name!r} is defined twice")
        statement = body.strip().rstrip(";").strip()
        if not statement:
            raise ValueError(f"{source}: query {name!r} is empty")
        queries[name] = sql.SQL(statement)  # trusted: read from our own files
    return queries


@functools.cache
def load_queries() -> dict[str, sql.SQL]:
    """All named queries of `sql/queries/*.sql` and `sql/projections/*.sql`, names unique."""
    paths = [
        *sorted((sql_dir() / "queries").glob("*.sql")),
        *sorted((sql_dir() / "projections").glob("*.sql")),
    ]
    queries: dict[str, sql.SQL] = {}
    for path in paths:
        for name, query in parse_queries(path.read_text(encoding="utf-8"), str(path)).items():
            if name in queries:
                raise ValueError(f"{path}: query {name!r} is defined in another file too")
            queries[name] = query
    return queries


def query(name: str) -> sql.SQL:
    """The named query `name`."""
    try:
        return load_queries()[name]
    except KeyError:
        raise KeyError(f"no SQL query named {name!r} in {sql_dir() / 'queries'}") from None
