"""The projection registry agrees with the database: staging columns, tables, keys."""

from __future__ import annotations

import dataclasses
import typing

import psycopg
import pytest

from processors.pipeline.batch import ensure_stage_tables
from processors.pipeline.parse import ParsedEvent
from processors.pipeline.projections import REGISTRY, Projection
from receiver.queries import load_queries


def test_every_kind_of_parsed_item_has_one_projection() -> None:
    hints = typing.get_type_hints(ParsedEvent)
    item_lists = {
        f.name for f in dataclasses.fields(ParsedEvent) if typing.get_origin(hints[f.name]) is list
    }
    assert sorted(p.name for p in REGISTRY) == sorted(item_lists)


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
