-- name: replay_plan
-- What a replay would queue again, by channel and state (for --dry-run).
SELECT channel, state, count(*) AS events
FROM wabahook.selected_events(%(channels)s::text[], %(since)s::timestamptz,
                              %(until)s::timestamptz, %(ids)s::bigint[], %(states)s::text[])
GROUP BY channel, state
ORDER BY channel, state;

-- name: replay
-- Queue the selected events again, due now, marked with the replay's id (how many).
SELECT wabahook.replay_events(%(channels)s::text[], %(since)s::timestamptz,
                              %(until)s::timestamptz, %(ids)s::bigint[], %(states)s::text[],
                              %(marker)s) AS queued;

-- name: replay_remaining
-- A replay's events still queued, and those that failed.
SELECT count(*) FILTER (WHERE last_error IS NULL) AS queued,
       count(*) FILTER (WHERE last_error IS NOT NULL) AS failed
FROM wabahook.event_queue
WHERE replay = %(marker)s;
