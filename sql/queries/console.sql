-- Queries of the console (`wabahook console`) that no command shares.

-- name: console_problem_events
-- Stored deliveries that need a person: failed (waiting for a fix or a retry) or
-- rejected (not usable as sent), the newest first.
SELECT raw_event_id, channel, received_at, state, error, attempts
FROM wabahook.raw_event_log
WHERE state IN ('failed', 'rejected')
ORDER BY raw_event_id DESC
LIMIT %(limit)s;
