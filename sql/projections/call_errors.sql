-- Value-level errors of `calls` changes (processors/pipeline/projections/call_errors.py).
-- The project_* queries write the staged items of the events {ids} (an array of event
-- ids, NULL: all of them) into the projection tables of the schema {projections}.

-- name: stage_call_error
-- The staging table, filled by COPY: raw_event_id, channel, then the module's `columns`.
CREATE TEMP TABLE IF NOT EXISTS stage_call_error (
    raw_event_id bigint, channel text, code integer, title text, event_at bigint, waba_id text,
    phone_number_id text, path text
) ON COMMIT DELETE ROWS;

-- name: project_call_errors
-- Like notification errors: one row per error of a distinct body (not per delivery of it).
INSERT INTO {projections}.call_error AS t
    (channel, body_sha256, path, code, title, details, event_at, waba_id, phone_number_id,
     raw_event_id, received_at)
SELECT DISTINCT ON (s.channel, d.body_sha256, s.path)
       s.channel, d.body_sha256, s.path, s.code, s.title,
       (SELECT p.payload FROM stage_payload p WHERE (p.raw_event_id, p.path) = (s.raw_event_id, s.path)),
       coalesce(to_timestamp(s.event_at), d.received_at), s.waba_id, s.phone_number_id,
       s.raw_event_id, d.received_at
FROM stage_call_error s JOIN stage_doc d USING (raw_event_id)
WHERE {ids}::bigint[] IS NULL OR s.raw_event_id = ANY({ids})
ORDER BY s.channel, d.body_sha256, s.path, s.raw_event_id
ON CONFLICT (channel, body_sha256, path) DO UPDATE SET
    (event_at, raw_event_id, received_at)
  = (excluded.event_at, excluded.raw_event_id, excluded.received_at)
WHERE excluded.raw_event_id < t.raw_event_id;
