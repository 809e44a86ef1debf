"""Operations data as a person and on-call see it: stats, report, worker metrics, alert rules."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import Result

from processors.analytics import summarize
from processors.metrics import OPERATIONS_GAUGES, OperationsCollector
from processors.pipeline.drain import drain
from receiver.db import Database
from tests.integration.processing_helpers import store
from tests.support.browser import render

ROOT = Path(__file__).resolve().parents[2]
WABA = "102290129340398"
PN = "106540352242922"
NOW = int(time.time()) // 60 * 60  # every body below happened an hour before the test
AN_HOUR_AGO = NOW - 3600


def change(field: str, value: str, at: int = AN_HOUR_AGO) -> bytes:
    """A Cloud body with one management change at `at` (entry.time)."""
    return (
        f'{{"object":"whatsapp_business_account","entry":[{{"id":"{WABA}","time":{at},'
        f'"changes":[{{"value":{value},"field":"{field}"}}]}}]}}'
    ).encode()


def statuses(*items: str) -> bytes:
    """A Cloud `messages` change with status objects (JSON text)."""
    metadata = f'"metadata":{{"display_phone_number":"15550783881","phone_number_id":"{PN}"}}'
    return change(
        "messages", f'{{"messaging_product":"whatsapp",{metadata},"statuses":[{",".join(items)}]}}'
    )


def status(message_id: str, state: str, recipient: str, extra: str = "") -> str:
    return (
        f'{{"id":"{message_id}","status":"{state}","timestamp":"{AN_HOUR_AGO}",'
        f'"recipient_id":"{recipient}"' + (f",{extra}" if extra else "") + "}"
    )


def pmp(category: str, kind: str) -> str:
    return (
        f'"pricing":{{"billable":true,"pricing_model":"PMP","category":"{category}",'
        f'"type":"{kind}"}}'
    )


def template(field: str, template_id: int, name: str, rest: str) -> bytes:
    return change(
        field,
        f'{{"message_template_id":{template_id},"message_template_name":"{name}",'
        f'"message_template_language":"en_US",{rest}}}',
    )


BODIES = [
    template("message_template_status_update", 1001, "spring_sale",
             '"event":"PAUSED","reason":"NONE","message_template_category":"MARKETING",'
             '"other_info":{"title":"FIRST_PAUSE","description":"Paused for 3 hours"}'),
    template("message_template_status_update", 1002, "welcome",
             '"event":"APPROVED","reason":"NONE","message_template_category":"UTILITY"'),
    template("message_template_quality_update", 1003, "receipt",
             '"previous_quality_score":"GREEN","new_quality_score":"YELLOW"'),
    change("phone_number_quality_update",
           '{"display_phone_number":"15550783881","event":"FLAGGED","current_limit":"TIER_10K"}'),
    change("phone_number_quality_update",
           '{"display_phone_number":"15550783881","event":"DOWNGRADE","old_limit":"TIER_10K",'
           '"current_limit":"TIER_1K"}'),
    change("account_update",
           '{"phone_number":"15550783881","event":"ACCOUNT_RESTRICTION","restriction_info":'
           '[{"restriction_type":"RESTRICTED_ADD_PHONE_NUMBER_ACTION","expiration":1900000000}]}'),
    change("account_alerts",
           f'{{"entity_type":"WABA","entity_id":"{WABA}","alert_info":'
           '{"alert_severity":"CRITICAL","alert_status":"ACTIVE","alert_type":"OBA_APPROVED",'
           '"alert_description":"Payment failed"}}'),
    change("user_preferences",
           f'{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"15550783881",'
           f'"phone_number_id":"{PN}"}},"contacts":[{{"profile":{{"name":"A"}},"wa_id":"4911"}}],'
           f'"user_preferences":[{{"wa_id":"4911",'
           f'"detail":"User requested to stop marketing messages",'
           f'"category":"marketing_messages","value":"stop","timestamp":{AN_HOUR_AGO}}}]}}'),
    statuses(
        status("out-1", "sent", "4920", pmp("marketing", "regular")),
        status("out-2", "sent", "4921", pmp("utility", "regular")),
        status("out-3", "sent", "4922", pmp("service", "free_customer_service")),
        status("out-4", "failed", "4912",
               '"errors":[{"code":131050,"title":"User stopped marketing messages"}]'),
    ),
]  # fmt: skip


@pytest.fixture
def operations_db(db: Database, database_url: str) -> str:
    store(db, BODIES)
    result = drain(db)
    assert (result.processed, result.failed, result.rejected) == (len(BODIES), 0, 0)
    return database_url


def test_the_summary_has_the_hand_computed_operations(operations_db: str, db: Database) -> None:
    ops = summarize(db, days=7).operations
    # Both changed at the same time: ordered by template id then.
    assert [(t["template_name"], t["status"], t["quality"]) for t in ops.templates] == [
        ("spring_sale", "PAUSED", None), ("receipt", None, "YELLOW")
    ]  # fmt: skip
    assert sorted((n["event"], n["old_limit"], n["current_limit"]) for n in ops.numbers) == [
        ("DOWNGRADE", "TIER_10K", "TIER_1K"), ("FLAGGED", None, "TIER_10K")
    ]  # fmt: skip
    assert sorted((a["field"], a["event"], a["severity"]) for a in ops.accounts) == [
        ("account_alerts", "OBA_APPROVED", "CRITICAL"),
        ("account_update", "ACCOUNT_RESTRICTION", None),
    ]
    assert ops.opt_outs == {"stopped": 2, "stopped_by_error": 1, "resumed": 0}
    assert ops.pricing_totals == [
        {"pricing_category": "marketing", "pricing_type": "regular", "messages": 1},
        {"pricing_category": "service", "pricing_type": "free_customer_service", "messages": 1},
        {"pricing_category": "utility", "pricing_type": "regular", "messages": 1},
    ]
    assert ops.failure_classes == [{"error_class": "opt_out", "messages": 1}]


def test_stats_shows_what_to_act_on(
    operations_db: str, cli: Callable[..., Result], db: Database
) -> None:
    text = cli("stats").stdout
    assert re.search(
        r"templates needing attention\n  TEMPLATE .*\n.*spring_sale \(en_US\)\s+PAUSED", text
    )
    assert re.search(r"receipt \(en_US\)\s+quality YELLOW", text)
    assert re.search(r"15550783881\s+DOWNGRADE TIER_10K → TIER_1K", text)
    assert re.search(r"account_update ACCOUNT_RESTRICTION", text)
    assert "account_alerts OBA_APPROVED [CRITICAL]  Payment failed" in text
    assert "marketing opt-outs  2 stopped (1 seen as error 131050), 0 resumed" in text
    assert re.search(r"1\s+service / free_customer_service", text)
    assert re.search(r"failures by class\n\s+MESSAGES\s+CLASS\n\s+1\s+opt_out", text)
    data = json.loads(cli("stats", "--json").stdout)["operations"]
    assert data["opt_outs"] == {"stopped": 2, "stopped_by_error": 1, "resumed": 0}
    assert len(data["templates_needing_attention"]) == 2
    store(db, [], channel="nobody")  # a channel with nothing stored
    other = json.loads(cli("stats", "--json", "--channel", "nobody").stdout)["operations"]
    assert other["templates_needing_attention"] == []
    assert other["opt_outs"]["stopped"] == 0


def test_stats_of_an_empty_database_has_no_operations_sections(cli: Callable[..., Result]) -> None:
    text = cli("stats").stdout
    assert "templates needing attention" not in text
    assert "opt-outs" not in text


@pytest.mark.slow  # Chromium
def test_the_report_shows_operations_in_a_browser(
    operations_db: str, cli: Callable[..., Result], tmp_path: Path
) -> None:
    out = tmp_path / "report.html"
    assert cli("report", "--out", str(out), "--days", "7").exit_code == 0
    dom, log = render(out)
    assert "Uncaught" not in log
    for title in (
        "Templates needing attention",
        "Phone number quality and limit changes",
        "Account alerts and restrictions",
        "Marketing opt-outs",
        "Outbound messages by pricing category and type",
        "Failures by error class",
    ):
        assert title in dom, title  # fmt: skip
    assert re.search(r"<td>spring_sale</td><td>en_US</td><td>PAUSED</td>", dom)
    assert "<td>RESTRICTED_ADD_PHONE_NUMBER_ACTION</td>" in dom
    assert "service / free_customer_service" in dom  # a legend entry of the pricing chart


def test_worker_gauges_count_what_on_call_pages_on(operations_db: str, db: Database) -> None:
    gauges = {m.name: m.samples[0].value for m in OperationsCollector(db).collect()}
    assert gauges == {
        "wabahook_templates_paused": 1,
        "wabahook_templates_disabled": 0,
        "wabahook_templates_rejected": 0,
        "wabahook_templates_quality_red": 0,
        "wabahook_templates_recategorisation_announced": 0,
        "wabahook_phone_numbers_flagged_last_day": 1,
        "wabahook_phone_numbers_downgraded_last_day": 1,
        "wabahook_account_restrictions_last_day": 2,
        "wabahook_marketing_opt_outs_last_day": 2,
        "wabahook_marketing_messages_last_day": 1,
    }


def test_every_operations_gauge_has_an_alert_or_a_panel_and_nothing_else_is_named() -> None:
    rules = yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yml").read_text())
    (group,) = [g for g in rules["groups"] if g["name"] == "wabahook-operations"]
    alerted = set(re.findall(r"wabahook_\w+", " ".join(r["expr"] for r in group["rules"])))
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "wabahook.json").read_text())
    charted = set(
        re.findall(
            r"wabahook_\w+", " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
        )
    )
    names = {name for _, name, _ in OPERATIONS_GAUGES}
    assert alerted <= names  # no rule waits for a metric nobody serves
    assert names <= alerted | charted


@pytest.mark.slow  # Chromium
def test_a_senders_template_name_is_text_in_the_report(
    db: Database, cli: Callable[..., Result], tmp_path: Path
) -> None:
    name = '<img src=x onerror=\\"document.title=1\\">'
    store(db, [template("message_template_status_update", 9, name, '"event":"DISABLED"')])
    drain(db)
    out = tmp_path / "report.html"
    assert cli("report", "--out", str(out)).exit_code == 0
    dom, log = render(out)
    assert "Uncaught" not in log
    assert "<img" not in dom.split("<body")[1]  # no element made of it
    assert '&lt;img src=x onerror="document.title=1"&gt;' in dom  # shown as written


def test_an_announced_recategorisation_and_an_offboarding_page_on_call(
    db: Database, cli: Callable[..., Result]
) -> None:
    store(db, [
        template("template_category_update", 77, "welcome",
                 f'"new_category":"UTILITY","correct_category":"MARKETING",'
                 f'"category_update_timestamp":{AN_HOUR_AGO + 86400}'),
        change("account_update", '{"event":"ACCOUNT_OFFBOARDED"}'),
    ])  # fmt: skip
    drain(db)
    gauges = {m.name: m.samples[0].value for m in OperationsCollector(db).collect()}
    assert gauges["wabahook_templates_recategorisation_announced"] == 1
    assert gauges["wabahook_account_restrictions_last_day"] == 1
    attention = json.loads(cli("stats", "--json").stdout)["operations"][
        "templates_needing_attention"
    ]
    assert [(t["template_name"], t["pending_category"]) for t in attention] == [
        ("welcome", "MARKETING")
    ]
