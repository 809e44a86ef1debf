"""Named queries loaded from sql/queries."""

from __future__ import annotations

from pathlib import Path

import pytest

from processors.migrate import MigrationError, discover
from receiver.queries import load_queries, parse_queries, query


def test_files_split_into_named_queries() -> None:
    parsed = parse_queries("-- name: one\nSELECT 1;\n\n-- name: two\n-- says two\nSELECT 2;\n")
    assert list(parsed) == ["one", "two"]
    assert parsed["one"].as_string() == "SELECT 1"
    assert parsed["two"].as_string().endswith("SELECT 2")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-- name: a\nSELECT 1;\n-- name: a\nSELECT 2;", "defined twice"),
        ("-- name: empty\n\n-- name: b\nSELECT 1;", "is empty"),
    ],
)
def test_bad_query_files_are_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_queries(text)


def test_the_project_queries_load_and_the_intake_ones_exist() -> None:
    queries = load_queries()
    assert {"channel_auth", "store_event", "ping"} <= set(queries)
    assert "wabahook.store_event(" in query("store_event").as_string()


def test_unknown_query_names_say_where_they_looked() -> None:
    with pytest.raises(KeyError, match="no SQL query named 'nope'"):
        query("nope")


def test_migration_files_are_numbered_without_gaps_or_duplicates(tmp_path: Path) -> None:
    versions = [m.version for m in discover()]
    assert versions == list(range(1, len(versions) + 1))
    (tmp_path / "0001_a.sql").write_text("")
    (tmp_path / "0001_b.sql").write_text("")
    with pytest.raises(MigrationError, match="used twice"):
        discover(tmp_path)
