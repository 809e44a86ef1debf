-- name: record_forward
INSERT INTO wabahook.forward_deliveries AS f
    (destination, raw_event_id, status, attempts, error, delivered_at)
VALUES (%(destination)s, %(id)s, %(status)s, %(attempts)s, %(error)s,
        CASE WHEN %(delivered)s THEN now() END)
ON CONFLICT (destination, raw_event_id) DO UPDATE SET
    status = excluded.status,
    attempts = f.attempts + excluded.attempts,
    error = excluded.error,
    last_attempt_at = now(),
    delivered_at = coalesce(excluded.delivered_at, f.delivered_at);

-- name: forward_pending_count
-- How many selected events a forward would send.
SELECT count(*) AS events
FROM wabahook.selected_events(%(channels)s::text[], %(since)s::timestamptz,
                              %(until)s::timestamptz, %(ids)s::bigint[], %(states)s::text[]) s
LEFT JOIN wabahook.forward_deliveries f
       ON f.destination = %(destination)s AND f.raw_event_id = s.raw_event_id
WHERE %(again)s OR f.delivered_at IS NULL;

-- name: forward_page
-- The next page of selected events to send, in id order, with their bytes.
SELECT r.id AS raw_event_id, r.body, r.content_type
FROM wabahook.selected_events(%(channels)s::text[], %(since)s::timestamptz,
                              %(until)s::timestamptz, %(ids)s::bigint[], %(states)s::text[]) s
JOIN wabahook.raw_events r ON r.id = s.raw_event_id AND r.received_at = s.received_at
LEFT JOIN wabahook.forward_deliveries f
       ON f.destination = %(destination)s AND f.raw_event_id = s.raw_event_id
WHERE s.raw_event_id > %(after)s AND (%(again)s OR f.delivered_at IS NULL)
ORDER BY s.raw_event_id
LIMIT %(page)s;
