-- Errors a notification reports about itself (processors/projections/errors.py).
-- The project_* queries write the staged items of the events {ids} (an array of event
-- ids, NULL: all of them) into the projection tables of the schema {projections}.

-- name: stage_error
-- The staging table, filled by COPY: raw_event_id, channel, then the module's `columns`.
CREATE TEMP TABLE IF NOT EXISTS stage_error (
    raw_event_id bigint, channel text, position integer, code integer, title text, path text
) ON COMMIT DELETE ROWS;

-- name: project_errors
INSERT INTO {projections}.notification_error AS t
    (channel, body_sha256, position, code, title, details, raw_event_id, received_at)
SELECT DISTINCT ON (s.channel, d.body_sha256, s.position)
       s.channel, d.body_sha256, s.position, s.code, s.title,
       (SELECT p.payload FROM stage_payload p WHERE (p.raw_event_id, p.path) = (s.raw_event_id, s.path)), s.raw_event_id, d.received_at
FROM stage_error s JOIN stage_doc d USING (raw_event_id)
WHERE {ids}::bigint[] IS NULL OR s.raw_event_id = ANY({ids})
ORDER BY s.channel, d.body_sha256, s.position, s.raw_event_id
ON CONFLICT (channel, body_sha256, position) DO UPDATE SET
    (raw_event_id, received_at) = (excluded.raw_event_id, excluded.received_at)
WHERE excluded.raw_event_id < t.raw_event_id;
