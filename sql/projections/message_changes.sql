-- Edits and revokes of inbound messages (processors/projections/message_changes.py).
-- The project_* queries write the staged items of the events {ids} (an array of event
-- ids, NULL: all of them) into the projection tables of the schema {projections}.

-- name: stage_message_change
-- The staging table, filled by COPY: raw_event_id, channel, then the module's `columns`.
CREATE TEMP TABLE IF NOT EXISTS stage_message_change (
    raw_event_id bigint, channel text, change_message_id text, message_id text, change text,
    changed_at bigint, wa_id text, user_id text, phone_number_id text, text text, path text
) ON COMMIT DELETE ROWS;

-- name: project_message_changes
-- A change without a usable time of its own (nor entry.time) happened when it arrived.
INSERT INTO {projections}.message_change AS t
    (channel, change_message_id, message_id, change, changed_at, wa_id, user_id,
     phone_number_id, text, payload, raw_event_id, received_at)
SELECT DISTINCT ON (s.channel, s.change_message_id)
       s.channel, s.change_message_id, s.message_id, s.change,
       coalesce(to_timestamp(s.changed_at), d.received_at), s.wa_id, s.user_id,
       s.phone_number_id, s.text, (SELECT p.payload FROM stage_payload p WHERE (p.raw_event_id, p.path) = (s.raw_event_id, s.path)),
       s.raw_event_id, d.received_at
FROM stage_message_change s JOIN stage_doc d USING (raw_event_id)
WHERE {ids}::bigint[] IS NULL OR s.raw_event_id = ANY({ids})
ORDER BY s.channel, s.change_message_id, s.raw_event_id, s.path
ON CONFLICT (channel, change_message_id) DO UPDATE SET
    (message_id, change, changed_at, wa_id, user_id, phone_number_id, text, payload,
     raw_event_id, received_at)
  = (excluded.message_id, excluded.change, excluded.changed_at, excluded.wa_id,
     excluded.user_id, excluded.phone_number_id, excluded.text, excluded.payload,
     excluded.raw_event_id, excluded.received_at)
WHERE excluded.raw_event_id < t.raw_event_id;
