-- Coexistence history and a 360dialog partner's events (processors/pipeline/projections/
-- history.py, partner_events.py). The public SQL surface. Columns may be added, never
-- renamed or dropped.

-- A number's history sync, per phase: how many chunks came, how far it got, whether
-- the business declined, when its first and its latest new chunk came (a repeat of a
-- chunk is no news). A refusal carries no phase: its row's phase is NULL.
CREATE VIEW wabahook.history_syncs AS
SELECT channel, phone_number_id, phase,
       count(DISTINCT chunk_order)::integer AS chunks,
       max(progress) AS progress,
       coalesce(max(progress) = 100, false) AS completed,
       min(error_code) AS error_code,
       min(received_at) AS first_received_at,
       max(received_at) AS last_received_at,
       min(waba_id) AS waba_id
FROM wabahook.history_chunk
GROUP BY channel, phone_number_id, phase;
COMMENT ON VIEW wabahook.history_syncs IS
    'One row per (channel, phone_number_id, phase) of a Coexistence history sync: chunks '
    'received, progress (0-100), completed, error_code (2593109: the business declined).';

-- One row per number's history sync (all phases): what `stats`, the report and the
-- console show.
CREATE VIEW wabahook.history_progress AS
SELECT s.channel, s.phone_number_id, max(s.progress) AS progress,
       bool_or(s.completed) AS completed, sum(s.chunks)::integer AS chunks,
       min(s.error_code) AS error_code, min(s.first_received_at) AS first_received_at,
       max(s.last_received_at) AS last_received_at,
       coalesce(min(m.messages), 0)::integer AS messages,
       coalesce(min(m.media_pending), 0)::integer AS media_pending
FROM wabahook.history_syncs s
LEFT JOIN (
    SELECT channel, phone_number_id, count(*) AS messages,
           count(*) FILTER (WHERE placeholder) AS media_pending
    FROM wabahook.history_message
    GROUP BY channel, phone_number_id
) m ON m.channel = s.channel AND m.phone_number_id IS NOT DISTINCT FROM s.phone_number_id
GROUP BY s.channel, s.phone_number_id;
COMMENT ON VIEW wabahook.history_progress IS
    'One row per (channel, phone_number_id) of a Coexistence history sync, all phases: '
    'progress, completed, chunks, error_code, messages, media_pending (media still due).';

-- media_pending: a media_placeholder whose media has not followed (yet; Meta sends media
-- only for the last 14 days before onboarding).
CREATE VIEW wabahook.history_messages AS
SELECT channel, message_id,
       -- The person of the user id, else of the number (as the relay's facts name them).
       coalesce((SELECT min(pi.person_id) FROM wabahook.person_ids pi
                 WHERE pi.kind = 'user' AND pi.identifier = h.user_id),
                (SELECT min(pi.person_id) FROM wabahook.person_ids pi
                 WHERE pi.kind = 'phone' AND pi.identifier = h.wa_id)) AS person_id,
       direction, type, text, sent_at, status, placeholder AS media_pending, wa_id, user_id,
       phone_number_id, payload, raw_event_id, received_at
FROM wabahook.history_message h;
COMMENT ON VIEW wabahook.history_messages IS
    'Every message of a Coexistence history (one row per channel and message id): inbound '
    'from the customer, outbound from the business, with its status and device time.';

CREATE VIEW wabahook.partner_events AS
SELECT channel, event_id, event, client_id, phone_number, status, details, event_at,
       raw_event_id, received_at
FROM wabahook.partner_event;
COMMENT ON VIEW wabahook.partner_events IS
    'A 360dialog partner''s own events (channel_created, channel_ready, account_violation, '
    '...): one row per event id, else per body.';
