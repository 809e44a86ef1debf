-- Marketing preference changes (processors/pipeline/projections/preferences.py).
-- The project_* queries write the staged items of the events {ids} (an array of event
-- ids, NULL: all of them) into the projection tables of the schema {projections}.

-- name: stage_preference
-- The staging table, filled by COPY: raw_event_id, channel, then the module's `columns`.
CREATE TEMP TABLE IF NOT EXISTS stage_preference (
    raw_event_id bigint, channel text, wa_id text, category text, value text, changed_at bigint,
    detail text, source text, message_id text, waba_id text, phone_number_id text, path text,
    user_id text
) ON COMMIT DELETE ROWS;

-- name: project_preferences
-- One row per (channel, wa_id, category, value, second). Among the items that name the
-- same one, the user's own statement beats a 131050 failure, then the lowest raw event
-- wins: a choice that depends on the set of events only, never on their order.
INSERT INTO {projections}.marketing_preference_event AS t
    (channel, wa_id, category, value, changed_at, detail, source, message_id, waba_id,
     phone_number_id, payload, raw_event_id, received_at, user_id)
SELECT DISTINCT ON (s.channel, s.wa_id, s.category, s.value, s.changed_at)
       s.channel, s.wa_id, s.category, s.value, to_timestamp(s.changed_at), s.detail, s.source,
       s.message_id, s.waba_id, s.phone_number_id,
       (SELECT p.payload FROM stage_payload p WHERE (p.raw_event_id, p.path) = (s.raw_event_id, s.path)), s.raw_event_id,
       d.received_at, s.user_id
FROM stage_preference s JOIN stage_doc d USING (raw_event_id)
WHERE {ids}::bigint[] IS NULL OR s.raw_event_id = ANY({ids})
ORDER BY s.channel, s.wa_id, s.category, s.value, s.changed_at,
         s.source <> 'user_preferences', s.raw_event_id, s.path
ON CONFLICT (channel, wa_id, category, value, changed_at) DO UPDATE SET
    (detail, source, message_id, waba_id, phone_number_id, payload, raw_event_id, received_at,
     user_id)
  = (excluded.detail, excluded.source, excluded.message_id, excluded.waba_id,
     excluded.phone_number_id, excluded.payload, excluded.raw_event_id, excluded.received_at,
     excluded.user_id)
WHERE (excluded.source <> 'user_preferences', excluded.raw_event_id)
    < (t.source <> 'user_preferences', t.raw_event_id);
