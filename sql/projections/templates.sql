-- Template notifications (processors/pipeline/projections/templates.py); the view
-- `templates` folds them into each template's current state.
-- The project_* queries write the staged items of the events {ids} (an array of event
-- ids, NULL: all of them) into the projection tables of the schema {projections}.

-- name: stage_template_event
-- The staging table, filled by COPY: raw_event_id, channel, then the module's `columns`.
CREATE TEMP TABLE IF NOT EXISTS stage_template_event (
    raw_event_id bigint, channel text, waba_id text, phone_number_id text, field text,
    position integer, entry_time bigint, path text, template_id text, template_name text,
    language text, kind text, event text, previous text, reason text, category text,
    correct_category text, category_update_at bigint
) ON COMMIT DELETE ROWS;

-- name: project_template_events
INSERT INTO {projections}.template_event AS t
    (channel, dedup_key, waba_id, phone_number_id, field, template_id, template_name, language,
     kind, event, previous, reason, category, correct_category, category_update_at, details,
     event_at, raw_event_id, received_at)
SELECT DISTINCT ON (s.channel, k.dedup_key)
       s.channel, k.dedup_key, s.waba_id, s.phone_number_id, s.field, s.template_id,
       s.template_name, s.language, s.kind, s.event, s.previous, s.reason, s.category,
       s.correct_category, to_timestamp(s.category_update_at),
       (SELECT p.payload FROM stage_payload p WHERE (p.raw_event_id, p.path) = (s.raw_event_id, s.path)),
       coalesce(to_timestamp(s.entry_time), d.received_at), s.raw_event_id, d.received_at
FROM stage_template_event s JOIN stage_doc d USING (raw_event_id)
CROSS JOIN LATERAL (
    SELECT wabahook.management_key(s.waba_id, s.field, s.kind, s.template_id, s.event,
                                   s.entry_time, d.body_sha256, s.position) AS dedup_key
) k
WHERE {ids}::bigint[] IS NULL OR s.raw_event_id = ANY({ids})
ORDER BY s.channel, k.dedup_key, s.raw_event_id, s.position
ON CONFLICT (channel, dedup_key) DO UPDATE SET
    (waba_id, phone_number_id, field, template_id, template_name, language, kind, event,
     previous, reason, category, correct_category, category_update_at, details, event_at,
     raw_event_id, received_at)
  = (excluded.waba_id, excluded.phone_number_id, excluded.field, excluded.template_id,
     excluded.template_name, excluded.language, excluded.kind, excluded.event, excluded.previous,
     excluded.reason, excluded.category, excluded.correct_category, excluded.category_update_at,
     excluded.details, excluded.event_at, excluded.raw_event_id, excluded.received_at)
WHERE excluded.raw_event_id < t.raw_event_id;
