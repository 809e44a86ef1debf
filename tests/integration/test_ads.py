"""Ads and marketing signals: conversions, clicks and attribution, the same in any order,
and `stats`' "from ads" line."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from itertools import permutations

import pytest
from click.testing import Result

from processors.pipeline.drain import drain
from receiver.db import Database
from tests.corpora.ads import CLICK, REFERRAL, automatic_events, click, clicks, conversion
from tests.integration.processing_helpers import clear_projections, requeue, store, view
from tests.support.bodies import cloud_message, earlier_today, msg


def first_message(mid: str, at: int) -> bytes:
    """A message from an ad's click, sent at `at`."""
    message = msg(mid, "text", '"text":{"body":"hi"}', REFERRAL, sender="15550990002")
    return cloud_message(message.replace('"timestamp":"1750000000"', f'"timestamp":"{at}"'))


@pytest.mark.slow  # every order
def test_attribution_is_the_same_in_any_order_and_redelivery_adds_nothing(
    db: Database, database_url: str
) -> None:
    now = int(time.time()) - 600
    bodies = [
        first_message("wamid.ADX2", now + 5),  # a later message of the same ad click
        first_message("wamid.ADX1", now),
        automatic_events(conversion("wamid.ADX3", "Purchase", now + 60,
                                    '{"currency":"BRL","value":"99.90"}')),
        automatic_events(conversion("wamid.ADX4", "Purchase", now + 90,
                                    '{"currency":"USD","value":5}')),
        clicks(click("click-9", now + 30)),
    ]  # fmt: skip
    ids = store(db, bodies + bodies[:2])
    seen = set()
    for order in list(permutations(ids[:5]))[::5]:  # 24 of the 120 orders, every body first
        clear_projections(database_url)
        requeue(db, [*order, *ids[5:]])
        drain(db, batch_size=2)
        (row,) = view(database_url, "ad_attribution")
        seen.add(repr(row))
    assert len(seen) == 1
    assert (row["ctwa_clid"], int(row["first_message_at"].timestamp())) == (CLICK, now)
    assert (row["purchases"], row["purchase_value"], row["currency"]) == (
        2,
        None,
        None,
    )  # two currencies
    assert len(view(database_url, "link_clicks")) == 1


def test_stats_counts_what_came_from_ads(cli: Callable[..., Result], db: Database) -> None:
    now = earlier_today(600)
    store(db, [
        first_message("wamid.ADS1", now),
        automatic_events(conversion("wamid.ADS2", "LeadSubmitted", now + 60),
                         conversion("wamid.ADS3", "Purchase", now + 90,
                                    '{"currency":"USD","value":5}')),
    ])  # fmt: skip
    drain(db)
    days = json.loads(cli("stats", "--days", "1", "--json").stdout)["from_ads"]
    assert [(d["conversations"], d["leads"], d["purchases"]) for d in days] == [(1, 1, 1)]
    assert (
        "from ads   1 conversations started, 1 leads, 1 purchases"
        in cli("stats", "--days", "1").stdout
    )


def test_a_hostile_click_id_or_value_fails_nothing(db: Database, database_url: str) -> None:
    long_click = "A" * 4000  # past an index row: never indexed, never attributed
    message = msg("wamid.ADH1", "text", '"text":{"body":"hi"}',
                  '"referral":{"source_id":"1","ctwa_clid":"' + long_click + '"}')  # fmt: skip
    store(db, [
        cloud_message(message),
        automatic_events(conversion("wamid.ADH2", "Purchase", 1750000100,
                                    '{"currency":"USD","value":"1e1000000"}'),
                         conversion("wamid.ADH3", "Purchase", 1750000200,
                                    '{"value":"9999999999999999.99995"}')),
    ])  # fmt: skip
    result = drain(db)
    assert (result.processed, result.failed) == (2, 0)
    values = {r["message_id"]: r["value"] for r in view(database_url, "ad_conversions")}
    assert values == {"wamid.ADH2": None, "wamid.ADH3": None}
    assert view(database_url, "messages_inbound", "message_id = 'wamid.ADH1'")
    assert all(r["ctwa_clid"] != long_click for r in view(database_url, "ad_attribution"))
