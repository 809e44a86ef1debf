-- Statements of `migrate`, `rebuild` and `retention`: the owner's work on the schema.
-- {placeholders} are identifiers (or, for a password, a literal) filled in with psycopg.sql.

-- name: bootstrap
CREATE SCHEMA IF NOT EXISTS wabahook;
CREATE TABLE IF NOT EXISTS wabahook.schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- name: lock_migrations
-- Concurrent migrates queue up here instead of racing.
SELECT pg_advisory_lock(%(key)s);

-- name: unlock_migrations
SELECT pg_advisory_unlock(%(key)s);

-- name: applied_migrations
SELECT version, name, checksum FROM wabahook.schema_migrations;

-- name: record_migration
INSERT INTO wabahook.schema_migrations (version, name, checksum)
VALUES (%(version)s, %(name)s, %(checksum)s);

-- name: existing_roles
SELECT count(*) AS roles FROM pg_roles WHERE rolname = ANY(%(roles)s);

-- name: set_login_password
-- ALTER ROLE takes no parameters: {verifier} is a SCRAM verifier, never the password.
ALTER ROLE {role} LOGIN PASSWORD {verifier};

-- name: grant_projection_tables
-- After sql/roles.sql: the analyst reads the projections' {tables} too.
GRANT SELECT ON {tables} TO wabahook_analyst;

-- name: schema_views
SELECT viewname FROM pg_views WHERE schemaname = 'wabahook';

-- name: drop_view
DROP VIEW IF EXISTS {view} CASCADE;

-- name: function_versions
-- Every function of the schema: its oid, name and the xmin of its pg_proc row. CREATE OR
-- REPLACE writes a new row version even for an unchanged definition, so against a
-- snapshot taken before the transaction wrote any, a changed xmin (or a new oid) says the
-- function was defined again.
SELECT p.oid::bigint, p.proname::text, p.xmin::text FROM pg_catalog.pg_proc p
WHERE p.pronamespace = 'wabahook'::pg_catalog.regnamespace;

-- name: function_signatures
-- The schema's functions among the oids given, as PostgreSQL spells their signatures,
-- aggregates first: an aggregate depends on its state function.
SELECT p.oid::pg_catalog.regprocedure::text FROM pg_catalog.pg_proc p
WHERE p.oid = ANY(%(oids)s::pg_catalog.oid[]) ORDER BY p.prokind <> 'a', p.oid;

-- name: drop_routine
-- The signature is regprocedure's text: PostgreSQL's own, quoted where it must be.
DROP ROUTINE {signature} RESTRICT;

-- name: rebuild_events
-- The raw events a rebuild projects next, in id order. One that overran the batch
-- deadline keeps that rejection without being parsed again (carried_rejection): a
-- rebuild has no watcher to stop a parse that hangs.
SELECT e.id AS raw_event_id, e.received_at, 0 AS attempts, e.channel, e.body, e.body_sha256,
       (SELECT x.error FROM wabahook.event_results x
        WHERE x.raw_event_id = e.id AND x.state = 'rejected'
          AND x.error = 'processing deadline exceeded'
       ) AS carried_rejection
FROM wabahook.raw_events e
WHERE e.id > %(after)s AND e.id <= %(until)s
ORDER BY e.id
LIMIT %(limit)s;

-- name: rebuild_missed_events
-- The raw events the {live} tables have a result for and the {aside} ones lack: ids
-- are given at insert, not at commit, so an event can commit after the window of its
-- id was read, and a drain can project it before the swap.
-- Runs while the swap holds its locks: the results are compared whole (narrow rows),
-- and only the few raw events found are read, each by its key (LATERAL), whatever
-- the planner guesses of the new tables it has no statistics for yet.
SELECT r.id AS raw_event_id, r.received_at, 0 AS attempts, r.channel, r.body, r.body_sha256,
       CASE WHEN l.error = 'processing deadline exceeded' THEN l.error END AS carried_rejection
FROM {live}.event_results l
CROSS JOIN LATERAL (
    SELECT * FROM wabahook.raw_events e
    WHERE e.id = l.raw_event_id AND e.received_at = l.received_at
) r
WHERE NOT EXISTS (SELECT FROM {aside}.event_results a WHERE a.raw_event_id = l.raw_event_id)
ORDER BY r.id;

-- name: drop_schema_if_exists
DROP SCHEMA IF EXISTS {schema} CASCADE;

-- name: create_schema
CREATE SCHEMA {schema};

-- name: create_table_like
CREATE TABLE {table} (LIKE {like} INCLUDING ALL);

-- name: lock_tables
-- Drains wait here until the swap commits, then carry on with the new tables. The gate
-- first: a drain holds it (shared) from its first statement, so the swap waits for the
-- drains under way to end and no drain takes a table lock the swap is waiting for,
-- whatever order each takes its table locks in.
SELECT pg_advisory_xact_lock(hashtext('wabahook.swap'));
LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE;

-- name: move_table
ALTER TABLE {table} SET SCHEMA {schema};

-- name: drop_schema_with_tables
DROP SCHEMA {schema} CASCADE;

-- name: drop_empty_schema
DROP SCHEMA {schema};

-- name: partition_counts
-- A month's events (if %(all)s: not while it is detached, under raw_events' lock), and
-- those of them held back: retention_held's rule for a whole month at once, from the few
-- rows that can hold one (its time's queue rows and deliveries still to make, its events
-- above a raw destination's horizon), each an event of the month still there.
WITH holding (id, received_at) AS (
    SELECT q.raw_event_id, q.received_at FROM wabahook.event_queue q
    WHERE q.received_at >= %(lower)s AND q.received_at < %(upper)s
    UNION
    SELECT d.raw_event_id, d.stored_at FROM wabahook.relay_deliveries d
    JOIN wabahook.destinations t ON t.id = d.destination_id
    WHERE d.stored_at >= %(lower)s AND d.stored_at < %(upper)s AND d.fact_key = ''
      AND d.state IN ('pending', 'retrying') AND d.age_from > now() - t.max_age
    UNION
    SELECT e.id, e.received_at FROM {partition} e
    JOIN wabahook.destinations t
      ON t.format = 'raw' AND e.stored_xid >= t.horizon
     AND e.received_at > now() - t.max_age
     AND (cardinality(t.channels) = 0 OR e.channel = ANY (t.channels))
)
SELECT (SELECT count(*) FROM {partition} WHERE %(all)s) AS events,
       (SELECT count(*) FROM holding h
        WHERE EXISTS (SELECT FROM {partition} e
                      WHERE e.id = h.id AND e.received_at = h.received_at)) AS held;

-- name: local_statement_timeout
-- SET LOCAL with a parameter: the longest each statement of this transaction may run.
SELECT set_config('statement_timeout', %(timeout)s, true);

-- name: local_lock_timeout
-- SET LOCAL with a parameter: the longest this transaction waits for each lock.
SELECT set_config('lock_timeout', %(timeout)s, true);

-- name: detach_partition
ALTER TABLE wabahook.raw_events DETACH PARTITION {partition};

-- name: partition_lock_holder
-- A session holding a lock that detaching %(partition)s needs: on raw_events, that
-- partition or the default one (its constraint changes too). The one in the oldest
-- transaction first: the likeliest to be the long reader in the way.
SELECT l.pid
FROM pg_locks l
LEFT JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.granted
  AND l.pid <> pg_backend_pid()
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.relation IN (
      SELECT 'wabahook.raw_events'::regclass
      UNION ALL
      SELECT c.oid FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'wabahook.raw_events'::regclass
        AND (c.relname = %(partition)s OR pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT'))
ORDER BY a.xact_start NULLS LAST, l.pid
LIMIT 1;

-- name: drop_partition
DROP TABLE {partition};

-- name: present_tables
-- Which of the tables %(tables)s (names in schema wabahook) exist.
SELECT name FROM unnest(%(tables)s::text[]) AS name
WHERE to_regclass(format('wabahook.%%I', name)) IS NOT NULL;

-- name: any_processed_event
SELECT EXISTS (SELECT 1 FROM wabahook.event_results) AS found;

-- name: repeatable_read
-- The first statement of a transaction: one snapshot for all of it.
SET TRANSACTION ISOLATION LEVEL REPEATABLE READ;

-- name: rebuild_dropped_create
CREATE TEMP TABLE rebuild_dropped (raw_event_id bigint PRIMARY KEY, channel text NOT NULL)
ON COMMIT DROP;

-- name: result_bounds
SELECT min(raw_event_id) AS low, max(raw_event_id) AS high FROM {live}.event_results;

-- name: rebuild_dropped_events
-- The raw events with %(after)s < id <= %(until)s that {live} has a result for and that
-- retention has deleted (compared by key: the partition is known by received_at).
INSERT INTO rebuild_dropped (raw_event_id, channel)
SELECT l.raw_event_id, l.channel
FROM {live}.event_results l
WHERE l.raw_event_id > %(after)s AND l.raw_event_id <= %(until)s
  AND NOT EXISTS (SELECT FROM wabahook.raw_events e
                  WHERE e.id = l.raw_event_id AND e.received_at = l.received_at);

-- name: rebuild_dropped_analyze
-- Autovacuum never looks at a temporary table: without statistics, each window of
-- keep_dropped_rows would hash all of it instead of looking its rows up by key.
ANALYZE rebuild_dropped;

-- name: rebuild_dropped_channels
SELECT array_agg(DISTINCT channel) AS channels FROM rebuild_dropped;

-- name: copied_columns
-- A table's columns that an INSERT may name (not the generated ones), in order.
SELECT a.attname AS name
FROM pg_attribute a
WHERE a.attrelid = format('%%I.%%I', %(schema)s::text, %(table)s::text)::regclass
  AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
ORDER BY a.attnum;

-- name: relation_pages
SELECT (pg_relation_size(format('%%I.%%I', %(schema)s::text, %(table)s::text)::regclass)
        / current_setting('block_size')::bigint)::bigint AS pages;

-- name: from_dropped_event
EXISTS (SELECT FROM rebuild_dropped d WHERE d.raw_event_id = l.raw_event_id)

-- name: on_dropped_channel
l.channel = ANY (%(channels)s::text[])

-- name: keep_dropped_rows
-- {origin}: the live rows (of pages %(low)s to %(high)s) that came from deleted events,
-- but those naming what an erasure replaces (wabahook.names_any).
INSERT INTO {aside} ({columns})
SELECT {columns} FROM {live} l
WHERE l.ctid >= %(low)s::tid AND l.ctid < %(high)s::tid
  AND {origin}
  AND NOT (cardinality(%(exact)s::text[]) > 0
           AND wabahook.names_any(to_jsonb(l), %(exact)s::text[], %(words)s::text[]))
ON CONFLICT DO NOTHING;

-- name: pend_kept_links
-- The kept identity links, to be joined into people again.
INSERT INTO {aside}.identity_pending (wa_id, user_id, parent_user_id, previous_wa_id,
                                      previous_user_id, previous_parent_user_id, channel)
SELECT wa_id, user_id, parent_user_id, previous_wa_id, previous_user_id,
       previous_parent_user_id, channel
FROM {aside}.identity_link
ON CONFLICT DO NOTHING;

-- name: detached_months
-- Tables made as months of raw_events that are no longer attached to it (detached by
-- hand, or restored from a dump beside it): nothing reads or rewrites their bodies.
SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS name
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'wabahook' AND c.relkind = 'r' AND NOT c.relispartition
  AND c.relname ~ '^raw_events_[0-9]{4}_[0-9]{2}$'
ORDER BY 1;
