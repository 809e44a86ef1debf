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
