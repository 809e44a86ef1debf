-- Queries of the console (`wabahook console`) that no command shares.

-- name: console_problem_events
-- Stored deliveries that need a person: failed (waiting for a fix or a retry) or
-- rejected (not usable as sent), the newest first.
SELECT raw_event_id, channel, received_at, state, error, attempts
FROM wabahook.raw_event_log
WHERE state IN ('failed', 'rejected')
ORDER BY raw_event_id DESC
LIMIT %(limit)s;

-- name: console_events
-- The Events page: one page of the stored events wabahook.selected_events() picks (NULL:
-- not filtered), keyset-paged on the id: below %(before)s, above %(after)s, in the order
-- given (DESC: newest first; ASC: the page just above %(after)s). The held test is TRUE or
-- console_held_in_view; %(error_code)s: a status, error notification or call error of the
-- event carries that code; %(retries)s: only sender retries (the same bytes delivered again
-- on the channel). %(unprojected)s and %(needles)s as in lookup_events.
SELECT e.raw_event_id AS id, e.channel, e.received_at, e.state, e.error, e.attempts,
       e.duplicate_delivery, octet_length(r.body) AS bytes
FROM wabahook.selected_events(%(channels)s, %(since)s, %(until)s, %(ids)s, %(states)s) e
JOIN wabahook.raw_events r ON r.id = e.raw_event_id AND r.received_at = e.received_at
WHERE (%(before)s::bigint IS NULL OR e.raw_event_id < %(before)s)
  AND (%(after)s::bigint IS NULL OR e.raw_event_id > %(after)s)
  AND (NOT %(retries)s OR e.duplicate_delivery)
  AND {held}
  AND (%(error_code)s::integer IS NULL
       OR EXISTS (SELECT 1 FROM wabahook.status_event s
                  WHERE s.raw_event_id = e.raw_event_id AND %(error_code)s = ANY(s.error_codes))
       OR EXISTS (SELECT 1 FROM wabahook.notification_error n
                  WHERE n.raw_event_id = e.raw_event_id AND n.code = %(error_code)s)
       OR EXISTS (SELECT 1 FROM wabahook.call_error c
                  WHERE c.raw_event_id = e.raw_event_id AND c.code = %(error_code)s))
  AND (%(needles)s::bytea[] IS NULL
       OR EXISTS (SELECT 1 FROM unnest(%(needles)s::bytea[]) n WHERE position(n IN r.body) > 0))
  AND (NOT %(unprojected)s OR e.raw_event_id IN (
       SELECT q.raw_event_id FROM wabahook.event_queue q
       UNION ALL
       SELECT x.raw_event_id FROM wabahook.event_results x WHERE x.state = 'rejected'))
ORDER BY e.raw_event_id {order}
LIMIT %(limit)s;

-- name: console_held_in_view
-- One filter of console_events: event e projected rows into the public view named.
EXISTS (SELECT 1 FROM wabahook.{view} h WHERE h.raw_event_id = e.raw_event_id)

-- name: console_messages
-- The Messages page: outbound messages (a progress or failed status; deleted-only rows
-- are inbound) by their current status %(status)s, whether they reached %(reached)s
-- (delivered: delivered, read or played; read: read or played), the channel, the time of
-- their earliest status and a code of their latest failure; newest first, one page. Each
-- code with its title and class from wabahook.error_codes.
SELECT d.channel, d.message_id, d.recipient_id, d.status, d.first_status_at, d.failed_at,
       coalesce((SELECT jsonb_agg(jsonb_build_object('code', c.code, 'title', k.title,
                                                     'class', wabahook.error_class(c.code))
                                  ORDER BY c.n)
                 FROM unnest(d.error_codes) WITH ORDINALITY AS c(code, n)
                 LEFT JOIN wabahook.error_codes k ON k.code = c.code), '[]') AS errors
FROM wabahook.delivery_status d
WHERE coalesce(d.sent_at, d.delivered_at, d.read_at, d.played_at, d.failed_at) IS NOT NULL
  AND (%(status)s::text IS NULL OR d.status = %(status)s)
  AND (%(reached)s::text IS NULL
       OR (%(reached)s = 'delivered' AND coalesce(d.delivered_at, d.read_at, d.played_at) IS NOT NULL)
       OR (%(reached)s = 'read' AND coalesce(d.read_at, d.played_at) IS NOT NULL))
  AND (%(channel)s::text IS NULL OR d.channel = %(channel)s)
  AND (%(since)s::timestamptz IS NULL OR d.first_status_at >= %(since)s)
  AND (%(until)s::timestamptz IS NULL OR d.first_status_at < %(until)s)
  AND (%(error_code)s::integer IS NULL OR %(error_code)s = ANY(d.error_codes))
ORDER BY d.first_status_at DESC, d.channel, d.message_id
LIMIT %(limit)s OFFSET %(offset)s;

-- name: console_history_syncs
-- Every number's Coexistence history sync, the latest news first.
SELECT * FROM wabahook.history_progress
ORDER BY last_received_at DESC, channel, phone_number_id
LIMIT %(limit)s;
