-- Erasing one person (processors/erasure/erase.py).

-- name: erase_scan
-- The stored events whose bytes hold one of %(needles)s (the person's identifiers as
-- written, and JSON-escaped) that the erasure %(erasure_id)s has not taken yet: every
-- stored event is looked through, whatever its id (ids are given before commits).
-- A candidate only: the rewrite decides.
SELECT id AS raw_event_id, received_at, body_sha256
FROM wabahook.raw_events r
WHERE EXISTS (SELECT FROM unnest(%(needles)s::bytea[]) n WHERE position(n IN body) > 0)
  AND NOT EXISTS (SELECT FROM wabahook.erasure_event e
                  WHERE e.erasure_id = %(erasure_id)s AND e.raw_event_id = r.id)
ORDER BY id;

-- name: erase_view_events
-- The events the person's rows of the view {view} came from.
SELECT DISTINCT raw_event_id FROM wabahook.{view} WHERE person_id = %(person_id)s;

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
    ON x.channel = c.name WHERE x.message_id = ANY(%(ids)s)
EXCEPT SELECT raw_event_id FROM wabahook.erasure_event WHERE erasure_id = %(erasure_id)s;

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
SELECT id, key_kind, pseudonym, sealed, passes FROM wabahook.erasure
WHERE id = %(erasure_id)s AND completed_at IS NULL AND sealed IS NOT NULL;

-- name: erase_pending
-- The next events of the erasure still to rewrite (after %(after)s), with their bodies:
-- a sender's retry of a body an earlier erasure rewrote, as that erasure made it.
SELECT e.raw_event_id, e.received_at, r.body_sha256 AS stored_sha256,
       coalesce(wabahook.erased_body(r.body_sha256), r.body) AS body
FROM wabahook.erasure_event e
JOIN wabahook.raw_events r ON r.id = e.raw_event_id AND r.received_at = e.received_at
WHERE e.erasure_id = %(erasure_id)s AND e.todo
  AND e.raw_event_id > %(after)s
ORDER BY e.raw_event_id
LIMIT %(limit)s;

-- name: erase_reopen
-- New ids of the person's messages came to light: every event of the erasure is looked
-- at again (a rewritten body is rewritten to itself, but for those ids). What each was
-- rewritten to stays known meanwhile: a sender's retry is still read as erased.
UPDATE wabahook.erasure_event SET todo = true
WHERE erasure_id = %(erasure_id)s AND NOT todo;

-- name: erase_gone
-- Events of the erasure no longer stored (retention dropped them): nothing to rewrite.
UPDATE wabahook.erasure_event e
SET redacted_sha256 = coalesce(e.redacted_sha256, e.original_sha256), todo = false
WHERE e.erasure_id = %(erasure_id)s AND e.todo
  AND NOT EXISTS (SELECT FROM wabahook.raw_events r
                  WHERE r.id = e.raw_event_id AND r.received_at = e.received_at);

-- name: erase_session
-- This transaction may rewrite stored bodies for this erasure (refuse_raw_event_update).
SELECT pg_catalog.set_config('wabahook.erasing', %(erasure_id)s::text, true);

-- name: erase_rewrite
UPDATE wabahook.raw_events SET body = %(body)s, body_sha256 = %(sha256)s, redacted_at = now()
WHERE id = %(raw_event_id)s AND received_at = %(received_at)s;

-- name: erase_mark
UPDATE wabahook.erasure_event SET redacted_sha256 = %(sha256)s, todo = false
WHERE erasure_id = %(erasure_id)s AND raw_event_id = %(raw_event_id)s;

-- name: erase_facts
-- The relay's facts made from the erasure's events (raw deliveries read the body at send
-- time: rewritten with it).
SELECT d.id, d.fact_key, d.payload
FROM wabahook.erasure_event e
JOIN wabahook.relay_deliveries d ON d.raw_event_id = e.raw_event_id
WHERE e.erasure_id = %(erasure_id)s AND d.payload IS NOT NULL
ORDER BY d.id;

-- name: erase_fact_rewrite
UPDATE wabahook.relay_deliveries SET payload = %(payload)s, fact_key = %(fact_key)s
WHERE id = %(id)s;

-- name: erase_fact_drop
-- The fact is there already under its rewritten key (a sender's retry of an erased body
-- was drained meanwhile): this copy of it goes.
DELETE FROM wabahook.relay_deliveries WHERE id = %(id)s;

-- name: erase_pass
UPDATE wabahook.erasure SET passes = passes + 1, deliveries = deliveries + %(deliveries)s
WHERE id = %(erasure_id)s;

-- name: erase_reseal
-- What the erasure replaces grew (a new event brought a message id): sealed again.
UPDATE wabahook.erasure SET sealed = %(sealed)s WHERE id = %(erasure_id)s;

-- name: erase_complete
-- Done: the key and the identifiers it sealed are destroyed.
UPDATE wabahook.erasure SET completed_at = now(), sealed = NULL
WHERE id = %(erasure_id)s
RETURNING deliveries, passes;

-- name: erasure_record
-- An erasure as `erasures` shows it: what `people erase` reports when it completes.
SELECT erasure_id, events, deliveries, passes FROM wabahook.erasures
WHERE erasure_id = %(erasure_id)s;
