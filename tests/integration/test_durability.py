"""Nothing lost through kills of gunicorn workers, RQ workers, relays, Redis and PostgreSQL,
and a destination down for a while."""

from __future__ import annotations

import pytest

from tests.support.durability import Account, run

pytestmark = pytest.mark.slow  # gunicorn, workers and servers killed under load


@pytest.fixture(scope="module")
def account() -> Account:
    """One run with every fault, which both tests account for."""
    return run(seconds=16)


def test_every_acknowledged_delivery_is_stored_once_and_processed(account: Account) -> None:
    summary = account.as_json()
    assert len(account.faults) == 9, summary
    assert account.answers[200] > 100, summary  # real load went through
    assert account.answers[503] + account.answers[0] > 0, summary  # PostgreSQL was down a while
    assert account.lost == [], summary
    assert account.doubled == [], summary
    assert account.queued_after == 0, summary
    # Every stored delivery was projected: one message each (503'd ones may be stored too).
    assert account.processed_messages == sum(1 for c in account.stored.values() if c), summary


def test_every_stored_event_reaches_the_destination_under_one_webhook_id(
    account: Account,
) -> None:
    summary = account.as_json()
    assert account.stored_events, summary
    assert account.not_relayed == [], summary
    assert account.relayed_under_two_ids == [], summary
