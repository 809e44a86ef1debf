"""Groups: every Groups API item kept, each group's state from its successful items, the
same in any arrival order and after re-deliveries."""

from __future__ import annotations

from itertools import permutations
from typing import Any

import pytest

from processors.pipeline.drain import drain
from receiver.db import Database
from tests.corpora.groups import (
    CLEARED,
    CREATED,
    FAILED_CREATE,
    GROUP,
    GROUP_STATE,
    JOINED,
    SETTINGS,
    SUSPENDED,
)
from tests.integration.processing_helpers import clear_projections, requeue, store, view
from tests.support.bodies import T0, earlier_today


def groups_now(url: str) -> tuple[tuple[Any, ...], ...]:
    return tuple(
        (r["group_id"], r["subject"], r["description"], r["state"],
         r["suspended_at"] and int(r["suspended_at"].timestamp()) - T0)
        for r in view(url, "groups", "true ORDER BY group_id")
    )  # fmt: skip


def test_state_comes_from_successful_items_and_a_failed_create_makes_no_group(
    db: Database, database_url: str
) -> None:
    store(db, [CREATED, SETTINGS, SUSPENDED, CLEARED, JOINED, FAILED_CREATE, CREATED])
    drain(db)
    (group,) = view(database_url, "groups")
    expected = {k: v for k, v in GROUP_STATE.items() if not k.endswith("_at")}
    assert {k: group[k] for k in expected} == expected
    assert int(group["created_at"].timestamp()) == GROUP_STATE["created_at"]
    events = view(database_url, "group_events", "true ORDER BY event_at")
    assert len(events) == 6  # the create delivered twice is one event
    assert [e["succeeded"] for e in events if e["group_id"] == "G-NEVER"] == [False]
    assert events[-1]["errors"] == [{"code": 131211, "title": "Group create limit reached"}]


@pytest.mark.slow  # every order
def test_suspend_and_clear_in_any_arrival_order_give_one_state(
    db: Database, database_url: str
) -> None:
    ids = store(db, [CREATED, SUSPENDED, CLEARED, SETTINGS])
    seen = set()
    for order in permutations(ids):
        clear_projections(database_url)
        for raw_event_id in order:
            requeue(db, [raw_event_id])
            drain(db)
        seen.add(groups_now(database_url))
    assert seen == {((GROUP, "Launch crew", None, "active", None),)}


def test_a_later_suspend_wins_over_an_earlier_clear(db: Database, database_url: str) -> None:
    from tests.corpora.groups import groups, item

    store(db, [CREATED, groups("group_status_update", item("group_suspend", T0 + 600)), CLEARED])
    drain(db)
    assert groups_now(database_url) == ((GROUP, "Launch team", None, "suspended", 600),)


def test_participants_join_leave_and_are_removed_the_latest_by_time(
    db: Database, database_url: str
) -> None:
    from tests.corpora.groups import groups, item

    bsuid = "US.13491208655302741918"
    left = groups("group_participants_update", item(
        "group_participants_remove", T0 + 560, '"initiated_by":"participant",'
        '"removed_participants":[{"wa_id":"16505551234","user_id":"' + bsuid + '"}]'))  # fmt: skip
    removed = groups("group_participants_update", item(
        "group_participants_remove", T0 + 570, '"request_id":"R9","initiated_by":"business",'
        '"removed_participants":[{"input":"16505550000"}],'
        '"failed_participants":[{"input":"16505559999","errors":[{"code":131212}]}],'
        '"errors":[{"code":131201,"title":"Not All Participants Remove Succeeded"}]'))  # fmt: skip
    requested = groups("group_participants_update", item(
        "group_join_request_created", T0 + 580,
        '"join_request_id":"J1","wa_id":"16505557777","user_id":"US.77"'))  # fmt: skip
    store(db, [left, JOINED, removed, requested])  # the leave arrives before the join
    drain(db)
    rows = {
        r["participant"]: (r["state"], int(r["since"].timestamp()) - T0, r["initiated_by"])
        for r in view(database_url, "group_participants")
    }
    assert rows == {
        bsuid: ("left", 560, "participant"),  # joined at 540, left at 560
        "16505550000": ("removed", 570, "business"),
        "US.77": ("join_requested", 580, None),
    }  # the participant that failed to be removed is no row


def test_stats_count_username_only_recipients_groups_and_participants(
    db: Database, cli: Any
) -> None:
    import json

    from tests.corpora.groups import group_status, groups, item
    from tests.corpora.identities import BSUID, status
    from tests.support.bodies import cloud, meta

    now = earlier_today(60)
    store(db, [
        status("wamid.U1", "delivered", now, f'"recipient_user_id":"{BSUID}"'),
        status("wamid.P1", "delivered", now, '"recipient_id":"16505550001"'),
        groups("group_lifecycle_update", item("group_create", now, '"subject":"x"')),
        groups("group_status_update", item("group_suspend", now + 1)),
        cloud(meta('"statuses":[' + ",".join([
            group_status("delivered", now, '"recipient_participant_id":"1"'),
            group_status("sent", now, '"recipient_participant_id":"2"'),
        ]) + "]")),
    ])  # fmt: skip
    drain(db)
    people = json.loads(cli("stats", "--days", "1", "--json").stdout)["people_and_groups"]
    assert people == {
        "username_only_messages": 1, "groups_created": 1, "groups_suspended": 1,
        "group_participant_messages": 2, "group_participants_delivered": 1,
        "group_delivered_rate": 0.5,
    }  # fmt: skip
    text = cli("stats", "--days", "1").stdout
    assert (
        "people and groups   1 messages to username-only recipients, 1 groups created,"
        " 1 suspended, group messages delivered to 1 of 2 participants (50.0%)"
    ) in text
