"""The schema's functions and views, made again from sql/functions and sql/views by migrate."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import tuple_row

from receiver.queries import query, sql_dir

# The names a function file defines, for the drop that must come first when CREATE OR
# REPLACE may not change a function (see _run_function_file).
_CREATED_NAMES = re.compile(
    rb"\bCREATE\s+OR\s+REPLACE\s+(?:FUNCTION|AGGREGATE|PROCEDURE)\s+wabahook\.(\w+)",
    re.IGNORECASE,
)


def recreate_views(conn: psycopg.Connection[Any], folder: Path | None = None) -> None:
    """Drop every view of the schema and create them again from `folder`, atomically."""
    with conn.transaction():
        _drop_views(conn)
        _create_views(conn, folder or sql_dir() / "views")


def recreate_functions_and_views(
    conn: psycopg.Connection[Any], functions_folder: Path, views_folder: Path
) -> None:
    """Drop the views, run the function files, then create the views, atomically.

    The views go first: one may use a function whose result type or arguments change.
    Functions come before the views that call them, and after the migrations that made
    the tables they read.
    """
    with conn.transaction():
        _drop_views(conn)
        recreate_functions(conn, functions_folder)
        _create_views(conn, views_folder)


def recreate_functions(conn: psycopg.Connection[Any], folder: Path) -> None:
    """Run every file of `folder` in name order; drop the overloads they define no more.

    Each file holds CREATE OR REPLACE statements, which keep a function's owner and
    grants. Call it inside a transaction, with the views dropped.
    """
    files = sorted(folder.glob("*.sql")) if folder.is_dir() else []
    before = _function_versions(conn)
    for path in files:
        _run_function_file(conn, path)
    _drop_replaced_overloads(conn, before)


def _function_versions(conn: psycopg.Connection[Any]) -> dict[int, tuple[str, str]]:
    """{oid: (name, row version)} of every function of the schema."""
    rows = conn.cursor(row_factory=tuple_row).execute(query("function_versions")).fetchall()
    return {int(oid): (str(name), str(xmin)) for oid, name, xmin in rows}


def _run_function_file(conn: psycopg.Connection[Any], path: Path) -> None:
    """Run one function file; where CREATE OR REPLACE may not, drop its functions first."""
    text = path.read_bytes()
    try:
        with conn.transaction():
            conn.execute(text)
    except psycopg.errors.InvalidFunctionDefinition:
        # A changed result type, a renamed argument or a removed default: PostgreSQL
        # replaces none of these. Drop the file's functions (RESTRICT: nothing may use
        # them but the views, dropped already) and create them anew; the file's REVOKEs
        # and sql/roles.sql give the new ones their rights.
        names = sorted({m.decode() for m in _CREATED_NAMES.findall(text)})
        versions = _function_versions(conn)
        _drop_functions(conn, [oid for oid, (name, _) in versions.items() if name in names])
        conn.execute(text)


def _drop_replaced_overloads(
    conn: psycopg.Connection[Any], before: dict[int, tuple[str, str]]
) -> None:
    """Drop the functions that share a name with one defined since `before` but were not."""
    after = _function_versions(conn)
    defined = {oid for oid, version in after.items() if before.get(oid) != version}
    names = {after[oid][0] for oid in defined}
    _drop_functions(
        conn, [oid for oid, (name, _) in after.items() if name in names and oid not in defined]
    )


def _drop_functions(conn: psycopg.Connection[Any], oids: list[int]) -> None:
    """Drop the functions `oids`; one that something still depends on stops the migrate."""
    if not oids:
        return
    cursor = conn.cursor(row_factory=tuple_row)
    rows = cursor.execute(query("function_signatures"), {"oids": oids}).fetchall()
    for (signature,) in rows:
        # regprocedure's text is PostgreSQL's own, quoted where it must be.
        conn.execute(query("drop_routine").format(signature=sql.SQL(str(signature))))


def _drop_views(conn: psycopg.Connection[Any]) -> None:
    """Drop every view of the schema (and what depends on them)."""
    views = conn.cursor(row_factory=tuple_row).execute(query("schema_views")).fetchall()
    for (view,) in views:
        conn.execute(query("drop_view").format(view=sql.Identifier("wabahook", str(view))))


def _create_views(conn: psycopg.Connection[Any], folder: Path) -> None:
    """Run the files of `folder` in name order."""
    for path in sorted(folder.glob("*.sql")) if folder.is_dir() else []:
        conn.execute(path.read_bytes())
