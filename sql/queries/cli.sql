-- Whether a channel named on the command line exists, as far as the caller may know
-- (processors/cli/common.py: check_channels).

-- name: cli_channels_table_readable
SELECT has_column_privilege('wabahook.channels', 'name', 'SELECT') AS readable;

-- name: cli_known_channels
-- Every channel, including one that has stored nothing yet.
SELECT name FROM wabahook.channels WHERE name = ANY(%(names)s::text[]);

-- name: cli_seen_channels
-- A channel the public views show anything of: all a login that reads only them can know
-- (and a channel whose row is gone, of which events are still stored).
SELECT n.name
FROM unnest(%(names)s::text[]) AS n(name)
WHERE EXISTS (SELECT FROM wabahook.raw_event_log l WHERE l.channel = n.name)
   OR EXISTS (SELECT FROM wabahook.status_events s WHERE s.channel = n.name)
   OR EXISTS (SELECT FROM wabahook.messages_inbound m WHERE m.channel = n.name);
