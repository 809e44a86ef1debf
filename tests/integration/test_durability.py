"""Nothing lost through kills of gunicorn workers, RQ workers, Redis and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.support.durability import run


# Sync workers commit each request; gthread workers commit whatever gathered in groups;
# with the intake writer, one process commits for every worker (and is killed too).
@pytest.mark.parametrize(
    ("receiver_threads", "intake_writer"),
    [(1, False), (8, False), (8, True)],
    ids=["sync", "group-commit", "writer-process"],
)
def test_every_acknowledged_delivery_is_stored_once_and_processed(
    receiver_threads: int, intake_writer: bool
) -> None:
    account = run(seconds=16, receiver_threads=receiver_threads, intake_writer=intake_writer)
    summary = account.as_json()
    assert len(account.faults) == 6 + intake_writer, summary
    assert account.answers[200] > 100, summary  # real load went through
    assert account.answers[503] + account.answers[0] > 0, summary  # PostgreSQL was down a while
    assert account.lost == [], summary
    assert account.doubled == [], summary
    assert account.queued_after == 0, summary
    # Every stored delivery was projected: one message each (503'd ones may be stored too).
    assert account.processed_messages == sum(1 for c in account.stored.values() if c), summary
