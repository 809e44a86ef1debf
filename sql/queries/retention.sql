-- Retention per channel (`channels set NAME --retention 90d`).

-- name: set_retention
-- NULL: kept until whole months go.
UPDATE wabahook.channels SET retention = %(retention)s, updated_at = now()
WHERE name = %(name)s
RETURNING name, retention;

-- name: channel_retention
-- For each channel with a retention (every channel if %(every)s): its events past it now
-- (`due`), those of them held back (retention_held), those that pass it within %(window)s, when the next
-- one does, and its oldest stored event.
SELECT c.name AS channel, c.retention, now() - c.retention AS cutoff,
       count(e.id) FILTER (WHERE e.received_at < now() - c.retention) AS due,
       count(e.id) FILTER (WHERE e.received_at < now() - c.retention AND {held}) AS held,
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

-- name: retention_held
-- Event e is held back: a drain or the relay will read its body. It is queued, or has a
-- raw delivery still to make, or a raw destination has still to queue its delivery (it
-- does so by transaction, from its horizon on); not for a destination that has had it
-- longer than its --max-age (a failure then gives it up, paused or not).
(EXISTS (SELECT FROM wabahook.event_queue q WHERE q.raw_event_id = e.id)
 OR EXISTS (SELECT FROM wabahook.relay_deliveries d
            JOIN wabahook.destinations t ON t.id = d.destination_id
            WHERE d.raw_event_id = e.id AND d.fact_key = ''
              AND d.state IN ('pending', 'retrying') AND d.age_from > now() - t.max_age)
 OR EXISTS (SELECT FROM wabahook.destinations t
            WHERE t.format = 'raw' AND e.stored_xid >= t.horizon
              AND e.received_at > now() - t.max_age
              AND (cardinality(t.channels) = 0 OR e.channel = ANY (t.channels))))

-- name: retention_channels
-- The channels with a retention, and the time before which their bodies go.
SELECT name AS channel, now() - retention AS cutoff
FROM wabahook.channels WHERE retention IS NOT NULL ORDER BY name;

-- name: retention_due_count
-- How many events of %(channel)s were received before %(cutoff)s (held ones included).
SELECT count(*) AS events FROM wabahook.raw_events
WHERE channel = %(channel)s AND received_at < %(cutoff)s;

-- name: retention_lock_batch
-- The oldest %(limit)s events of %(channel)s received before %(cutoff)s and not held
-- back, locked; none another session holds (a replay queueing it, say).
SELECT e.id, e.received_at
FROM wabahook.raw_events e
WHERE e.channel = %(channel)s AND e.received_at < %(cutoff)s AND NOT {held}
ORDER BY e.received_at, e.id
LIMIT %(limit)s
FOR UPDATE OF e SKIP LOCKED;

-- name: retention_delete_locked
-- The events %(ids)s locked by retention_lock_batch, deleted: but those held back (retention_held) by
-- a statement that committed after that one began (a replay that queued it meanwhile).
DELETE FROM wabahook.raw_events e
USING unnest(%(ids)s::bigint[], %(times)s::timestamptz[]) AS l (id, received_at)
WHERE e.id = l.id AND e.received_at = l.received_at AND NOT {held}
RETURNING e.id;

-- name: retention_gate
-- Taken (shared, for its transaction) where retention deletes; held (exclusive, for its
-- session) by a rebuild all along: it starts from the rows of the events deleted before
-- it, so none may go until it ends. False: a rebuild is under way.
SELECT pg_try_advisory_xact_lock_shared(hashtext('wabahook.rebuild')) AS open;

-- name: rebuild_gate_close
-- Waits for the retention transactions under way (and another rebuild), within the
-- transaction's lock_timeout; a session lock outlives that transaction.
SELECT pg_advisory_lock(hashtext('wabahook.rebuild'));

-- name: rebuild_gate_open
SELECT pg_advisory_unlock(hashtext('wabahook.rebuild'));
