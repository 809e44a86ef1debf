"""Event lookups on the analytics bench's large store: wall times and EXPLAIN plans.

`events list --message-id|--wa-id|--since --text`, `events show` and `messages show` (and
the console, which calls the same functions) on the store tests/bench/analytics.py built.
That bench writes projection rows only (status_event, message_delivery); the lookups read
the raw events too, so this adds what a real intake would have stored alongside: the
channels, monthly partitions for the past year, one raw event per message's statuses
(the statuses as a webhook body), a quarter as many inbound messages with their raw
events, a few sender retries of the same bytes and a few rejected bodies, and their
results. Each lookup function is called as the CLI calls it; every statement it sends is
recorded and then run again under EXPLAIN (ANALYZE, BUFFERS) with the same parameters.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import psycopg
from psycopg import sql
from psycopg.rows import DictRow

from processors import lookup
from processors.stored.selection import Selection
from receiver.config import Secret
from receiver.db import SEARCH_PATH, Database
from receiver.queries import query

# Tables (or partitions) with at least this many rows are "big": a Seq Scan there is a finding.
BIG_ROWS = 5_000

CHANNELS = "INSERT INTO wabahook.channels (name) SELECT 'ch' || n FROM generate_series(0, 4) n"
# The store keeps monthly partitions; the bench's history spans a year and a day.
PARTITIONS = """
SELECT wabahook.create_raw_event_partition(
    (date_trunc('month', now() AT TIME ZONE 'UTC') - make_interval(months => k))::date)
FROM generate_series(1, 13) k
"""


def deliveries(value_members: str, rows: str) -> str:
    """INSERT of one Cloud API delivery per row of `rows`, its `value` holding
    `value_members` (jsonb_build_object arguments) besides the number's metadata."""
    return f"""
INSERT INTO wabahook.raw_events (id, channel, received_at, body, body_sha256, content_type, request_id)
SELECT raw_event_id, channel, received_at, body, sha256(body), 'application/json', 'bench-' || raw_event_id
FROM (
    SELECT raw_event_id, channel, received_at, convert_to(jsonb_build_object(
        'object', 'whatsapp_business_account',
        'entry', jsonb_build_array(jsonb_build_object('id', '102290129340398', 'changes',
            jsonb_build_array(jsonb_build_object('field', 'messages', 'value', jsonb_build_object(
                'messaging_product', 'whatsapp',
                'metadata', jsonb_build_object('display_phone_number', '15550783881',
                                               'phone_number_id', '106540352242922'),
                {value_members}))))))::text, 'UTF8') AS body
    FROM {rows}
) b
"""


# One delivery per message carrying its statuses (raw_event_id = m in the bench).
STATUS_EVENTS = deliveries(
    "'statuses', statuses",
    """(SELECT raw_event_id, channel, received_at,
                 jsonb_agg(jsonb_build_object(
                     'id', message_id, 'status', status,
                     'timestamp', extract(epoch FROM status_at)::bigint::text,
                     'recipient_id', recipient_id) ORDER BY status_at) AS statuses
          FROM wabahook.status_event GROUP BY raw_event_id, channel, received_at) s""",
)
# Inbound messages from the same customers ('49' || n), ids after the status events'.
INBOUND = """
INSERT INTO wabahook.inbound_message
    (channel, message_id, wa_id, type, sent_at, phone_number_id, text, payload, raw_event_id, received_at)
SELECT 'ch' || (k %% 5), 'in' || k, '49' || (k %% 100000), 'text', t.at, '106540352242922',
       'hello ' || k, jsonb_build_object('from', '49' || (k %% 100000), 'id', 'in' || k,
                                         'type', 'text', 'text', jsonb_build_object('body', 'hello ' || k)),
       %(base)s + k, t.at
FROM generate_series(1, %(count)s) k
CROSS JOIN LATERAL (SELECT now() - (k %% 365) * interval '1 day' - (k * 7 %% 86400) * interval '1 second' AS at) t
"""
INBOUND_EVENTS = deliveries(
    """'contacts', jsonb_build_array(jsonb_build_object(
                    'profile', jsonb_build_object('name', 'Customer ' || wa_id), 'wa_id', wa_id)),
                'messages', jsonb_build_array(payload)""",
    "wabahook.inbound_message",
)
# Sender retries: 1 % of deliveries arrive again, same bytes, 30 s later.
RETRIES = """
INSERT INTO wabahook.raw_events (id, channel, received_at, body, body_sha256, content_type, request_id)
SELECT %(base)s + row_number() OVER (ORDER BY id), channel, received_at + interval '30 seconds',
       body, body_sha256, content_type, 'bench-retry-' || id
FROM wabahook.raw_events WHERE id %% 100 = 7
"""
REJECTED = """
INSERT INTO wabahook.raw_events (id, channel, received_at, body, body_sha256, content_type, request_id)
SELECT %(base)s + k, 'ch' || (k %% 5), now() - k * interval '1 hour', b, sha256(b), 'text/plain',
       'bench-rejected-' || k
FROM generate_series(1, 100) k CROSS JOIN LATERAL (SELECT convert_to('not json ' || k, 'UTF8') AS b) x
"""
RESULTS = """
INSERT INTO wabahook.event_results (raw_event_id, channel, received_at, state, error, format, processed_at)
SELECT id, channel, received_at,
       CASE WHEN content_type = 'text/plain' THEN 'rejected' ELSE 'processed' END,
       CASE WHEN content_type = 'text/plain' THEN 'not JSON' END,
       CASE WHEN content_type <> 'text/plain' THEN 'whatsapp' END,
       received_at + interval '1 second'
FROM wabahook.raw_events
"""

_SCAN = re.compile(
    r"((?:Parallel )?(?:Seq Scan|Index Only Scan(?: Backward)?|Index Scan(?: Backward)?"
    r"|Bitmap Heap Scan))(?: using \S+)? on (\S+)"
)


def populate(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """Add the raw events and inbound messages the lookups read; their counts."""
    started = time.perf_counter()
    top = conn.execute(
        "SELECT coalesce(max(raw_event_id), 0) FROM wabahook.status_event"
    ).fetchone()
    assert top is not None
    statuses_top = int(top[0])
    conn.execute(CHANNELS)
    conn.execute(PARTITIONS)
    conn.execute(STATUS_EVENTS)
    conn.execute(INBOUND, {"base": statuses_top, "count": max(1, statuses_top // 4)})
    conn.execute(INBOUND_EVENTS)
    conn.execute(RETRIES, {"base": statuses_top * 2})
    conn.execute(REJECTED, {"base": statuses_top * 3})
    conn.execute(RESULTS)
    conn.execute(
        "SELECT setval('wabahook.raw_events_id_seq', (SELECT max(id) FROM wabahook.raw_events))"
    )
    conn.execute("ANALYZE")
    counts = conn.execute(
        "SELECT (SELECT count(*) FROM wabahook.raw_events),"
        " (SELECT count(*) FROM wabahook.raw_events_default),"
        " (SELECT count(*) FROM wabahook.inbound_message),"
        " (SELECT count(*) FROM wabahook.event_results WHERE state = 'rejected')"
    ).fetchone()
    assert counts is not None
    return {
        "raw_events": counts[0],
        "raw_events_in_default_partition": counts[1],
        "inbound_messages": counts[2],
        "rejected_events": counts[3],
        "generate_seconds": round(time.perf_counter() - started, 1),
    }


class _Recording:
    """A connection that notes every statement and its parameters before running it."""

    def __init__(self, conn: psycopg.Connection[DictRow], log: list[tuple[Any, Any]]) -> None:
        self._conn = conn
        self._log = log

    def execute(self, statement: Any, params: Any = None, **kwargs: Any) -> Any:
        self._log.append((statement, params))
        return self._conn.execute(statement, params, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


class RecordingDatabase(Database):
    """A Database whose connections record what the lookup functions send."""

    def __init__(self, url: str) -> None:
        super().__init__(Secret(url), application_name="wabahook-bench-lookup", timeout=600)
        self.log: list[tuple[Any, Any]] = []

    @contextmanager
    def connection(self, timeout: float | None = None) -> Iterator[psycopg.Connection[DictRow]]:
        with super().connection(timeout) as conn:
            yield cast("psycopg.Connection[DictRow]", _Recording(conn, self.log))


def _known_statements() -> list[tuple[str, sql.Composable]]:
    """(name, statement) of everything processors/lookup.py may send."""
    names = [
        "lookup_events", "lookup_fact_events", "lookup_related_events", "lookup_event",
        "lookup_same_bytes", "lookup_message_channels", "lookup_message_statuses",
        "lookup_delivery_status", "lookup_inbound_message", "lookup_message_changes",
        "lookup_message_echo",
    ]  # fmt: skip
    known: list[tuple[str, sql.Composable]] = [(name, query(name)) for name in names]
    for view, _, _ in lookup.PROJECTED_VIEWS:
        statement = query("lookup_rows_in_view").format(view=sql.Identifier(view))
        known.append((f"lookup_rows_in_view({view})", statement))
    union = sql.SQL(" UNION ALL ").join(
        query("lookup_counts_in_view").format(view=sql.Identifier(view), label=sql.Literal(view))
        for view, _, _ in lookup.PROJECTED_VIEWS
    )
    known.append(
        (f"lookup_counts_in_view (UNION ALL of {len(lookup.PROJECTED_VIEWS)} views)", union)
    )
    return known


def _name(statement: Any, known: list[tuple[str, sql.Composable]]) -> str:
    return next((name for name, candidate in known if candidate == statement), "unnamed statement")


def _scans(plan: list[str], rows: Mapping[str, float]) -> dict[str, list[str]]:
    """The tables a plan reads by index, by Seq Scan when big, and by Seq Scan when small.

    A table all of whose scans of a kind were never executed is marked so.
    """
    seen: dict[tuple[str, str], bool] = {}  # (kind, table): executed at least once
    for line in plan:
        for kind, table in _SCAN.findall(line):
            if "Seq Scan" not in kind:
                bucket = "index"
            else:
                bucket = "seq_big" if rows.get(table, 0.0) >= BIG_ROWS else "seq_small"
            key = (bucket, table)
            seen[key] = seen.get(key, False) or "never executed" not in line
    found: dict[str, list[str]] = {"index": [], "seq_big": [], "seq_small": []}
    for (bucket, table), executed in sorted(seen.items()):
        size = f" (~{int(rows.get(table, 0.0)):,} rows)" if bucket != "index" else ""
        found[bucket].append(f"{table}{size}{'' if executed else ' (never executed)'}")
    return found


def _pick(conn: psycopg.Connection[Any], statement: str) -> Any:
    row = conn.execute(statement.encode()).fetchone()
    assert row is not None, statement
    return row[0]


def measure(url: str) -> dict[str, Any]:
    """Populate the raw side of the store, then time and explain each lookup."""
    with psycopg.connect(url, autocommit=True) as conn:
        print("raw events and inbound messages for the lookups ...", file=sys.stderr)
        store = populate(conn)
        # Existing keys, picked as an operator would paste them.
        message_id = _pick(
            conn,
            "SELECT message_id FROM wabahook.status_event WHERE status = 'read'"
            " ORDER BY raw_event_id LIMIT 1 OFFSET (SELECT count(*) / 4 FROM wabahook.message_delivery)",
        )
        wa_id = _pick(
            conn, "SELECT wa_id FROM wabahook.inbound_message ORDER BY raw_event_id LIMIT 1"
        )
        recent = conn.execute(
            "SELECT recipient_id FROM wabahook.status_event"
            " WHERE received_at >= now() - interval '1 hour' ORDER BY received_at DESC LIMIT 1"
        ).fetchone()
        text = recent[0] if recent else "hello"
        event_id = _pick(
            conn,
            "SELECT id FROM wabahook.raw_events WHERE id % 100 = 7 AND content_type = 'application/json'"
            " ORDER BY id LIMIT 1 OFFSET 10",
        )
        outbound_id = _pick(
            conn,
            "SELECT message_id FROM wabahook.message_delivery WHERE failed_at IS NOT NULL"
            " ORDER BY message_id LIMIT 1",
        )
        # Each partition by its own rows: an empty month costs nothing to scan.
        rows = {
            name: float(count)
            for name, count in conn.execute(
                "SELECT c.relname, greatest(c.reltuples, 0) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'wabahook' AND c.relkind = 'r'"
            ).fetchall()
        }

    since = datetime.now(UTC) - timedelta(hours=1)
    cases: dict[str, Callable[[Database], Any]] = {
        f"events list --message-id {message_id}": lambda db: lookup.list_events(
            db, Selection(), lookup.EventSearch(message_id=message_id)
        ),
        f"events list --wa-id {wa_id}": lambda db: lookup.list_events(
            db, Selection(), lookup.EventSearch(wa_id=wa_id)
        ),
        f"events list --since 1h --text {text}": lambda db: lookup.list_events(
            db, Selection(since=since), lookup.EventSearch(text=text)
        ),
        f"events show {event_id}": lambda db: lookup.show_event(db, event_id),
        f"messages show {outbound_id}": lambda db: lookup.message_timelines(db, outbound_id, None),
    }
    known = _known_statements()
    results: dict[str, Any] = {}
    db = RecordingDatabase(url)
    try:
        with db.connection() as warm:  # the pool's first connection is not the lookup's time
            warm.execute("SELECT 1")
        with psycopg.connect(url, autocommit=True, options=f"-c search_path={SEARCH_PATH}") as conn:
            for command, call in cases.items():
                db.log.clear()
                started = time.perf_counter()
                found = call(db)
                first_ms = (time.perf_counter() - started) * 1000
                statements = list(db.log)
                started = time.perf_counter()
                call(db)
                again_ms = (time.perf_counter() - started) * 1000
                explained = []
                for statement, params in statements:
                    explain = sql.SQL("EXPLAIN (ANALYZE, BUFFERS) ") + statement
                    plan = [line[0] for line in conn.execute(explain, params).fetchall()]
                    scans = _scans(plan, rows)
                    explained.append(
                        {
                            "query": _name(statement, known),
                            "params": {k: _shown(v) for k, v in (params or {}).items()},
                            "index_scans_on": scans["index"],
                            "seq_scans_on_big_tables": scans["seq_big"],
                            "seq_scans_on_small_tables": scans["seq_small"],
                            "plan": plan,
                        }
                    )
                seq_big = sorted({f"{s['query']}: {t}" for s in explained
                                  for t in s["seq_scans_on_big_tables"]})  # fmt: skip
                results[command] = {
                    "queries": [s["query"] for s in explained],
                    "ms": round(first_ms, 1),
                    "ms_again": round(again_ms, 1),
                    "found": len(found) if isinstance(found, list) else int(found is not None),
                    "seq_scans_on_big_tables": seq_big,
                    "statements": explained,
                }
                scan = (
                    f"SEQ SCAN on big table: {'; '.join(seq_big)}"
                    if seq_big
                    else "index scans only"
                )
                print(
                    f"lookup {command}: {first_ms:.1f} ms (again {again_ms:.1f} ms),"
                    f" {len(explained)} statements, {scan}",
                    file=sys.stderr,
                )
    finally:
        db.close()
    note = (
        "The analytics bench stores projection rows only; for these lookups the bench adds"
        " channels ch0-ch4, monthly raw_events partitions for the past 13 months, one raw"
        " event per message carrying its statuses, inbound messages (a quarter as many as"
        " messages) with their raw events, 1 % sender retries of the same bytes, 100"
        " rejected bodies and an event_results row per event. Tables it leaves empty"
        " (message_change, message_echo, template/account/number/call events, preferences,"
        " notification errors, contacts) are read in the plans but hold nothing. 'ms' is the"
        " first call of the lookup function (pool already connected), 'ms_again' a second;"
        " the plans are custom plans for these parameter values, as psycopg's unprepared"
        " statements get (a statement psycopg prepares after 5 runs on one connection may"
        " later get a generic plan, which this does not show)."
    )
    return {"note": note, "store": store, "big_table_rows": BIG_ROWS, "lookups": results}


def _shown(value: Any) -> Any:
    """A parameter as JSON can hold it."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list):
        return [_shown(v) for v in value[:20]] + (
            [f"... {len(value)} in all"] if len(value) > 20 else []
        )
    if isinstance(value, datetime):
        return value.isoformat()
    return value
