"""Analytics views on a large synthetic history: timings and EXPLAIN plans.

Run with `make bench`; the figures and plans go into the JSON report, with those of the
event lookups (`events list|show`, `messages show`) on the same store (lookup_plans.py).
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

from processors import analytics
from processors import report as report_page
from processors.migrate import migrate
from receiver.config import Secret
from receiver.db import Database
from tests.bench import lookup_plans
from tests.support.servers import create_database, drop_database, postgres_server

# A "last 7 days" question per view, as dashboards ask it.
QUERIES = {
    "delivery_funnel_daily": "SELECT * FROM wabahook.delivery_funnel_daily WHERE day > current_date - 7",
    "delivery_latency_daily": "SELECT * FROM wabahook.delivery_latency_daily WHERE day > current_date - 7",
    "failures_daily": "SELECT * FROM wabahook.failures_daily WHERE day > current_date - 7",
    "conversations_daily": "SELECT * FROM wabahook.conversations_daily WHERE day > current_date - 7",
    "intake_hourly": "SELECT * FROM wabahook.intake_hourly WHERE hour > now() AT TIME ZONE 'UTC' - interval '1 day'",
}

# Statuses spread over a year; a message has sent, then usually delivered and read, or failed.
GENERATE = """
INSERT INTO wabahook.status_event
    (channel, message_id, status, status_at, recipient_id, pricing_category, billable, error_codes,
     payload, raw_event_id, received_at)
SELECT 'ch' || (m %% 5), 'm' || m, s.status, t.sent + s.delay, '49' || (m %% 100000),
       CASE WHEN s.status = 'sent' THEN (ARRAY['marketing','utility','service'])[1 + m %% 3] END,
       CASE WHEN s.status = 'sent' THEN true END,
       CASE WHEN s.status = 'failed' THEN ARRAY[131026] ELSE '{}' END,
       CASE WHEN s.status = 'failed'
            THEN '{"errors":[{"code":131026,"title":"Message undeliverable"}]}'::jsonb
            ELSE '{}'::jsonb END,
       m, t.sent
FROM generate_series(1, %(messages)s) AS m
CROSS JOIN LATERAL (SELECT now() - (m %% 365) * interval '1 day' - (m %% 86400) * interval '1 second' AS sent) t
CROSS JOIN LATERAL (VALUES ('sent', interval '0'), ('delivered', interval '3 seconds'),
                           ('read', interval '10 minutes'), ('failed', interval '2 seconds')) AS s(status, delay)
WHERE s.status = 'sent' OR (m %% 10 = 0) = (s.status = 'failed') AND (s.status <> 'read' OR m %% 3 > 0)
"""
DELIVERIES = """
INSERT INTO wabahook.message_delivery
SELECT (m).* FROM (
    SELECT wabahook.merged_delivery(ROW(channel, message_id,
        CASE WHEN status = 'sent' THEN status_at END, CASE WHEN status = 'delivered' THEN status_at END,
        CASE WHEN status = 'read' THEN status_at END, NULL, CASE WHEN status = 'failed' THEN status_at END,
        NULL, array_position(ARRAY['sent','delivered','read','played'], status)::smallint,
        CASE WHEN status <> 'failed' THEN status_at END,
        CASE WHEN status = 'failed' THEN error_codes ELSE '{}' END,
        recipient_id, wabahook.fact_key(status_at, status), NULL, pricing_category, billable,
        CASE WHEN pricing_category IS NOT NULL THEN wabahook.fact_key(status_at, status) END, status_at,
        -- pricing_model(_key), pricing_type(_key), biz_opaque_callback_data, callback_key,
        -- phone_number_id(_key): the facts 0015_pricing_error_codes.sql added
        NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
        -- recipient_user_id, recipient_parent_user_id, recipient_user_key (0022)
        NULL, NULL, NULL
    )::wabahook.delivery_facts) AS m
    FROM wabahook.status_event GROUP BY channel, message_id
) merged
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--status-events", type=int, default=2_000_000)
    parser.add_argument("--out", type=Path, default=Path("bench-analytics.json"))
    args = parser.parse_args()
    messages = max(1, args.status_events * 10 // 27)  # ~2.7 statuses per message
    with postgres_server() as server:
        name = f"wabahook_bench_{secrets.token_hex(4)}"
        url = create_database(server, name)
        try:
            migrate(url)
            with psycopg.connect(url, autocommit=True) as conn:
                print(f"generating about {args.status_events:,} status events ...", file=sys.stderr)
                started = time.perf_counter()
                conn.execute(GENERATE, {"messages": messages})
                conn.execute(DELIVERIES)
                conn.execute("ANALYZE")
                generated = time.perf_counter() - started
                counts = conn.execute(
                    "SELECT (SELECT count(*) FROM wabahook.status_event),"
                    " (SELECT count(*) FROM wabahook.message_delivery)"
                ).fetchone()
                views: dict[str, Any] = {}
                for view, statement in QUERIES.items():
                    started = time.perf_counter()
                    rows = conn.execute(statement.encode()).fetchall()
                    seconds = time.perf_counter() - started
                    plan = conn.execute(
                        b"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + statement.encode()
                    ).fetchall()
                    views[view] = {
                        "query": statement,
                        "rows": len(rows),
                        "seconds": round(seconds, 3),
                        "plan": [line[0] for line in plan],
                    }
                    print(f"{view}: {seconds:.3f} s", file=sys.stderr)
            print("stats and report over 30 days ...", file=sys.stderr)
            db = Database(Secret(url), application_name="wabahook-bench", timeout=600)
            try:
                started = time.perf_counter()
                summary = analytics.summarize(db, 30)
                stats_seconds = time.perf_counter() - started
                started = time.perf_counter()
                page = report_page.render(summary, analytics.latency_samples(db, 30))
                report_seconds = time.perf_counter() - started
            finally:
                db.close()
            # `events list|show` and `messages show` on the same store (raw events added).
            lookups = lookup_plans.measure(url)
        finally:
            drop_database(server, name)
    assert counts is not None
    report = {
        "benchmark": "analytics",
        "status_events": counts[0],
        "messages": counts[1],
        "generate_seconds": round(generated, 1),
        "stats_30_days_seconds": round(stats_seconds, 3),
        "report_30_days_seconds": round(report_seconds, 3),
        "report_bytes": len(page.encode()),
        "views_last_7_days": views,
        "lookups": lookups,
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k not in ("views_last_7_days", "lookups")}
                     | {v: d["seconds"] for v, d in views.items()}
                     | {f"lookup {c}": d["ms"] for c, d in lookups["lookups"].items()}, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
