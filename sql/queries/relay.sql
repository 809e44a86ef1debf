-- Destinations and the relay's deliveries.

-- name: destination_add
INSERT INTO wabahook.destinations
    (name, url, format, channels, kinds, max_in_flight, max_age, timeout_seconds, ordered,
     allow_addresses)
VALUES (%(name)s, %(url)s, %(format)s, %(channels)s, %(kinds)s, %(max_in_flight)s,
        make_interval(secs => %(max_age)s), %(timeout)s, %(ordered)s, %(allow_addresses)s)
ON CONFLICT (name) DO NOTHING
RETURNING id;

-- name: destination_secret_add
INSERT INTO wabahook.destination_secrets (destination_id, sealed)
VALUES (%(destination)s, %(sealed)s);

-- name: destination_secrets_expire_others
UPDATE wabahook.destination_secrets SET expires_at = now()
WHERE destination_id = %(destination)s AND id <> (
    SELECT max(id) FROM wabahook.destination_secrets WHERE destination_id = %(destination)s
) AND (expires_at IS NULL OR expires_at > now());

-- name: destination_valid_secrets
SELECT sealed FROM wabahook.destination_secrets
WHERE destination_id = %(destination)s AND (expires_at IS NULL OR expires_at > now())
ORDER BY id DESC;

-- name: destinations_all
SELECT d.id, d.name, d.url, d.format, d.channels, d.kinds, d.max_in_flight,
       extract(epoch FROM d.max_age)::float8 AS max_age_seconds, d.timeout_seconds,
       d.ordered, d.allow_addresses, d.paused, d.created_at,
       count(r.*) FILTER (WHERE r.state IN ('pending', 'retrying')) AS pending,
       count(r.*) FILTER (WHERE r.state = 'delivered') AS delivered,
       count(r.*) FILTER (WHERE r.state = 'dead') AS dead,
       min(r.stored_at) FILTER (WHERE r.state IN ('pending', 'retrying')) AS oldest_pending_at
FROM wabahook.destinations d
LEFT JOIN wabahook.relay_deliveries r ON r.destination_id = d.id
GROUP BY d.id
ORDER BY d.name;

-- name: destination_set_paused
UPDATE wabahook.destinations SET paused = %(paused)s WHERE name = %(name)s RETURNING id;

-- name: destination_remove
DELETE FROM wabahook.destinations WHERE name = %(name)s RETURNING id;

-- name: destination_id
SELECT id FROM wabahook.destinations WHERE name = %(name)s;

-- name: relay_horizon
-- The oldest transaction that may still store an event: of the transactions writing to
-- raw_events now (their lock on it is taken before their id is given), the oldest;
-- else the next id to be given. Not the snapshot's oldest running transaction: that
-- one may be anyone's, in any database of the cluster (a long report, a rebuild), and
-- would hold every delivery back. pg_locks shows ids in 32 bits: widened by the epoch.
WITH snap AS (
    SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS next
), writers AS (
    SELECT DISTINCT x.transactionid::text::bigint AS low
    FROM pg_locks r
    JOIN pg_locks x ON x.pid = r.pid AND x.locktype = 'transactionid' AND x.mode = 'ExclusiveLock'
    WHERE r.locktype = 'relation' AND r.mode = 'RowExclusiveLock' AND r.pid <> pg_backend_pid()
      AND r.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND (r.relation = 'wabahook.raw_events'::regclass OR r.relation IN (
          SELECT inhrelid FROM pg_inherits WHERE inhparent = 'wabahook.raw_events'::regclass))
)
SELECT least(
    min(snap.next),
    min((snap.next >> 32 << 32) + w.low
        - CASE WHEN (snap.next >> 32 << 32) + w.low > snap.next THEN 4294967296 ELSE 0 END)
) AS horizon
FROM snap LEFT JOIN writers w ON true;

-- name: relay_destinations_behind
-- Raw destinations whose queue is behind the horizon; one relay scans each at a time.
SELECT id, channels, horizon FROM wabahook.destinations
WHERE format = 'raw' AND horizon < %(horizon)s
ORDER BY id
FOR UPDATE SKIP LOCKED;

-- name: relay_queue_events
-- Every event of a transaction in [horizon, new horizon): all of them have ended, so
-- none can appear later below the new horizon.
INSERT INTO wabahook.relay_deliveries
    (destination_id, raw_event_id, channel, stored_at, age_from)
SELECT %(destination)s, e.id, e.channel, e.received_at, e.received_at
FROM wabahook.raw_events e
WHERE e.stored_xid >= %(after)s AND e.stored_xid < %(until)s
  AND (cardinality(%(channels)s::text[]) = 0 OR e.channel = ANY (%(channels)s::text[]))
ON CONFLICT DO NOTHING;

-- name: relay_move_horizon
UPDATE wabahook.destinations SET horizon = %(horizon)s WHERE id = %(destination)s;

-- name: relay_queue_stored
-- Selected stored events (wabahook.selected_events()) for a raw destination, from the
-- channels it takes (--from-start, replay --to-destination): sent again if they were
-- delivered or dead before, with --max-age counted from now. Each stored event locked
-- (key share) meanwhile: retention deletes none it would then queue.
INSERT INTO wabahook.relay_deliveries
    (destination_id, raw_event_id, channel, stored_at, age_from)
SELECT d.id, e.raw_event_id, e.channel, e.received_at, now()
FROM wabahook.destinations d,
     wabahook.selected_events(%(channels)s::text[], %(since)s::timestamptz,
                              %(until)s::timestamptz, %(ids)s::bigint[], %(states)s::text[]) e
JOIN wabahook.raw_events r ON r.id = e.raw_event_id AND r.received_at = e.received_at
WHERE d.name = %(destination)s
  AND (cardinality(d.channels) = 0 OR e.channel = ANY (d.channels))
FOR KEY SHARE OF r
ON CONFLICT (destination_id, raw_event_id, fact_key) DO UPDATE
SET state = 'pending', next_attempt_at = now(), leased_until = NULL, age_from = now()
WHERE relay_deliveries.state IN ('delivered', 'dead');

-- name: destination_format
SELECT format FROM wabahook.destinations WHERE name = %(name)s;

-- name: relay_destinations_active
SELECT d.id, d.name, d.url, d.max_in_flight, extract(epoch FROM d.max_age)::float8 AS max_age,
       d.timeout_seconds, d.ordered, d.allow_addresses,
       ARRAY(SELECT s.id FROM wabahook.destination_secrets s
             WHERE s.destination_id = d.id AND (s.expires_at IS NULL OR s.expires_at > now())
             ORDER BY s.id) AS secret_ids
FROM wabahook.destinations d
WHERE NOT d.paused
ORDER BY d.id;

-- name: relay_claim
-- Due deliveries of a destination, leased, with the stored bytes of raw ones (a fact
-- carries its own JSON): one round trip.
WITH claimed AS (
    UPDATE wabahook.relay_deliveries r
    SET leased_until = now() + make_interval(secs => %(lease)s)
    WHERE r.id IN (
        SELECT id FROM wabahook.relay_deliveries
        WHERE destination_id = %(destination)s AND state IN ('pending', 'retrying')
          AND next_attempt_at <= now() AND (leased_until IS NULL OR leased_until < now())
          AND id <> ALL (%(held)s::bigint[])  -- still in flight here, whatever their lease
        ORDER BY next_attempt_at, id
        LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    )
    RETURNING r.id, r.raw_event_id, r.channel, r.attempts, r.age_from, r.fact_key, r.payload,
              r.leased_until, r.stored_at
)
-- A sender's retry of an erased delivery goes out as the erasure rewrote those bytes.
SELECT c.*, coalesce(wabahook.erased_body(e.body_sha256), e.body) AS body, e.content_type,
       e.id IS NOT NULL AS stored
FROM claimed c
-- received_at too: the partition is known, the others are not searched.
LEFT JOIN wabahook.raw_events e
       ON c.payload IS NULL AND e.id = c.raw_event_id AND e.received_at = c.stored_at;

-- name: relay_claim_ordered
-- The first undelivered event of each channel, if it is due and nobody holds it: one at
-- a time per channel, in event id order (a dead one no longer holds the line).
WITH claimed AS (
    UPDATE wabahook.relay_deliveries r
    SET leased_until = now() + make_interval(secs => %(lease)s)
    WHERE r.id IN (
        SELECT head.id FROM (
            SELECT DISTINCT ON (channel) id, next_attempt_at, leased_until
            FROM wabahook.relay_deliveries
            WHERE destination_id = %(destination)s AND state IN ('pending', 'retrying')
            ORDER BY channel, raw_event_id, fact_key
        ) head
        WHERE head.next_attempt_at <= now()
          AND (head.leased_until IS NULL OR head.leased_until < now())
        LIMIT %(limit)s
    )
      -- Checked again on the row itself: another relay may have leased it meanwhile.
      AND (r.leased_until IS NULL OR r.leased_until < now())
      AND r.id <> ALL (%(held)s::bigint[])  -- still in flight here, whatever its lease
    RETURNING r.id, r.raw_event_id, r.channel, r.attempts, r.age_from, r.fact_key, r.payload,
              r.leased_until, r.stored_at
)
-- A sender's retry of an erased delivery goes out as the erasure rewrote those bytes.
SELECT c.*, coalesce(wabahook.erased_body(e.body_sha256), e.body) AS body, e.content_type,
       e.id IS NOT NULL AS stored
FROM claimed c
-- received_at too: the partition is known, the others are not searched.
LEFT JOIN wabahook.raw_events e
       ON c.payload IS NULL AND e.id = c.raw_event_id AND e.received_at = c.stored_at;

-- name: relay_record
-- The outcomes of finished attempts, all in one statement (arrays of equal length). Each
-- only where its lease is still the one its attempt was made under: a relay that took
-- the delivery over (the lease ran out) records its own attempt.
UPDATE wabahook.relay_deliveries r
SET state = o.state,
    attempts = r.attempts + 1,
    last_status = o.status,
    last_error = o.error,
    last_attempt_at = now(),
    next_attempt_at = now() + make_interval(secs => o.delay),
    delivered_at = CASE WHEN o.state = 'delivered' THEN now() END,
    leased_until = NULL
FROM unnest(%(ids)s::bigint[], %(states)s::text[], %(statuses)s::integer[], %(errors)s::text[],
            %(delays)s::float8[], %(leases)s::timestamptz[])
     AS o (id, state, status, error, delay, leased_until)
WHERE r.id = o.id AND r.leased_until = o.leased_until;

-- name: deliveries_list
SELECT destination, raw_event_id, channel, state, attempts, last_status, last_error,
       last_attempt_at, next_attempt_at, delivered_at, stored_at, latency_ms
FROM wabahook.destination_deliveries
WHERE (%(destination)s::text IS NULL OR destination = %(destination)s)
  AND (%(state)s::text IS NULL OR state = %(state)s)
  AND (%(since)s::timestamptz IS NULL OR stored_at >= %(since)s)
ORDER BY stored_at DESC, raw_event_id DESC, destination
LIMIT %(limit)s;

-- name: deliveries_retry
SELECT wabahook.retry_deliveries(%(destination)s, %(ids)s::bigint[], %(dead)s) AS revived;

-- name: relay_facts_wanted
-- Whether any destination takes facts: else a drain queues none (one cheap look a batch).
SELECT EXISTS (SELECT FROM wabahook.destinations WHERE format = 'facts') AS wanted;

-- name: relay_queue_facts
-- The facts of this batch's projected events {ids}, for each facts destination that
-- takes their channel and type, in the drain's transaction (staged rows still there).
-- message.status carries the message's status after the batch: it never moves back.
WITH fact AS ((
    SELECT DISTINCT ON (s.channel, s.message_id)
           s.raw_event_id, s.channel, 'message.received' AS type,
           concat_ws(':', 'message', s.channel, s.message_id) AS fact_key,
           jsonb_build_object(
               'type', 'message.received', 'channel', s.channel, 'message_id', s.message_id,
               'wa_id', s.wa_id, 'user_id', s.user_id, 'parent_user_id', s.parent_user_id,
               'username', s.username, 'group_id', s.group_id,
               'message_type', s.type, 'text', s.text,
               'sent_at', wabahook.utc_text(to_timestamp(s.sent_at)),
               'context_message_id', s.context_message_id, 'phone_number_id', s.phone_number_id,
               'profile_name', s.contact_name, 'raw_event_id', s.raw_event_id,
               'person_id', wabahook.person_of(
                   CASE WHEN s.user_id IS NOT NULL THEN 'user' ELSE 'phone' END,
                   coalesce(s.user_id, s.wa_id))) AS payload
    FROM stage_message s
    WHERE s.raw_event_id = ANY (%(ids)s::bigint[])
    ORDER BY s.channel, s.message_id, s.raw_event_id
    ) UNION ALL (
    SELECT DISTINCT ON (s.channel, s.message_id, s.status, s.status_at, s.participant)
           s.raw_event_id, s.channel, 'message.status',
           concat_ws(':', 'status', s.channel, s.message_id, s.status, s.status_at,
                     nullif(s.participant, '')),
           jsonb_build_object(
               'type', 'message.status', 'channel', s.channel, 'message_id', s.message_id,
               'status', s.status,
               'status_at', wabahook.utc_text(to_timestamp(s.status_at)),
               'current_status', ds.status, 'recipient_id', s.recipient_id,
               'recipient_user_id', s.recipient_user_id,
               'recipient_parent_user_id', s.recipient_parent_user_id,
               'participant_id', s.participant_id, 'participant_user_id', s.participant_user_id,
               'error_codes', to_jsonb(s.error_codes), 'pricing_category', s.pricing_category,
               'pricing_type', s.pricing_type, 'conversation_id', s.conversation_id,
               'biz_opaque_callback_data', s.biz_opaque_callback_data,
               'phone_number_id', s.phone_number_id, 'raw_event_id', s.raw_event_id,
               'person_id', CASE
                   WHEN s.recipient_type = 'group' AND s.participant_user_id IS NOT NULL
                       THEN wabahook.person_of('user', s.participant_user_id)
                   WHEN s.recipient_type = 'group'
                       THEN wabahook.person_of('phone', s.participant_id)
                   WHEN s.recipient_user_id IS NOT NULL
                       THEN wabahook.person_of('user', s.recipient_user_id)
                   ELSE wabahook.person_of('phone', s.recipient_id) END)
    FROM stage_status s
    LEFT JOIN wabahook.delivery_status ds
           ON ds.channel = s.channel AND ds.message_id = s.message_id
    WHERE s.raw_event_id = ANY (%(ids)s::bigint[])
    ORDER BY s.channel, s.message_id, s.status, s.status_at, s.participant, s.raw_event_id
    ) UNION ALL (
    SELECT DISTINCT ON (c.channel, c.message_id, c.change, c.change_message_id)
           c.raw_event_id, c.channel, 'message.changed',
           concat_ws(':', 'change', c.channel, c.message_id, c.change, c.change_message_id),
           jsonb_build_object(
               'type', 'message.changed', 'channel', c.channel, 'message_id', c.message_id,
               'change', c.change, 'change_message_id', c.change_message_id, 'text', c.text,
               'changed_at', wabahook.utc_text(to_timestamp(c.changed_at)),
               'wa_id', c.wa_id, 'user_id', c.user_id, 'phone_number_id', c.phone_number_id,
               'raw_event_id', c.raw_event_id,
               'person_id', wabahook.person_of(
                   CASE WHEN c.user_id IS NOT NULL THEN 'user' ELSE 'phone' END,
                   coalesce(c.user_id, c.wa_id)))
    FROM stage_message_change c
    WHERE c.raw_event_id = ANY (%(ids)s::bigint[])
    ORDER BY c.channel, c.message_id, c.change, c.change_message_id, c.raw_event_id
    ) UNION ALL (
    SELECT DISTINCT ON (p.channel, p.wa_id, p.category, p.value, p.changed_at)
           p.raw_event_id, p.channel, 'opt_out.changed',
           concat_ws(':', 'preference', p.channel, p.wa_id, p.category, p.value, p.changed_at),
           jsonb_build_object(
               'type', 'opt_out.changed', 'channel', p.channel, 'wa_id', p.wa_id,
               'category', p.category, 'value', p.value, 'detail', p.detail,
               'changed_at', wabahook.utc_text(to_timestamp(p.changed_at)),
               'source', p.source, 'raw_event_id', p.raw_event_id, 'user_id', p.user_id,
               'person_id', wabahook.person_of(
                   CASE WHEN p.user_id IS NOT NULL THEN 'user' ELSE 'phone' END,
                   coalesce(p.user_id, p.wa_id)))
    FROM stage_preference p
    WHERE p.raw_event_id = ANY (%(ids)s::bigint[])
    ORDER BY p.channel, p.wa_id, p.category, p.value, p.changed_at, p.raw_event_id
    ) UNION ALL (
    -- Management notifications: keyed like their projection rows, so a notification
    -- delivered again (the same bytes) is the same fact.
    SELECT DISTINCT ON (t.channel, k.key)
           t.raw_event_id, t.channel, 'template.updated', concat_ws(':', 'template', k.key),
           jsonb_build_object(
               'type', 'template.updated', 'channel', t.channel, 'waba_id', t.waba_id,
               'template_id', t.template_id, 'template_name', t.template_name,
               'language', t.language, 'kind', t.kind, 'event', t.event,
               'previous', t.previous, 'reason', t.reason, 'category', t.category,
               'correct_category', t.correct_category,
               'category_update_at', wabahook.utc_text(to_timestamp(t.category_update_at)),
               'event_at', wabahook.utc_text(coalesce(to_timestamp(t.entry_time), d.received_at)),
               'raw_event_id', t.raw_event_id)
    FROM stage_template_event t JOIN stage_doc d USING (raw_event_id)
    CROSS JOIN LATERAL (
        SELECT t.channel || ':' || encode(wabahook.management_key(
            t.waba_id, t.field, t.kind, t.template_id, t.event, t.entry_time, d.body_sha256,
            t.position), 'hex') AS key
    ) k
    WHERE t.raw_event_id = ANY (%(ids)s::bigint[])
    ORDER BY t.channel, k.key, t.raw_event_id, t.position
    ) UNION ALL (
    SELECT DISTINCT ON (a.channel, k.key)
           a.raw_event_id, a.channel, 'account.event', concat_ws(':', 'account', k.key),
           jsonb_build_object(
               'type', 'account.event', 'channel', a.channel, 'waba_id', a.waba_id,
               'field', a.field, 'event', a.event, 'severity', a.severity,
               'entity_type', a.entity_type, 'entity_id', a.entity_id,
               'alert_status', a.alert_status, 'display_phone_number', a.display_phone_number,
               'details', (SELECT p.payload FROM stage_payload p WHERE (p.raw_event_id, p.path) = (a.raw_event_id, a.path)),
               'event_at', wabahook.utc_text(coalesce(to_timestamp(a.entry_time), d.received_at)),
               'raw_event_id', a.raw_event_id)
    FROM stage_account_event a JOIN stage_doc d USING (raw_event_id)
    CROSS JOIN LATERAL (
        SELECT a.channel || ':' || encode(wabahook.management_key(
            a.waba_id, a.field, NULL, coalesce(a.entity_id, a.display_phone_number), a.event,
            a.entry_time, d.body_sha256, a.position), 'hex') AS key
    ) k
    WHERE a.raw_event_id = ANY (%(ids)s::bigint[])
    ORDER BY a.channel, k.key, a.raw_event_id, a.position
    ) UNION ALL (
    SELECT DISTINCT ON (n.channel, k.key)
           n.raw_event_id, n.channel, 'phone_number.updated', concat_ws(':', 'number', k.key),
           jsonb_build_object(
               'type', 'phone_number.updated', 'channel', n.channel, 'waba_id', n.waba_id,
               'field', n.field, 'event', n.event,
               'display_phone_number', n.display_phone_number, 'username', n.username,
               'old_limit', n.old_limit, 'current_limit', n.current_limit,
               'requested_name', n.requested_name, 'rejection_reason', n.rejection_reason,
               'details', (SELECT p.payload FROM stage_payload p WHERE (p.raw_event_id, p.path) = (n.raw_event_id, n.path)),
               'event_at', wabahook.utc_text(coalesce(to_timestamp(n.entry_time), d.received_at)),
               'raw_event_id', n.raw_event_id)
    FROM stage_phone_number_event n JOIN stage_doc d USING (raw_event_id)
    CROSS JOIN LATERAL (
        SELECT n.channel || ':' || encode(wabahook.management_key(
            n.waba_id, n.field, NULL, n.display_phone_number, n.event, n.entry_time,
            d.body_sha256, n.position), 'hex') AS key
    ) k
    WHERE n.raw_event_id = ANY (%(ids)s::bigint[])
    ORDER BY n.channel, k.key, n.raw_event_id, n.position
    ) UNION ALL (
    -- A Groups API item, keyed by its field and content like its group_event row.
    SELECT DISTINCT ON (g.channel, k.key)
           g.raw_event_id, g.channel, 'group.updated', concat_ws(':', 'group', k.key),
           jsonb_build_object(
               'type', 'group.updated', 'channel', g.channel, 'group_id', g.group_id,
               'field', g.field, 'event', g.type, 'request_id', g.request_id,
               'reason', g.reason, 'initiated_by', g.initiated_by, 'succeeded', g.succeeded,
               'details', k.item,
               'event_at', wabahook.utc_text(coalesce(to_timestamp(g.event_at), d.received_at)),
               'phone_number_id', g.phone_number_id, 'raw_event_id', g.raw_event_id)
    FROM stage_group_event g JOIN stage_doc d USING (raw_event_id)
    CROSS JOIN LATERAL (
        SELECT i.item, g.channel || ':' || encode(sha256(convert_to(
                   jsonb_build_array(g.field, i.item)::text, 'UTF8')), 'hex') AS key
        FROM (SELECT (SELECT p.payload FROM stage_payload p WHERE (p.raw_event_id, p.path) = (g.raw_event_id, g.path)) AS item) i
    ) k
    WHERE g.raw_event_id = ANY (%(ids)s::bigint[])
    ORDER BY g.channel, k.key, g.raw_event_id, g.path
    ) UNION ALL (
    -- A conversion Meta detected in an ad's conversation, keyed like its ad_conversion row;
    -- its person: the customer of the first inbound message from the same ad click (as
    -- ad_attribution names it).
    SELECT DISTINCT ON (c.channel, c.message_id, c.event_name, c.event_at)
           c.raw_event_id, c.channel, 'conversion',
           -- A digest of the key's parts: the sender's texts may hold any separator.
           'conversion:' || encode(sha256(convert_to(jsonb_build_array(
               c.channel, c.message_id, c.event_name, c.event_at)::text, 'UTF8')), 'hex'),
           jsonb_build_object(
               'type', 'conversion', 'channel', c.channel, 'message_id', c.message_id,
               'event_name', c.event_name, 'ctwa_clid', c.ctwa_clid, 'value', c.value,
               'currency', c.currency, 'event_at', wabahook.utc_text(to_timestamp(c.event_at)),
               'phone_number_id', c.phone_number_id, 'raw_event_id', c.raw_event_id,
               'person_id', (
                   SELECT wabahook.person_of(CASE WHEN m.user_id IS NOT NULL THEN 'user'
                                                  ELSE 'phone' END, coalesce(m.user_id, m.wa_id))
                   FROM wabahook.inbound_message m
                   WHERE m.channel = c.channel
                     AND m.payload #>> '{referral,ctwa_clid}' = c.ctwa_clid
                     AND octet_length(m.payload #>> '{referral,ctwa_clid}') BETWEEN 1 AND 512
                   ORDER BY m.sent_at, m.message_id LIMIT 1))
    FROM stage_ad_conversion c
    WHERE c.raw_event_id = ANY (%(ids)s::bigint[]) AND c.event_at IS NOT NULL
    ORDER BY c.channel, c.message_id, c.event_name, c.event_at, c.raw_event_id, c.path
    ) UNION ALL (
    -- A click on a marketing message's link, keyed like its link_click row.
    SELECT DISTINCT ON (l.channel, k.key)
           l.raw_event_id, l.channel, 'link.clicked', concat_ws(':', 'click', l.channel, k.key),
           jsonb_build_object(
               'type', 'link.clicked', 'channel', l.channel, 'action_type', l.action_type,
               'click_id', l.click_id, 'click_component', l.click_component,
               'product_id', l.product_id, 'tracking_token', l.tracking_token,
               'clicked_at', wabahook.utc_text(to_timestamp(l.clicked_at)),
               'phone_number_id', l.phone_number_id, 'raw_event_id', l.raw_event_id)
    FROM stage_link_click l
    CROSS JOIN LATERAL (
        SELECT coalesce('click:' || l.click_id, 'token:' || l.tracking_token || ':' || l.clicked_at,
                        'item:' || encode(sha256(convert_to((
                            SELECT p.payload FROM stage_payload p
                            WHERE (p.raw_event_id, p.path) = (l.raw_event_id, l.path))::text,
                            'UTF8')), 'hex')) AS key
    ) k
    WHERE l.raw_event_id = ANY (%(ids)s::bigint[]) AND l.clicked_at IS NOT NULL
    ORDER BY l.channel, k.key, l.raw_event_id, l.path
    ) UNION ALL (
    -- A WhatsApp Flows notification, keyed like its flow_event row.
    SELECT DISTINCT ON (f.channel, k.key)
           f.raw_event_id, f.channel, 'flow.event', concat_ws(':', 'flow', k.key),
           jsonb_build_object(
               'type', 'flow.event', 'channel', f.channel, 'waba_id', f.waba_id,
               'flow_id', f.flow_id, 'flow_name', f.flow_name, 'event', f.event,
               'old_status', f.old_status, 'new_status', f.new_status,
               'event_at', wabahook.utc_text(coalesce(to_timestamp(f.entry_time), e.received_at)),
               'raw_event_id', f.raw_event_id)
    FROM stage_flow_event f JOIN stage_doc e USING (raw_event_id)
    CROSS JOIN LATERAL (
        SELECT f.channel || ':' || encode(wabahook.management_key(
            f.waba_id, f.field, NULL, f.flow_id, f.event, f.entry_time, e.body_sha256,
            f.position), 'hex') AS key
    ) k
    WHERE f.raw_event_id = ANY (%(ids)s::bigint[])
    ORDER BY f.channel, k.key, f.raw_event_id, f.position
    ) UNION ALL (
    -- A 360dialog partner's event, keyed like its partner_event row.
    SELECT DISTINCT ON (pe.channel, k.key)
           pe.raw_event_id, pe.channel, 'partner.event', concat_ws(':', 'partner', pe.channel, k.key),
           jsonb_build_object(
               'type', 'partner.event', 'channel', pe.channel, 'event_id', pe.event_id,
               'event', pe.event, 'client_id', pe.client_id, 'phone_number', pe.phone_number,
               'status', pe.status,
               'details', (SELECT p.payload FROM stage_payload p
                           WHERE (p.raw_event_id, p.path) = (pe.raw_event_id, pe.path)),
               'event_at', wabahook.utc_text(coalesce(to_timestamp(pe.event_at), e.received_at)),
               'raw_event_id', pe.raw_event_id)
    FROM stage_partner_event pe JOIN stage_doc e USING (raw_event_id)
    CROSS JOIN LATERAL (
        SELECT coalesce('id:' || pe.event_id, 'body:' || encode(e.body_sha256, 'hex')) AS key
    ) k
    WHERE pe.raw_event_id = ANY (%(ids)s::bigint[])
    ORDER BY pe.channel, k.key, pe.raw_event_id
    ) UNION ALL (
    -- A chunk of a Coexistence history sync, keyed like its history_chunk row.
    SELECT DISTINCT ON (h.channel, k.key)
           h.raw_event_id, h.channel, 'history.progress', concat_ws(':', 'history-chunk', h.channel, k.key),
           jsonb_build_object(
               'type', 'history.progress', 'channel', h.channel, 'waba_id', h.waba_id,
               'phone_number_id', h.phone_number_id, 'phase', h.phase,
               'chunk_order', h.chunk_order, 'progress', h.progress,
               'completed', coalesce(h.progress = 100, false), 'error_code', h.error_code,
               'raw_event_id', h.raw_event_id)
    FROM stage_history_chunk h JOIN stage_doc e USING (raw_event_id)
    CROSS JOIN LATERAL (
        SELECT wabahook.history_chunk_key(h.phone_number_id, h.phase, h.chunk_order,
                                          e.body_sha256, h.position) AS key
    ) k
    WHERE h.raw_event_id = ANY (%(ids)s::bigint[])
    ORDER BY h.channel, k.key, h.raw_event_id, h.position
    ) UNION ALL (
    -- A past message of a history thread: once as a placeholder, once with its content
    -- (a placeholder's media comes later, as a fact of its own).
    SELECT DISTINCT ON (m.channel, m.message_id, m.placeholder)
           m.raw_event_id, m.channel, 'history.message',
           concat_ws(':', 'history', m.channel, m.message_id,
                     CASE WHEN m.placeholder THEN 'placeholder' ELSE 'content' END),
           jsonb_build_object(
               'type', 'history.message', 'channel', m.channel, 'message_id', m.message_id,
               'direction', m.direction, 'message_type', m.type, 'text', m.text,
               'sent_at', wabahook.utc_text(to_timestamp(m.sent_at)), 'status', m.status,
               'media_pending', m.placeholder, 'wa_id', m.wa_id, 'user_id', m.user_id,
               'phone_number_id', m.phone_number_id, 'raw_event_id', m.raw_event_id,
               'person_id', wabahook.person_of(
                   CASE WHEN m.user_id IS NOT NULL THEN 'user' ELSE 'phone' END,
                   coalesce(m.user_id, m.wa_id)))
    FROM stage_history_message m
    WHERE m.raw_event_id = ANY (%(ids)s::bigint[])
    ORDER BY m.channel, m.message_id, m.placeholder, m.raw_event_id, m.path
))
INSERT INTO wabahook.relay_deliveries
    (destination_id, raw_event_id, fact_key, channel, stored_at, age_from, payload)
SELECT d.id, f.raw_event_id, f.fact_key, f.channel, e.received_at, e.received_at, f.payload
FROM fact f
JOIN stage_doc e USING (raw_event_id)
JOIN wabahook.destinations d
  ON d.format = 'facts'
 AND (cardinality(d.channels) = 0 OR f.channel = ANY (d.channels))
 AND (cardinality(d.kinds) = 0 OR f.type = ANY (d.kinds))
ON CONFLICT (destination_id, fact_key) WHERE fact_key <> '' DO NOTHING;

-- name: relay_queue_person_facts
-- A person.updated fact for each person this batch created or changed (joined, renamed,
-- given a new identifier), named by the first event that did. Keyed by the person's
-- identifiers: the same person reached again, by a replay or in another order, is the
-- same fact.
WITH fact AS (
    SELECT c.raw_event_id, c.channel, 'person.updated' AS type,
           concat_ws(':', 'person', p.person_id, md5(array_to_string(ids.all_ids, ' '))) AS fact_key,
           jsonb_build_object(
               'type', 'person.updated', 'person_id', p.person_id,
               'wa_ids', to_jsonb(coalesce(ids.wa_ids, '{}')),
               'user_ids', to_jsonb(coalesce(ids.user_ids, '{}')),
               'parent_user_ids', to_jsonb(coalesce(ids.parent_user_ids, '{}')),
               'channel', c.channel, 'raw_event_id', c.raw_event_id) AS payload
    FROM stage_person_changed c
    JOIN wabahook.person p USING (component)
    CROSS JOIN LATERAL (
        SELECT array_agg(i.kind || ':' || i.identifier ORDER BY i.kind, i.identifier COLLATE "C") AS all_ids,
               array_agg(i.identifier ORDER BY i.identifier COLLATE "C") FILTER (WHERE i.kind = 'phone') AS wa_ids,
               array_agg(i.identifier ORDER BY i.identifier COLLATE "C") FILTER (WHERE i.kind = 'user') AS user_ids,
               array_agg(i.identifier ORDER BY i.identifier COLLATE "C") FILTER (WHERE i.kind = 'parent') AS parent_user_ids
        FROM wabahook.person_identifier i WHERE i.component = c.component
    ) ids
)
INSERT INTO wabahook.relay_deliveries
    (destination_id, raw_event_id, fact_key, channel, stored_at, age_from, payload)
SELECT d.id, f.raw_event_id, f.fact_key, f.channel, e.received_at, e.received_at, f.payload
FROM fact f
JOIN wabahook.raw_events e ON e.id = f.raw_event_id
JOIN wabahook.destinations d
  ON d.format = 'facts'
 AND (cardinality(d.channels) = 0 OR f.channel = ANY (d.channels))
 AND (cardinality(d.kinds) = 0 OR f.type = ANY (d.kinds))
ON CONFLICT (destination_id, fact_key) WHERE fact_key <> '' DO NOTHING;

-- name: relay_metrics
SELECT d.name AS destination,
       count(r.*) FILTER (WHERE r.state IN ('pending', 'retrying')) AS pending,
       extract(epoch FROM now() - min(r.stored_at)
           FILTER (WHERE r.state IN ('pending', 'retrying')))::float8 AS oldest_pending_seconds,
       count(r.*) FILTER (WHERE r.state = 'delivered') AS delivered,
       count(r.*) FILTER (WHERE r.state = 'dead') AS dead
FROM wabahook.destinations d
LEFT JOIN wabahook.relay_deliveries r ON r.destination_id = d.id
GROUP BY d.id
ORDER BY d.name;

-- name: destinations_health_all
SELECT destination, paused, pending,
       extract(epoch FROM oldest_pending_age)::float8 AS oldest_pending_seconds,
       delivered_last_hour, dead_last_hour, success_rate, p50_latency_ms, p99_latency_ms
FROM wabahook.destinations_health
ORDER BY destination;

-- name: console_destinations
SELECT * FROM wabahook.destinations_health ORDER BY destination;

-- name: console_deliveries_waiting
-- Deliveries that failed their last attempt: retrying or dead, the newest first.
SELECT destination, raw_event_id, channel, state, attempts, last_status, last_error,
       last_attempt_at, next_attempt_at
FROM wabahook.destination_deliveries
WHERE state IN ('retrying', 'dead')
ORDER BY last_attempt_at DESC NULLS LAST, raw_event_id DESC
LIMIT %(limit)s;
