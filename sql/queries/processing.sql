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

-- name: create_stage_tables
CREATE TEMP TABLE IF NOT EXISTS stage_doc (
    raw_event_id bigint PRIMARY KEY, channel text, received_at timestamptz,
    body_sha256 bytea, doc jsonb
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_message (
    raw_event_id bigint, channel text, message_id text, wa_id text, type text, sent_at bigint,
    phone_number_id text, text text, context_message_id text, contact_name text, path text
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_status (
    raw_event_id bigint, channel text, message_id text, status text, status_at bigint,
    phone_number_id text, recipient_id text, conversation_id text, conversation_category text,
    pricing_category text, pricing_model text, billable boolean, error_codes integer[], path text
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_error (
    raw_event_id bigint, channel text, position integer, code integer, title text, path text
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_result (
    raw_event_id bigint, channel text, received_at timestamptz, state text, error text,
    format text, attempts integer, notes jsonb
) ON COMMIT DELETE ROWS;
-- Tries one statement (the projections, taking a group's event ids as $1) for each
-- group in its own subtransaction; returns the groups that failed, and why. One call
-- per level of failure isolation instead of a round trip per group.
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
            EXECUTE statement USING ids;
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

-- name: index_stage_tables
-- Before isolating failures: the small groups then look their few rows up instead of
-- scanning whole staging tables (temporary tables have no statistics until analyzed).
CREATE INDEX IF NOT EXISTS stage_message_event ON stage_message (raw_event_id);
CREATE INDEX IF NOT EXISTS stage_status_event ON stage_status (raw_event_id);
CREATE INDEX IF NOT EXISTS stage_error_event ON stage_error (raw_event_id);
ANALYZE stage_doc, stage_message, stage_status, stage_error;

-- name: unindex_stage_tables
-- After isolating failures: clean batches stage faster without these indexes.
DROP INDEX IF EXISTS stage_message_event, stage_status_event, stage_error_event;

-- name: clear_item_stages
-- Before staging one event again (its document stays staged).
DELETE FROM stage_message;
DELETE FROM stage_status;
DELETE FROM stage_error;

-- name: clear_stage_tables
TRUNCATE stage_doc, stage_message, stage_status, stage_error, stage_result;

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

-- name: project_messages
-- The project_* queries write the staged items of the events {ids} (an array of event ids,
-- NULL: all of them) into the projection tables of the schema {projections}.
INSERT INTO {projections}.inbound_message AS t
    (channel, message_id, wa_id, type, sent_at, phone_number_id, text, context_message_id,
     contact_name, payload, raw_event_id, received_at)
SELECT DISTINCT ON (s.channel, s.message_id)
       s.channel, s.message_id, s.wa_id, s.type, to_timestamp(s.sent_at), s.phone_number_id,
       s.text, s.context_message_id, s.contact_name, jsonb_extract_path(d.doc, VARIADIC string_to_array(s.path, ',')),
       s.raw_event_id, d.received_at
FROM stage_message s JOIN stage_doc d USING (raw_event_id)
WHERE {ids}::bigint[] IS NULL OR s.raw_event_id = ANY({ids})
ORDER BY s.channel, s.message_id, s.raw_event_id, s.path
ON CONFLICT (channel, message_id) DO UPDATE SET
    (wa_id, type, sent_at, phone_number_id, text, context_message_id, contact_name, payload,
     raw_event_id, received_at)
  = (excluded.wa_id, excluded.type, excluded.sent_at, excluded.phone_number_id, excluded.text,
     excluded.context_message_id, excluded.contact_name, excluded.payload, excluded.raw_event_id,
     excluded.received_at)
WHERE excluded.raw_event_id < t.raw_event_id;

-- name: project_contacts
INSERT INTO {projections}.contact AS t
SELECT (m).* FROM (
    SELECT wabahook.merged_contact(ROW(
        channel, wa_id, contact_name,
        CASE WHEN contact_name IS NOT NULL
             THEN wabahook.fact_key(to_timestamp(coalesce(sent_at, 0)), message_id || ':' || contact_name)
        END,
        to_timestamp(sent_at), to_timestamp(sent_at)
    )::wabahook.contact_facts) AS m
    FROM stage_message
    WHERE wa_id IS NOT NULL AND wa_id <> ''
      AND ({ids}::bigint[] IS NULL OR raw_event_id = ANY({ids}))
    GROUP BY channel, wa_id
    ORDER BY channel, wa_id  -- one lock order for every drain: no deadlocks between them
) merged
ON CONFLICT (channel, wa_id) DO UPDATE SET
    (profile_name, profile_key, first_seen_at, last_seen_at)
  = (SELECT m.profile_name, m.profile_key, m.first_seen_at, m.last_seen_at
     FROM wabahook.merge_contact(ROW(t.*)::wabahook.contact_facts,
                                 ROW(excluded.*)::wabahook.contact_facts) m);

-- name: project_statuses
INSERT INTO {projections}.status_event AS t
    (channel, message_id, status, status_at, phone_number_id, recipient_id, conversation_id,
     conversation_category, pricing_category, pricing_model, billable, error_codes, payload,
     raw_event_id, received_at)
SELECT DISTINCT ON (s.channel, s.message_id, s.status, s.status_at)
       s.channel, s.message_id, s.status, to_timestamp(s.status_at), s.phone_number_id,
       s.recipient_id, s.conversation_id, s.conversation_category, s.pricing_category,
       s.pricing_model, s.billable, s.error_codes, jsonb_extract_path(d.doc, VARIADIC string_to_array(s.path, ',')),
       s.raw_event_id, d.received_at
FROM stage_status s JOIN stage_doc d USING (raw_event_id)
WHERE {ids}::bigint[] IS NULL OR s.raw_event_id = ANY({ids})
ORDER BY s.channel, s.message_id, s.status, s.status_at, s.raw_event_id, s.path
ON CONFLICT (channel, message_id, status, status_at) DO UPDATE SET
    (phone_number_id, recipient_id, conversation_id, conversation_category, pricing_category,
     pricing_model, billable, error_codes, payload, raw_event_id, received_at)
  = (excluded.phone_number_id, excluded.recipient_id, excluded.conversation_id,
     excluded.conversation_category, excluded.pricing_category, excluded.pricing_model,
     excluded.billable, excluded.error_codes, excluded.payload, excluded.raw_event_id,
     excluded.received_at)
WHERE excluded.raw_event_id < t.raw_event_id;

-- name: project_deliveries
INSERT INTO {projections}.message_delivery AS t
SELECT (m).* FROM (
    SELECT wabahook.merged_delivery(ROW(
        channel, message_id,
        CASE WHEN status = 'sent' THEN at END,
        CASE WHEN status = 'delivered' THEN at END,
        CASE WHEN status = 'read' THEN at END,
        CASE WHEN status = 'played' THEN at END,
        CASE WHEN status = 'failed' THEN at END,
        CASE WHEN status = 'deleted' THEN at END,
        rank,
        CASE WHEN rank IS NOT NULL THEN at END,
        CASE WHEN status = 'failed' THEN error_codes ELSE '{{}}' END,
        recipient_id,
        CASE WHEN recipient_id IS NOT NULL
             THEN wabahook.fact_key(at, status || ':' || recipient_id) END,
        conversation_id, pricing_category, billable,
        CASE WHEN conversation_id IS NOT NULL OR pricing_category IS NOT NULL OR billable IS NOT NULL
             THEN wabahook.fact_key(at, concat_ws(':', status, conversation_id, pricing_category, billable)) END,
        at
    )::wabahook.delivery_facts) AS m
    FROM (
        SELECT *, to_timestamp(status_at) AS at,
               array_position(ARRAY['sent', 'delivered', 'read', 'played'], status)::smallint AS rank
        FROM stage_status
        WHERE {ids}::bigint[] IS NULL OR raw_event_id = ANY({ids})
    ) s
    GROUP BY channel, message_id
    ORDER BY channel, message_id  -- one lock order for every drain: no deadlocks between them
) merged
ON CONFLICT (channel, message_id) DO UPDATE SET
    (sent_at, delivered_at, read_at, played_at, failed_at, deleted_at, progress_rank, progress_at,
     error_codes, recipient_id, recipient_key, conversation_id, pricing_category, billable,
     billing_key, first_status_at)
  = (SELECT m.sent_at, m.delivered_at, m.read_at, m.played_at, m.failed_at, m.deleted_at,
            m.progress_rank, m.progress_at, m.error_codes, m.recipient_id, m.recipient_key,
            m.conversation_id, m.pricing_category, m.billable, m.billing_key, m.first_status_at
     FROM wabahook.merge_delivery(ROW(t.*)::wabahook.delivery_facts,
                                  ROW(excluded.*)::wabahook.delivery_facts) m);

-- name: project_errors
INSERT INTO {projections}.notification_error AS t
    (channel, body_sha256, position, code, title, details, raw_event_id, received_at)
SELECT DISTINCT ON (s.channel, d.body_sha256, s.position)
       s.channel, d.body_sha256, s.position, s.code, s.title,
       jsonb_extract_path(d.doc, VARIADIC string_to_array(s.path, ',')), s.raw_event_id, d.received_at
FROM stage_error s JOIN stage_doc d USING (raw_event_id)
WHERE {ids}::bigint[] IS NULL OR s.raw_event_id = ANY({ids})
ORDER BY s.channel, d.body_sha256, s.position, s.raw_event_id
ON CONFLICT (channel, body_sha256, position) DO UPDATE SET
    (raw_event_id, received_at) = (excluded.raw_event_id, excluded.received_at)
WHERE excluded.raw_event_id < t.raw_event_id;

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
WHERE q.last_error IS NOT NULL
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
