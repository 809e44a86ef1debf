-- Erasing one person (processors/erasure/erase.py).

-- name: erase_scan
-- The stored events after %(after)s whose bytes hold one of %(needles)s: the person's
-- identifiers as written, and JSON-escaped. A candidate only: the rewrite decides.
SELECT id AS raw_event_id, received_at, body_sha256
FROM wabahook.raw_events
WHERE id > %(after)s
  AND EXISTS (SELECT FROM unnest(%(needles)s::bytea[]) n WHERE position(n IN body) > 0)
ORDER BY id;

-- name: erase_events_of_messages
-- The events whose rows name one of the person's message ids %(ids)s without naming the
-- person (a conversion detected in their message, say). Each by its table's key index.
SELECT raw_event_id FROM wabahook.status_event s JOIN wabahook.channels c ON s.channel = c.name
WHERE s.message_id = ANY(%(ids)s)
UNION SELECT raw_event_id FROM wabahook.inbound_message m JOIN wabahook.channels c
    ON m.channel = c.name WHERE m.message_id = ANY(%(ids)s)
UNION SELECT raw_event_id FROM wabahook.message_echo e JOIN wabahook.channels c
    ON e.channel = c.name WHERE e.message_id = ANY(%(ids)s)
UNION SELECT raw_event_id FROM wabahook.ad_conversion a JOIN wabahook.channels c
    ON a.channel = c.name WHERE a.message_id = ANY(%(ids)s)
UNION SELECT raw_event_id FROM wabahook.history_message h JOIN wabahook.channels c
    ON h.channel = c.name WHERE h.message_id = ANY(%(ids)s)
UNION SELECT raw_event_id FROM wabahook.message_change x JOIN wabahook.channels c
    ON x.channel = c.name WHERE x.message_id = ANY(%(ids)s);

-- name: erase_event_rows
-- Stored events by id (their partitions found by their ids' received_at).
SELECT id AS raw_event_id, received_at, body_sha256
FROM wabahook.raw_events WHERE id = ANY(%(ids)s) ORDER BY id;

-- name: erase_create
INSERT INTO wabahook.erasure (key_kind, pseudonym, sealed)
VALUES (%(key_kind)s, %(pseudonym)s, %(sealed)s)
RETURNING id;

-- name: erase_add_events
INSERT INTO wabahook.erasure_event (erasure_id, raw_event_id, received_at, original_sha256)
SELECT %(erasure_id)s, unnest(%(ids)s::bigint[]), unnest(%(times)s::timestamptz[]),
       unnest(%(digests)s::bytea[])
ON CONFLICT DO NOTHING;

-- name: erase_open
-- An erasure not yet complete, with what it needs to go on.
SELECT id, key_kind, pseudonym, sealed, passes, scanned_until FROM wabahook.erasure
WHERE id = %(erasure_id)s AND completed_at IS NULL AND sealed IS NOT NULL;

-- name: erase_pending
-- The next events of the erasure still to rewrite, with their bodies.
SELECT e.raw_event_id, e.received_at, r.body
FROM wabahook.erasure_event e
JOIN wabahook.raw_events r ON r.id = e.raw_event_id AND r.received_at = e.received_at
WHERE e.erasure_id = %(erasure_id)s AND e.redacted_sha256 IS NULL
ORDER BY e.raw_event_id
LIMIT %(limit)s;

-- name: erase_gone
-- Events of the erasure no longer stored (retention dropped them): nothing to rewrite.
UPDATE wabahook.erasure_event e SET redacted_sha256 = e.original_sha256
WHERE e.erasure_id = %(erasure_id)s AND e.redacted_sha256 IS NULL
  AND NOT EXISTS (SELECT FROM wabahook.raw_events r
                  WHERE r.id = e.raw_event_id AND r.received_at = e.received_at);

-- name: erase_session
-- This transaction may rewrite stored bodies for this erasure (refuse_raw_event_update).
SELECT pg_catalog.set_config('wabahook.erasing', %(erasure_id)s::text, true);

-- name: erase_rewrite
UPDATE wabahook.raw_events SET body = %(body)s, body_sha256 = %(sha256)s, redacted_at = now()
WHERE id = %(raw_event_id)s AND received_at = %(received_at)s;

-- name: erase_mark
UPDATE wabahook.erasure_event SET redacted_sha256 = %(sha256)s
WHERE erasure_id = %(erasure_id)s AND raw_event_id = %(raw_event_id)s;

-- name: erase_facts
-- The relay's facts made from the events %(ids)s (raw deliveries read the body at send
-- time: rewritten with it).
SELECT id, fact_key, payload FROM wabahook.relay_deliveries
WHERE raw_event_id = ANY(%(ids)s) AND payload IS NOT NULL;

-- name: erase_fact_rewrite
UPDATE wabahook.relay_deliveries SET payload = %(payload)s, fact_key = %(fact_key)s
WHERE id = %(id)s;

-- name: erase_count
UPDATE wabahook.erasure SET events = events + %(events)s, deliveries = deliveries + %(deliveries)s
WHERE id = %(erasure_id)s;

-- name: erase_pass
UPDATE wabahook.erasure SET passes = passes + 1 WHERE id = %(erasure_id)s RETURNING passes;

-- name: erase_newest_event
SELECT coalesce(max(id), 0) AS newest FROM wabahook.raw_events;

-- name: erase_scanned
UPDATE wabahook.erasure SET scanned_until = greatest(scanned_until, %(until)s)
WHERE id = %(erasure_id)s;

-- name: erase_reseal
-- What the erasure replaces grew (a new event brought a message id): sealed again.
UPDATE wabahook.erasure SET sealed = %(sealed)s WHERE id = %(erasure_id)s;

-- name: erase_complete
-- Done: the key and the identifiers it sealed are destroyed.
UPDATE wabahook.erasure SET completed_at = now(), sealed = NULL WHERE id = %(erasure_id)s
RETURNING events, deliveries, passes;
