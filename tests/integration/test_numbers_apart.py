"""Several business numbers and WABAs on one channel: the views and summaries keep them apart."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from processors.pipeline.drain import drain
from receiver.db import Database
from tests.integration.processing_helpers import store, view
from tests.support.browser import render

PN_A, WABA_A, DISPLAY_A = "106540352242922", "102290129340398", "15550783881"
PN_B, WABA_B, DISPLAY_B = "107000000000002", "103000000000002", "15557770002"
AT = int(time.time()) // 60 * 60 - 3600  # an hour before the test


def entry(waba: str, field: str, value: str) -> str:
    return f'{{"id":"{waba}","time":{AT},"changes":[{{"field":"{field}","value":{value}}}]}}'


def number_statuses(waba: str, pn: str, display: str, *statuses: str) -> str:
    return entry(
        waba, "messages",
        f'{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"{display}",'
        f'"phone_number_id":"{pn}"}},"statuses":[{",".join(statuses)}]}}',
    )  # fmt: skip


def status(message_id: str, state: str, extra: str = "") -> str:
    return (
        f'{{"id":"{message_id}","status":"{state}","timestamp":"{AT}",'
        f'"recipient_id":"4917000000001"' + (f",{extra}" if extra else "") + "}"
    )


PMP = '"pricing":{"billable":true,"pricing_model":"PMP","category":"%s","type":"regular"}'


def template(waba: str, template_id: int, name: str, event: str) -> str:
    return entry(
        waba, "message_template_status_update",
        f'{{"event":"{event}","message_template_id":{template_id},'
        f'"message_template_name":"{name}","message_template_language":"en_US","reason":"NONE"}}',
    )  # fmt: skip


def body(*entries: str) -> bytes:
    return ('{"object":"whatsapp_business_account","entry":[' + ",".join(entries) + "]}").encode()


# One channel, as a Meta app or a WABA-level webhook delivers it: two numbers of two WABAs,
# some of them in one body.
UNDELIVERABLE = '"errors":[{"code":131026,"title":"Undeliverable"}]'
OPTED_OUT = '"errors":[{"code":131050,"title":"Stopped marketing"}]'
BODIES = [
    body(
        number_statuses(WABA_A, PN_A, DISPLAY_A,
                        status("wamid.a1", "sent", PMP % "marketing"), status("wamid.a1", "read"),
                        status("wamid.a2", "failed", UNDELIVERABLE)),
        number_statuses(WABA_B, PN_B, DISPLAY_B,
                        status("wamid.b1", "sent", PMP % "utility"),
                        status("wamid.b2", "sent", PMP % "utility"),
                        status("wamid.b3", "failed", OPTED_OUT)),
    ),
    body(template(WABA_A, 501, "spring_sale", "PAUSED"),
         template(WABA_B, 502, "receipt", "DISABLED")),
    body(entry(WABA_A, "phone_number_quality_update",
               f'{{"display_phone_number":"{DISPLAY_A}","event":"FLAGGED","current_limit":"TIER_1K"}}'),
         entry(WABA_B, "phone_number_quality_update",
               f'{{"display_phone_number":"{DISPLAY_B}","event":"DOWNGRADE","old_limit":"TIER_10K",'
               '"current_limit":"TIER_1K"}')),
    body(entry(WABA_B, "account_update", '{"event":"ACCOUNT_RESTRICTION"}')),
]  # fmt: skip


@pytest.fixture
def two_numbers(db: Database, database_url: str) -> str:
    store(db, BODIES)
    result = drain(db)
    assert (result.processed, result.failed) == (len(BODIES), 0)
    return database_url


def stats(cli: Callable[..., Result], *args: str) -> dict:  # type: ignore[type-arg]
    result = cli("stats", "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_the_channel_lists_its_numbers_with_their_wabas(two_numbers: str) -> None:
    rows = sorted(view(two_numbers, "phone_numbers"), key=lambda r: r["phone_number_id"])
    assert [(r["channel"], r["phone_number_id"], r["waba_id"], r["display_phone_number"])
            for r in rows] == [("acme", PN_A, WABA_A, DISPLAY_A),
                               ("acme", PN_B, WABA_B, DISPLAY_B)]  # fmt: skip
    assert all(int(r["first_seen_at"].timestamp()) == AT == int(r["last_seen_at"].timestamp())
               for r in rows)  # fmt: skip
    delivery = {r["message_id"]: r["phone_number_id"] for r in view(two_numbers, "delivery_status")}
    assert delivery == {"wamid.a1": PN_A, "wamid.a2": PN_A,
                        "wamid.b1": PN_B, "wamid.b2": PN_B, "wamid.b3": PN_B}  # fmt: skip


def test_the_daily_functions_take_a_number(two_numbers: str) -> None:
    def one(query: str) -> list[tuple]:  # type: ignore[type-arg]
        import psycopg

        with psycopg.connect(two_numbers) as conn:
            return conn.execute(query).fetchall()

    funnel = (
        "SELECT sent, delivered, read, failed FROM wabahook.delivery_funnel_daily_in('UTC', %s)"
    )
    assert one(funnel % f"'{PN_A}'") == [(2, 1, 1, 1)]
    assert one(funnel % f"'{PN_B}'") == [(3, 0, 0, 1)]
    assert one(funnel % "NULL") == [(5, 1, 1, 2)]
    assert one("SELECT sent FROM wabahook.delivery_funnel_daily") == [(5,)]
    assert one(
        f"SELECT error_code FROM wabahook.failures_daily_in('UTC', '{PN_B}')"
    ) == [(131050,)]  # fmt: skip
    assert one(
        f"SELECT pricing_category, messages FROM wabahook.pricing_daily_in('UTC', '{PN_B}')"
    ) == [("utility", 2)]  # fmt: skip


def test_stats_of_one_number(two_numbers: str, cli: Callable[..., Result]) -> None:
    a = stats(cli, "--phone-number-id", PN_A)
    assert a["phone_number_id"] == PN_A
    assert (a["totals"]["sent"], a["totals"]["read"], a["totals"]["failed"]) == (2, 1, 1)
    assert [f["error_code"] for f in a["failures"]] == [131026]
    ops = a["operations"]
    assert [t["template_name"] for t in ops["templates_needing_attention"]] == ["spring_sale"]
    assert [(n["display_phone_number"], n["event"]) for n in ops["phone_number_events"]] == [
        (DISPLAY_A, "FLAGGED")
    ]
    assert ops["account_events"] == []  # the restriction is of the other WABA
    assert ops["opt_outs"]["stopped"] == 0
    assert [(p["pricing_category"], p["messages"]) for p in ops["pricing"]] == [("marketing", 1)]
    assert ops["failure_classes"] == [{"error_class": "undeliverable", "messages": 1}]
    # Intake stays the channel's: one delivery carried both numbers.
    assert a["totals"]["requests"] == len(BODIES)

    b = stats(cli, "--phone-number-id", PN_B, "--channel", "acme")
    assert (b["totals"]["sent"], b["totals"]["failed"]) == (3, 1)
    ops = b["operations"]
    assert [t["template_name"] for t in ops["templates_needing_attention"]] == ["receipt"]
    assert [n["event"] for n in ops["phone_number_events"]] == ["DOWNGRADE"]
    assert [a["event"] for a in ops["account_events"]] == ["ACCOUNT_RESTRICTION"]
    assert ops["opt_outs"] == {"stopped": 1, "stopped_by_error": 1, "resumed": 0}

    both = stats(cli)
    assert both["totals"]["sent"] == 5
    assert len(both["operations"]["templates_needing_attention"]) == 2

    text = cli("stats", "--phone-number-id", PN_B).stdout
    assert f"all channels, phone number id {PN_B}" in text
    assert "receipt (en_US)  DISABLED" in text
    assert "spring_sale" not in text
    assert "intake of the channel" in text


def test_a_number_no_notification_named_is_a_one_line_error(
    two_numbers: str, cli: Callable[..., Result]
) -> None:
    for args in (["--phone-number-id", "999"], ["--phone-number-id", PN_A, "--channel", "other"]):
        result = cli("stats", *args)
        assert result.exit_code == 1
        assert result.output.count("\n") == 1
        assert "named phone number id" in result.output
    result = cli("report", "--phone-number-id", "12a")
    assert result.exit_code == 2
    assert "is not a phone number id" in result.output


@pytest.mark.slow  # Chromium
def test_the_report_of_one_number_in_a_browser(
    two_numbers: str, cli: Callable[..., Result], tmp_path: Path
) -> None:
    out = tmp_path / "report.html"
    result = cli("report", "--out", str(out), "--days", "7", "--phone-number-id", PN_A)
    assert result.exit_code == 0, result.output
    dom, log = render(out)
    assert "Uncaught" not in log
    assert f"phone number id {PN_A} (intake figures: whole channel)" in dom
    assert "<td>spring_sale</td>" in dom
    assert "<td>receipt</td>" not in dom
