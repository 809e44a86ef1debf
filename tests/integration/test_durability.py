"""Nothing lost through kills of gunicorn workers, RQ workers, Redis and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.support.durability import run

pytestmark = pytest.mark.slow  # gunicorn, workers and servers killed under load


def test_every_acknowledged_delivery_is_stored_once_and_processed() -> None:
    account = run(seconds=16)
    summary = account.as_json()
    assert len(account.faults) == 6, summary
    assert account.answers[200] > 100, summary  # real load went through
    assert account.answers[503] + account.answers[0] > 0, summary  # PostgreSQL was down a while
    assert account.lost == [], summary
    assert account.doubled == [], summary
    assert account.queued_after == 0, summary
    # Every stored delivery was projected: one message each (503'd ones may be stored too).
    assert account.processed_messages == sum(1 for c in account.stored.values() if c), summary
