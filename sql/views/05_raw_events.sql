-- Stored deliveries and their processing state; the events replay and forward select.
-- The public SQL surface. Columns may be added, never renamed or dropped.

CREATE VIEW wabahook.raw_event_log AS
SELECT r.id AS raw_event_id, r.channel, r.received_at, r.body_sha256,
       CASE WHEN q.raw_event_id IS NOT NULL
            THEN CASE WHEN q.last_error IS NOT NULL THEN 'failed' ELSE 'queued' END
            ELSE coalesce(res.state, 'queued') END AS state,
       CASE WHEN q.raw_event_id IS NOT NULL THEN q.last_error ELSE res.error END AS error,
       coalesce(q.attempts, res.attempts, 0) AS attempts,
       EXISTS (
           SELECT 1 FROM wabahook.raw_events earlier
           WHERE earlier.channel = r.channel AND earlier.body_sha256 = r.body_sha256
             AND earlier.id < r.id
       ) AS duplicate_delivery,
       res.format, res.notes, res.processed_at,
       nullif(q.not_before, 'infinity') AS next_attempt_at,  -- NULL: waits for `failed retry`
       r.redacted_at  -- when an erasure rewrote the body without one person
FROM wabahook.raw_events r
LEFT JOIN wabahook.event_queue q ON q.raw_event_id = r.id
LEFT JOIN wabahook.event_results res ON res.raw_event_id = r.id;
COMMENT ON VIEW wabahook.raw_event_log IS
    'One row per stored delivery: its processing state, error, attempts, and whether it repeats an earlier delivery.';

-- The stored events `replay` and `forward` act on. Every filter is optional (NULL: not
-- filtered); PostgreSQL inlines the function, so each call is planned as one query.
CREATE FUNCTION wabahook.selected_events(
    channels text[], since timestamptz, until timestamptz, ids bigint[], states text[]
) RETURNS SETOF wabahook.raw_event_log
LANGUAGE sql STABLE AS $$
    SELECT * FROM wabahook.raw_event_log
    WHERE (channels IS NULL OR channel = ANY(channels))
      AND (since IS NULL OR received_at >= since)
      AND (until IS NULL OR received_at < until)
      AND (ids IS NULL OR raw_event_id = ANY(ids))
      AND (states IS NULL OR state = ANY(states))
$$;

-- Each erasure of one person: when, asked by which kind of identifier, how much it
-- rewrote, and the person's pseudonym. Never the identifier, nor the erasure's key.
CREATE VIEW wabahook.erasures AS
SELECT id AS erasure_id, started_at, completed_at, key_kind, pseudonym,
       -- Bodies rewritten: derived from its events, never kept apart (one rewritten
       -- again, when new ids of the person came to light, counts once).
       (SELECT count(*)::integer FROM wabahook.erasure_event e
        WHERE e.erasure_id = r.id AND e.redacted_sha256 <> e.original_sha256) AS events,
       deliveries, passes,
       sealed IS NOT NULL AS resumable
FROM wabahook.erasure r;
COMMENT ON VIEW wabahook.erasures IS
    'One row per `people erase`: when, by which kind of identifier, events and relay facts'
    ' rewritten, the person''s pseudonym; resumable while it has not completed.';

