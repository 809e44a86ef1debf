-- Retention per channel (`channels set NAME --retention 90d`).

-- name: set_retention
-- NULL: kept until whole months go.
UPDATE wabahook.channels SET retention = %(retention)s, updated_at = now()
WHERE name = %(name)s
RETURNING name, retention;

-- name: channel_retention
-- For each channel with a retention (every channel if %(every)s): its events past it now
-- (`due`), those of them held back (still queued, or still to be relayed: both read the
-- body later), those that pass it within %(window)s, when the next one does, and its
-- oldest stored event.
SELECT c.name AS channel, c.retention, now() - c.retention AS cutoff,
       count(e.id) FILTER (WHERE e.received_at < now() - c.retention) AS due,
       count(e.id) FILTER (WHERE e.received_at < now() - c.retention AND (
           EXISTS (SELECT FROM wabahook.event_queue q WHERE q.raw_event_id = e.id)
           OR EXISTS (SELECT FROM wabahook.relay_deliveries d
                      WHERE d.raw_event_id = e.id AND d.state IN ('pending', 'retrying'))
       )) AS held,
       count(e.id) FILTER (WHERE e.received_at >= now() - c.retention) AS soon,
       min(e.received_at) FILTER (WHERE e.received_at >= now() - c.retention)
           + c.retention AS next_at,
       (SELECT min(o.received_at) FROM wabahook.raw_events o WHERE o.channel = c.name)
           AS oldest_at
FROM wabahook.channels c
LEFT JOIN wabahook.raw_events e
    ON e.channel = c.name AND e.received_at < now() - c.retention + %(window)s
WHERE (c.retention IS NOT NULL OR %(every)s) AND (%(channel)s::text IS NULL OR c.name = %(channel)s)
GROUP BY c.name, c.retention
ORDER BY c.name;

-- name: retention_delete_batch
-- The oldest %(limit)s events of %(channel)s received before %(cutoff)s, deleted; not
-- those still queued or still to be relayed, nor any another session holds.
WITH doomed AS (
    SELECT e.id, e.received_at
    FROM wabahook.raw_events e
    WHERE e.channel = %(channel)s AND e.received_at < %(cutoff)s
      AND NOT EXISTS (SELECT FROM wabahook.event_queue q WHERE q.raw_event_id = e.id)
      AND NOT EXISTS (SELECT FROM wabahook.relay_deliveries d
                      WHERE d.raw_event_id = e.id AND d.state IN ('pending', 'retrying'))
    ORDER BY e.received_at, e.id
    LIMIT %(limit)s
    FOR UPDATE OF e SKIP LOCKED
)
DELETE FROM wabahook.raw_events e
USING doomed d
WHERE e.id = d.id AND e.received_at = d.received_at
RETURNING e.id;

-- name: retention_gate
-- Taken (shared) by every transaction in which retention deletes, and (exclusive) by a
-- rebuild while it copies the rows of deleted events: the copy sees every deletion
-- that committed before it, and none comes after it until the rebuild ends.
SELECT pg_advisory_xact_lock_shared(hashtext('wabahook.retention'));

-- name: retention_gate_closed
-- Taken after retention_gate: a rebuild is under way (it has created its schema aside).
SELECT to_regnamespace('wabahook_rebuild') IS NOT NULL AS closed;

-- name: rebuild_retention_gate
SELECT pg_advisory_xact_lock(hashtext('wabahook.retention'));
