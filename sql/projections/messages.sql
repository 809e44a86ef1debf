-- Inbound messages (processors/pipeline/projections/messages.py).
-- The project_* queries write the staged items of the events {ids} (an array of event
-- ids, NULL: all of them) into the projection tables of the schema {projections}.

-- name: stage_message
-- The staging table, filled by COPY: raw_event_id, channel, then the module's `columns`.
CREATE TEMP TABLE IF NOT EXISTS stage_message (
    raw_event_id bigint, channel text, message_id text, wa_id text, type text, sent_at bigint,
    phone_number_id text, text text, context_message_id text, contact_name text, path text,
    user_id text, parent_user_id text, username text, group_id text
) ON COMMIT DELETE ROWS;

-- name: project_messages
INSERT INTO {projections}.inbound_message AS t
    (channel, message_id, wa_id, type, sent_at, phone_number_id, text, context_message_id,
     contact_name, payload, raw_event_id, received_at, user_id, parent_user_id, username,
     group_id)
SELECT DISTINCT ON (s.channel, s.message_id)
       s.channel, s.message_id, s.wa_id, s.type, to_timestamp(s.sent_at), s.phone_number_id,
       s.text, s.context_message_id, s.contact_name, (SELECT p.payload FROM stage_payload p WHERE (p.raw_event_id, p.path) = (s.raw_event_id, s.path)),
       s.raw_event_id, d.received_at, s.user_id, s.parent_user_id, s.username, s.group_id
FROM stage_message s JOIN stage_doc d USING (raw_event_id)
WHERE {ids}::bigint[] IS NULL OR s.raw_event_id = ANY({ids})
ORDER BY s.channel, s.message_id, s.raw_event_id, s.path
ON CONFLICT (channel, message_id) DO UPDATE SET
    (wa_id, type, sent_at, phone_number_id, text, context_message_id, contact_name, payload,
     raw_event_id, received_at, user_id, parent_user_id, username, group_id)
  = (excluded.wa_id, excluded.type, excluded.sent_at, excluded.phone_number_id, excluded.text,
     excluded.context_message_id, excluded.contact_name, excluded.payload, excluded.raw_event_id,
     excluded.received_at, excluded.user_id, excluded.parent_user_id, excluded.username,
     excluded.group_id)
WHERE excluded.raw_event_id < t.raw_event_id;
