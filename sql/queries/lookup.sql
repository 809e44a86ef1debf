-- Looking stored deliveries and messages up: `wabahook events list|show` and
-- `wabahook messages show` (processors/lookup.py). Searches without a channel go through
-- wabahook.channels, one channel at a time, so that the (channel, ...) keys serve them.

-- name: lookup_events
-- `events list`: the stored events wabahook.selected_events() picks (NULL: not filtered),
-- whose body holds one of %(needles)s (NULL: any body), newest first. %(unprojected)s:
-- only events in the queue or rejected, found from those tables rather than by walking
-- the whole store (an event in neither is projected).
SELECT e.raw_event_id AS id, e.channel, e.received_at, e.state, e.error, e.attempts,
       e.duplicate_delivery, octet_length(r.body) AS bytes
FROM wabahook.selected_events(%(channels)s, %(since)s, %(until)s, %(ids)s, %(states)s) e
JOIN wabahook.raw_events r ON r.id = e.raw_event_id AND r.received_at = e.received_at
WHERE (%(needles)s::bytea[] IS NULL
       OR EXISTS (SELECT 1 FROM unnest(%(needles)s::bytea[]) n WHERE position(n IN r.body) > 0))
  AND (NOT %(unprojected)s OR e.raw_event_id IN (
       SELECT q.raw_event_id FROM wabahook.event_queue q
       UNION ALL
       SELECT x.raw_event_id FROM wabahook.event_results x WHERE x.state = 'rejected'))
ORDER BY e.raw_event_id DESC
LIMIT %(limit)s;

-- name: lookup_fact_events
-- The raw events whose projected rows name message %(message_id)s (its statuses, the
-- message, its edits and revokes or the edit of that id, a Business app echo) or
-- customer %(wa_id)s, a phone number or a user id (their messages, statuses of what was
-- sent to them or to them in a group, their edits, their marketing preferences). The
-- one given NULL finds nothing.
SELECT DISTINCT f.raw_event_id
FROM wabahook.channels c
CROSS JOIN LATERAL (
    SELECT s.raw_event_id FROM wabahook.status_event s
    WHERE s.channel = c.name AND s.message_id = %(message_id)s
    UNION ALL
    SELECT m.raw_event_id FROM wabahook.inbound_message m
    WHERE m.channel = c.name AND m.message_id = %(message_id)s
    UNION ALL
    SELECT x.raw_event_id FROM wabahook.message_change x
    WHERE x.channel = c.name AND (x.message_id = %(message_id)s OR x.change_message_id = %(message_id)s)
    UNION ALL
    SELECT o.raw_event_id FROM wabahook.message_echo o
    WHERE o.channel = c.name AND o.message_id = %(message_id)s
    UNION ALL
    SELECT m.raw_event_id FROM wabahook.inbound_message m
    WHERE m.channel = c.name AND m.wa_id = %(wa_id)s
    UNION ALL
    SELECT s.raw_event_id FROM wabahook.status_event s
    WHERE s.channel = c.name AND s.recipient_id = %(wa_id)s
    UNION ALL
    SELECT m.raw_event_id FROM wabahook.inbound_message m
    WHERE m.channel = c.name AND m.user_id = %(wa_id)s
    UNION ALL
    SELECT s.raw_event_id FROM wabahook.status_event s
    WHERE s.channel = c.name AND s.recipient_user_id = %(wa_id)s
    UNION ALL
    SELECT s.raw_event_id FROM wabahook.status_event s
    WHERE s.channel = c.name AND s.participant = %(wa_id)s AND s.participant <> ''
    UNION ALL
    SELECT x.raw_event_id FROM wabahook.message_change x
    WHERE x.channel = c.name AND x.wa_id = %(wa_id)s
    UNION ALL
    SELECT p.raw_event_id FROM wabahook.marketing_preference_event p
    WHERE p.channel = c.name AND (p.wa_id = %(wa_id)s OR p.user_id = %(wa_id)s)
) f
WHERE %(channels)s::text[] IS NULL OR c.name = ANY(%(channels)s);

-- name: lookup_related_events
-- Events a projected fact stands for that projected nothing of their own: deliveries of
-- the same bytes as %(ids)s (sender retries; facts keep the first), and events not
-- projected (queued, failed, rejected) whose body holds one of %(needles)s.
SELECT twin.id
FROM wabahook.raw_events r
JOIN wabahook.raw_events twin ON twin.channel = r.channel AND twin.body_sha256 = r.body_sha256
WHERE r.id = ANY(%(ids)s)
UNION
SELECT u.raw_event_id
FROM (SELECT q.raw_event_id, q.received_at, q.channel FROM wabahook.event_queue q
      UNION ALL
      SELECT x.raw_event_id, x.received_at, x.channel FROM wabahook.event_results x
      WHERE x.state = 'rejected') u
JOIN wabahook.raw_events r ON r.id = u.raw_event_id AND r.received_at = u.received_at
WHERE (%(channels)s::text[] IS NULL OR u.channel = ANY(%(channels)s))
  AND EXISTS (SELECT 1 FROM unnest(%(needles)s::bytea[]) n WHERE position(n IN r.body) > 0);

-- name: lookup_counts_in_view
-- One part of a UNION ALL (one per public view of projected rows, {view} and its {label}):
-- how many rows each of %(ids)s projected into it.
SELECT raw_event_id, {label} AS view, count(*) AS rows
FROM wabahook.{view}
WHERE raw_event_id = ANY(%(ids)s)
GROUP BY raw_event_id

-- name: lookup_rows_in_view
-- `events show`: the rows event %(id)s projected into public view {view}.
SELECT to_jsonb(v) AS row
FROM wabahook.{view} v
WHERE v.channel = %(channel)s AND v.raw_event_id = %(id)s

-- name: lookup_event
-- `events show`: one stored delivery and its processing state.
SELECT r.id, r.channel, r.received_at, r.body, r.body_sha256, r.content_type, r.headers,
       host(r.client_addr) AS client_addr, r.request_id, l.state, l.error, l.attempts,
       l.format, l.notes, l.processed_at, l.next_attempt_at, l.duplicate_delivery
FROM wabahook.raw_events r
JOIN wabahook.raw_event_log l ON l.raw_event_id = r.id AND l.received_at = r.received_at
WHERE r.id = %(id)s;

-- name: lookup_same_bytes
-- The other deliveries of event %(id)s's bytes on its channel (sender retries), oldest first.
SELECT id, received_at, count(*) OVER () AS total
FROM wabahook.raw_events
WHERE channel = %(channel)s AND body_sha256 = %(body_sha256)s AND id <> %(id)s
ORDER BY id
LIMIT %(limit)s;

-- name: lookup_message_channels
-- `messages show`: the channels on which message %(message_id)s is known.
SELECT c.name AS channel
FROM wabahook.channels c
WHERE (%(channel)s::text IS NULL OR c.name = %(channel)s)
  AND (EXISTS (SELECT 1 FROM wabahook.status_event s
               WHERE s.channel = c.name AND s.message_id = %(message_id)s)
       OR EXISTS (SELECT 1 FROM wabahook.inbound_message m
                  WHERE m.channel = c.name AND m.message_id = %(message_id)s)
       OR EXISTS (SELECT 1 FROM wabahook.message_change x
                  WHERE x.channel = c.name AND x.message_id = %(message_id)s)
       OR EXISTS (SELECT 1 FROM wabahook.message_echo o
                  WHERE o.channel = c.name AND o.message_id = %(message_id)s))
ORDER BY c.name;

-- name: lookup_message_statuses
-- Every status of one outbound message by time (at the same second in progress order),
-- each error with its code's class (as failures_daily reads them).
SELECT s.status, s.status_at, s.recipient_id, s.conversation_id, s.conversation_category,
       s.pricing_category, s.pricing_model, s.pricing_type, s.billable, s.raw_event_id,
       s.received_at, s.person_id, s.recipient_user_id, s.recipient_type,
       coalesce(s.participant_id, s.participant_user_id) AS participant,
       coalesce((
           SELECT jsonb_agg(jsonb_build_object(
                      'code', e.code, 'title', coalesce(e.error ->> 'title', k.title),
                      'details', e.error #>> '{error_data,details}',
                      'class', wabahook.error_class(e.code)) ORDER BY e.n)
           FROM (SELECT x.error, x.n,
                        CASE WHEN x.error ->> 'code' ~ '^-?[0-9]{1,9}$'
                             THEN (x.error ->> 'code')::integer END AS code
                 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(s.errors) = 'array'
                                                THEN s.errors ELSE '[]' END)
                      WITH ORDINALITY AS x(error, n)) e
           LEFT JOIN wabahook.error_codes k ON k.code = e.code
       ), '[]') AS errors
FROM wabahook.status_events s
WHERE s.channel = %(channel)s AND s.message_id = %(message_id)s
ORDER BY s.status_at,
         array_position(ARRAY['sent', 'delivered', 'read', 'played', 'failed', 'deleted'], s.status),
         s.status, s.raw_event_id;

-- name: lookup_delivery_status
SELECT * FROM wabahook.delivery_status WHERE channel = %(channel)s AND message_id = %(message_id)s;

-- name: lookup_inbound_message
-- One inbound message and its sender's current profile name.
SELECT m.*, c.profile_name
FROM wabahook.messages_inbound m
LEFT JOIN wabahook.contacts c ON c.channel = m.channel AND c.wa_id = m.wa_id
WHERE m.channel = %(channel)s AND m.message_id = %(message_id)s;

-- name: lookup_message_changes
SELECT change, changed_at, change_message_id, text, raw_event_id
FROM wabahook.message_changes
WHERE channel = %(channel)s AND message_id = %(message_id)s
ORDER BY changed_at, raw_event_id, change_message_id;

-- name: lookup_message_echo
SELECT "from", "to", type, sent_at, text, raw_event_id
FROM wabahook.message_echoes
WHERE channel = %(channel)s AND message_id = %(message_id)s;
