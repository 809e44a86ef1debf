"""Any order, any batching, any repetition of the same events: identical tables."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processors.pipeline.drain import drain
from receiver.db import Database
from tests.corpus import CASES
from tests.integration.processing_helpers import (
    clear_projections,
    requeue,
    snapshot,
    status_body,
    store,
)

T0 = 1750000000  # times below are seconds after this moment
MAX_BATCHES = 24


def status(message_id: str, state: str, after: int, extra: str = "") -> bytes:
    return status_body(message_id, state, T0 + after, extra)


# The corpus, plus conflicting histories of a few messages split over many bodies.
PRICING = '"pricing":{"billable":true,"category":"utility","pricing_model":"PMP"}'
HISTORIES = [
    status("h1", "sent", 100, PRICING), status("h1", "delivered", 200), status("h1", "read", 300),
    status("h1", "failed", 250, '"errors":[{"code":131026,"title":"x"}]'),
    status("h2", "failed", 500, '"errors":[{"code":1,"title":"a"}]'),
    status("h2", "failed", 500, '"errors":[{"code":2,"title":"b"}]'),
    status("h2", "delivered", 400), status("h3", "deleted", 10), status("h3", "warning", 20),
    status("h4", "sent", 100, '"conversation":{"id":"c-a","origin":{"type":"service"}}'),
    status("h4", "sent", 100, '"conversation":{"id":"c-b","origin":{"type":"service"}}'),
]  # fmt: skip
BODIES = [case.body for case in CASES] + HISTORIES


@pytest.fixture
def stored(db: Database, database_url: str) -> tuple[list[int], dict[str, Any]]:
    ids = store(db, BODIES)
    ids += store(db, BODIES[:5])  # sender retries: identical bytes, new raw events
    drain(db)
    return ids, snapshot(database_url)


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
@pytest.mark.slow  # a property test through real drains
def test_permutations_and_repetitions_yield_identical_tables(
    data: st.DataObject,
    stored: tuple[list[int], dict[str, Any]],
    db: Database,
    database_url: str,
) -> None:
    ids, baseline = stored
    order = data.draw(st.permutations(ids), label="order")
    repeats = data.draw(st.lists(st.sampled_from(ids), max_size=20), label="repeats")
    sequence = order + repeats
    cuts = sorted(data.draw(st.sets(st.integers(1, len(sequence) - 1), max_size=8), label="cuts"))
    # At most MAX_BATCHES per example: batches of one event cost a drain each, and
    # Hypothesis favours the smallest size; one-event batches have their own test below.
    batch_size = max(
        data.draw(st.integers(1, 64), label="batch size"), -(-len(sequence) // MAX_BATCHES)
    )
    clear_projections(database_url)
    for start, end in zip([0, *cuts], [*cuts, len(sequence)], strict=True):
        requeue(db, sequence[start:end])
        drain(db, batch_size=batch_size)
    assert snapshot(database_url) == baseline


@pytest.mark.slow
def test_one_event_per_batch_in_reverse_yields_identical_tables(
    stored: tuple[list[int], dict[str, Any]], db: Database, database_url: str
) -> None:
    ids, baseline = stored
    clear_projections(database_url)
    for raw_event_id in reversed(ids):  # the queue is drained by id: one at a time
        requeue(db, [raw_event_id])
        drain(db, batch_size=1)
    assert snapshot(database_url) == baseline


def test_the_histories_resolve_as_the_rules_say(
    stored: tuple[list[int], dict[str, Any]], database_url: str
) -> None:
    import psycopg

    with psycopg.connect(database_url) as conn:
        rows = {
            r[0]: r[1:]
            for r in conn.execute(
                "SELECT message_id, status, error_codes, pricing_category, conversation_id"
                " FROM wabahook.delivery_status WHERE message_id LIKE 'h%' ORDER BY 1"
            ).fetchall()
        }
    assert rows["h1"] == ("read", [131026], "utility", None)  # failed older than the latest read
    assert rows["h2"] == ("failed", [1, 2], None, None)  # two failures at one second: both codes
    assert rows["h3"][0] == "deleted"
    assert rows["h4"][3] == "c-a"  # a tie on time is broken by value, not by arrival
