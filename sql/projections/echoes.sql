-- Message echoes of the Business app (processors/pipeline/projections/echoes.py).
-- The project_* queries write the staged items of the events {ids} (an array of event
-- ids, NULL: all of them) into the projection tables of the schema {projections}.

-- name: stage_echo
-- The staging table, filled by COPY: raw_event_id, channel, then the module's `columns`.
CREATE TEMP TABLE IF NOT EXISTS stage_echo (
    raw_event_id bigint, channel text, message_id text, sender text, recipient text, type text,
    sent_at bigint, text text, waba_id text, phone_number_id text, path text
) ON COMMIT DELETE ROWS;

-- name: project_echoes
INSERT INTO {projections}.message_echo AS t
    (channel, message_id, sender, recipient, type, sent_at, text, waba_id, phone_number_id,
     payload, raw_event_id, received_at)
SELECT DISTINCT ON (s.channel, s.message_id)
       s.channel, s.message_id, s.sender, s.recipient, s.type, to_timestamp(s.sent_at), s.text,
       s.waba_id, s.phone_number_id,
       (SELECT p.payload FROM stage_payload p WHERE (p.raw_event_id, p.path) = (s.raw_event_id, s.path)), s.raw_event_id,
       d.received_at
FROM stage_echo s JOIN stage_doc d USING (raw_event_id)
WHERE {ids}::bigint[] IS NULL OR s.raw_event_id = ANY({ids})
ORDER BY s.channel, s.message_id, s.raw_event_id, s.path
ON CONFLICT (channel, message_id) DO UPDATE SET
    (sender, recipient, type, sent_at, text, waba_id, phone_number_id, payload, raw_event_id,
     received_at)
  = (excluded.sender, excluded.recipient, excluded.type, excluded.sent_at, excluded.text,
     excluded.waba_id, excluded.phone_number_id, excluded.payload, excluded.raw_event_id,
     excluded.received_at)
WHERE excluded.raw_event_id < t.raw_event_id;
