"""The projection registry agrees with the database: staging columns, tables, keys."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from processors.pipeline import projections
from processors.pipeline.batch import ensure_stage_tables
from processors.pipeline.model import Projection
from processors.pipeline.projections import REGISTRY
from receiver.queries import load_queries


def test_every_module_of_the_package_is_a_registered_projection() -> None:
    package = Path(projections.__file__).parent
    modules = {path.stem for path in package.glob("*.py")} - {"__init__"}
    registered = {p.read.__module__.rpartition(".")[2] for p in REGISTRY}
    assert registered == modules  # a module without PROJECTION would be silently left out
    assert len({p.name for p in REGISTRY}) == len(REGISTRY)
    assert len({p.stage_table for p in REGISTRY}) == len(REGISTRY)
    assert [p.read.__module__ for p in REGISTRY] == sorted(p.read.__module__ for p in REGISTRY)


@pytest.mark.parametrize("projection", REGISTRY, ids=lambda p: p.name)
def test_a_projection_stages_the_columns_its_table_has(
    projection: Projection, database_url: str
) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        ensure_stage_tables(conn)  # type: ignore[arg-type]
        staged = [
            name
            for (name,) in conn.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass"
                " AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
                [f"pg_temp.{projection.stage_table}"],
            )
        ]
    assert staged == ["raw_event_id", "channel", *projection.columns]


@pytest.mark.parametrize("projection", REGISTRY, ids=lambda p: p.name)
def test_a_projection_writes_tables_keyed_as_it_says(
    projection: Projection, database_url: str
) -> None:
    queries = load_queries()
    assert all(name in queries for name in (projection.stage_table, *projection.queries))
    with psycopg.connect(database_url) as conn:
        for table, key in projection.tables.items():
            unique_keys = {
                tuple(columns)
                for (columns,) in conn.execute(
                    "SELECT array_agg(a.attname ORDER BY k.n) FROM pg_index i"
                    " CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)"
                    " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
                    " WHERE i.indrelid = %s::regclass AND i.indisunique GROUP BY i.indexrelid",
                    [f"wabahook.{table}"],
                )
            }
            assert key in unique_keys, (table, unique_keys)
