-- name: claim_events
-- Claims up to %(limit)s due events; other workers skip them (SKIP LOCKED).
WITH claimed AS (
    SELECT raw_event_id, received_at, attempts
    FROM wabahook.event_queue
    WHERE not_before <= now()
    ORDER BY raw_event_id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
SELECT c.raw_event_id, c.received_at, c.attempts, r.channel, r.body, r.body_sha256
FROM claimed c
LEFT JOIN wabahook.raw_events r ON r.id = c.raw_event_id AND r.received_at = c.received_at
ORDER BY c.raw_event_id;

-- name: any_erasure
-- Whether redact_redeliveries can find anything: planning it costs ten times this.
SELECT EXISTS (SELECT FROM wabahook.erasure_event WHERE redacted_sha256 <> original_sha256) AS found;

-- name: redact_redeliveries
-- A sender's retry of a delivery an erasure rewrote: the same bytes again, stored as
-- they came. Rewritten to what the erasure made of them before anything reads them.
-- (Nothing to look up when there never was an erasure: a one-time check.)
UPDATE wabahook.raw_events r
SET body = x.body, body_sha256 = pg_catalog.sha256(x.body), redacted_at = now()
FROM (
    SELECT e.id, e.received_at, wabahook.erased_body(e.body_sha256) AS body
    FROM wabahook.raw_events e
    -- Matched as a set first: the function runs only for the bytes an erasure rewrote.
    JOIN (SELECT DISTINCT original_sha256 FROM wabahook.erasure_event
          WHERE redacted_sha256 <> original_sha256) ee ON ee.original_sha256 = e.body_sha256
    WHERE (SELECT EXISTS (SELECT FROM wabahook.erasure_event))
      AND e.id = ANY(%(ids)s) AND e.received_at BETWEEN %(since)s AND %(until)s
) x
WHERE x.body IS NOT NULL AND r.id = x.id AND r.received_at = x.received_at
RETURNING r.id AS raw_event_id, r.body, r.body_sha256;

-- name: events_due
-- Whether a drain would find work now (locked rows count too: someone drains them).
SELECT EXISTS (SELECT FROM wabahook.event_queue WHERE not_before <= now()) AS due;

-- name: claim_event
-- One queued event, waiting for its lock: the batch deadline's rejection, taken once the
-- killed drain that held it has been rolled back.
SELECT q.raw_event_id, q.received_at, q.attempts, r.channel
FROM wabahook.event_queue q
LEFT JOIN wabahook.raw_events r ON r.id = q.raw_event_id AND r.received_at = q.received_at
WHERE q.raw_event_id = %(id)s
FOR UPDATE OF q;

-- name: swap_gate
-- Taken first by every drain transaction, until it ends: a rebuild's swap takes it
-- exclusively before it locks the tables it swaps (lock_tables).
SELECT pg_advisory_xact_lock_shared(hashtext('wabahook.swap'));

-- name: create_stage_tables
CREATE TEMP TABLE IF NOT EXISTS stage_doc (
    raw_event_id bigint PRIMARY KEY, channel text, received_at timestamptz,
    body_sha256 bytea, doc jsonb
) ON COMMIT DELETE ROWS;
-- Each staged item's JSON, read out of its document once (wabahook.document_items).
CREATE TEMP TABLE IF NOT EXISTS stage_payload (
    raw_event_id bigint, path text, payload jsonb, PRIMARY KEY (raw_event_id, path)
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_person_changed (
    component bigint, raw_event_id bigint, channel text
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_result (
    raw_event_id bigint, channel text, received_at timestamptz, state text, error text,
    format text, attempts integer, notes jsonb
) ON COMMIT DELETE ROWS;
-- Tries one statement (a format() template, isolation_statement, given a group's event
-- ids as its literal) for each group in its own subtransaction; returns the groups that
-- failed, and why. One call per level of failure isolation, not a round trip per group.
CREATE OR REPLACE FUNCTION pg_temp.wabahook_try_groups(statement text, groups jsonb)
RETURNS TABLE (group_no integer, error_state text, error_message text)
LANGUAGE plpgsql AS $fn$
DECLARE
    ids bigint[];
BEGIN
    group_no := 0;
    FOR ids IN
        SELECT ARRAY(SELECT jsonb_array_elements_text(g.value)::bigint)
        FROM jsonb_array_elements(groups) WITH ORDINALITY AS g(value, n)
        ORDER BY g.n
    LOOP
        BEGIN
            EXECUTE format(statement, ids);
        EXCEPTION WHEN OTHERS THEN
            error_state := SQLSTATE;
            error_message := SQLERRM;
            RETURN NEXT;
        END;
        group_no := group_no + 1;
    END LOOP;
END
$fn$

-- name: try_groups
SELECT group_no AS position, error_state AS sqlstate, error_message AS message
FROM pg_temp.wabahook_try_groups(%(statement)s, %(groups)s);

-- name: prepare_isolation
-- The projections of a group, planned once for all of them ($1: the group's event ids):
-- each group's own EXECUTE of the statement would plan it again, about 10 ms each.
-- (A batch that failed after this left it behind: made anew.)
DO $$ BEGIN
    IF EXISTS (SELECT FROM pg_prepared_statements WHERE name = 'wabahook_isolate') THEN
        DEALLOCATE wabahook_isolate;
    END IF;
END $$;
SET LOCAL plan_cache_mode = force_generic_plan;
PREPARE wabahook_isolate(bigint[]) AS {statement};

-- name: isolation_statement
-- What the loop of try_groups runs for a group: format() puts its ids in as a literal.
EXECUTE wabahook_isolate(%L)

-- name: deallocate_isolation
DEALLOCATE wabahook_isolate;
SET LOCAL plan_cache_mode TO DEFAULT;

-- name: index_stage_table
-- Before isolating failures: the small groups then look their few rows up instead of
-- scanning whole staging tables (run for each projection's {table}).
CREATE INDEX IF NOT EXISTS {index} ON {table} (raw_event_id);

-- name: clear_stage_payload
-- DELETE, not TRUNCATE, for every staging table: they are mostly empty already (they
-- empty at each commit), and TRUNCATE gives a table a new file, about 1 ms each.
DELETE FROM stage_payload;

-- name: stage_payloads
-- Every staged item's JSON, each document opened once; the paths: of the staged items.
INSERT INTO stage_payload (raw_event_id, path, payload)
SELECT d.raw_event_id, i.path, i.item
FROM (SELECT raw_event_id, array_agg(DISTINCT path) AS paths
      FROM ({paths}) p WHERE path IS NOT NULL GROUP BY raw_event_id) p
JOIN stage_doc d USING (raw_event_id)
CROSS JOIN LATERAL wabahook.document_items(d.doc, p.paths) i;

-- name: analyze_stage_tables
-- Temporary tables have no statistics until analyzed; {tables}: the projections' ones.
ANALYZE stage_doc, {tables};

-- name: unindex_stage_table
-- After isolating failures: clean batches stage faster without these indexes.
DROP INDEX IF EXISTS {index};

-- name: clear_item_stage
-- Before staging one event again (its document stays staged).
DELETE FROM {table};

-- name: truncate_stage_tables
-- Between batches staged in one transaction (a rebuild's catch-up): DELETE would leave
-- each batch's rows, dead, for every later batch to scan.
TRUNCATE stage_doc, stage_result, stage_payload, {tables};

-- name: clear_batch_stage
-- The staging tables not of a projection (with clear_item_stage for those).
DELETE FROM stage_doc; DELETE FROM stage_result; DELETE FROM stage_payload;

-- name: load_docs
-- PostgreSQL parses the stored bytes itself: payloads are never re-serialised.
INSERT INTO stage_doc (raw_event_id, channel, received_at, body_sha256, doc)
SELECT id, channel, received_at, body_sha256, wabahook.body_json(body)
FROM wabahook.raw_events
WHERE id = ANY(%(ids)s) AND received_at BETWEEN %(since)s AND %(until)s;

-- name: load_docs_checked
-- After load_docs failed: loads the bodies jsonb takes, and returns why it refuses the others.
WITH checked AS (
    SELECT id, channel, received_at, body_sha256, body, wabahook.body_json_error(body) AS error
    FROM wabahook.raw_events
    WHERE id = ANY(%(ids)s) AND received_at BETWEEN %(since)s AND %(until)s
), loaded AS (
    INSERT INTO stage_doc (raw_event_id, channel, received_at, body_sha256, doc)
    SELECT id, channel, received_at, body_sha256, wabahook.body_json(body)
    FROM checked WHERE error IS NULL
)
SELECT id AS raw_event_id, error FROM checked WHERE error IS NOT NULL;

-- name: record_results
-- From stage_result, filled by COPY.
INSERT INTO {projections}.event_results AS t
    (raw_event_id, channel, received_at, state, error, format, attempts, notes)
SELECT raw_event_id, channel, received_at, state, error, format, attempts, notes
FROM stage_result
ORDER BY raw_event_id
ON CONFLICT (raw_event_id) DO UPDATE SET
    (state, error, format, attempts, notes, processed_at)
  = (excluded.state, excluded.error, excluded.format, excluded.attempts, excluded.notes, now());

-- name: dequeue
DELETE FROM wabahook.event_queue WHERE raw_event_id = ANY(%(ids)s);

-- name: record_failure
-- Keeps a failing event queued, with its error, for a retry after %(delay)s seconds;
-- a permanent failure (not one a retry can mend) waits for `wabahook failed retry`.
UPDATE wabahook.event_queue
SET attempts = attempts + 1,
    last_error = %(error)s,
    not_before = CASE WHEN %(permanent)s OR attempts + 1 >= %(max_attempts)s THEN 'infinity'
                      -- from the clock, not the transaction's start: a long batch must
                      -- not commit a retry time that has already passed
                      ELSE clock_timestamp() + make_interval(secs => %(delay)s) END
WHERE raw_event_id = %(id)s
RETURNING attempts, not_before;

-- name: queue_health
SELECT count(*) AS queued,
       count(*) FILTER (WHERE last_error IS NOT NULL) AS failed,
       count(*) FILTER (WHERE last_error IS NULL AND queued_at < now() - make_interval(secs => %(stale_after)s)) AS stale,
       count(*) FILTER (WHERE last_error IS NOT NULL AND not_before <= now()) AS retries_due,
       extract(epoch FROM now() - min(queued_at) FILTER (WHERE last_error IS NULL)) AS oldest_queued_seconds
FROM wabahook.event_queue;

-- name: failed_events
SELECT q.raw_event_id, q.channel, q.received_at, q.attempts, q.last_error,
       nullif(q.not_before, 'infinity') AS not_before
FROM wabahook.event_queue q
WHERE q.last_error IS NOT NULL AND (%(channel)s::text IS NULL OR q.channel = %(channel)s)
ORDER BY q.raw_event_id
LIMIT %(limit)s;

-- name: failed_event
SELECT q.raw_event_id, q.channel, q.received_at, q.attempts, q.last_error,
       nullif(q.not_before, 'infinity') AS not_before,
       r.body, r.content_type, r.headers, r.request_id
FROM wabahook.event_queue q
LEFT JOIN wabahook.raw_events r ON r.id = q.raw_event_id AND r.received_at = q.received_at
WHERE q.raw_event_id = %(id)s AND q.last_error IS NOT NULL;

-- name: retry_failed
-- Makes failed events due now (their attempts are kept).
UPDATE wabahook.event_queue SET not_before = now()
WHERE last_error IS NOT NULL AND (%(all)s OR raw_event_id = ANY(%(ids)s))
RETURNING raw_event_id;

-- name: ensure_partitions
SELECT wabahook.ensure_raw_event_partitions(%(months_ahead)s) AS created;

-- name: rebuild_estimate
SELECT count(*) AS events, coalesce(sum(octet_length(body)), 0) AS bytes FROM wabahook.raw_events;

-- name: newest_raw_event
SELECT coalesce(max(id), 0) AS newest FROM wabahook.raw_events;

-- name: raw_event_bounds
-- The ids a rebuild projects: after before_oldest, up to newest (retention may have
-- dropped the oldest months, so the ids need not start near 1).
SELECT coalesce(min(id) - 1, 0) AS before_oldest, coalesce(max(id), 0) AS newest
FROM wabahook.raw_events;

-- name: raw_event_partitions
-- Monthly partitions of raw_events (not the default one), oldest first.
SELECT c.relname AS name,
       substring(pg_get_expr(c.relpartbound, c.oid) FROM $re$FROM \('([^']+)'\)$re$)::timestamptz AS lower_bound,
       substring(pg_get_expr(c.relpartbound, c.oid) FROM $re$TO \('([^']+)'\)$re$)::timestamptz AS upper_bound
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'wabahook.raw_events'::regclass
  AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'
ORDER BY lower_bound;
