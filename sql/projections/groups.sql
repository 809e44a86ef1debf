-- Groups API notifications (processors/pipeline/projections/groups.py); the view `groups`
-- folds them into each group's current state.
-- The project_* queries write the staged items of the events {ids} (an array of event
-- ids, NULL: all of them) into the projection tables of the schema {projections}.

-- name: stage_group_event
-- The staging table, filled by COPY: raw_event_id, channel, then the module's `columns`.
CREATE TEMP TABLE IF NOT EXISTS stage_group_event (
    raw_event_id bigint, channel text, field text, group_id text, type text, request_id text, reason text,
    initiated_by text, succeeded boolean, event_at bigint, waba_id text, phone_number_id text,
    path text
) ON COMMIT DELETE ROWS;

-- name: project_group_events
-- An item is named by its field and its whole content (jsonb text, keys in one order):
-- the same item delivered again is the same row, whatever else its body held.
INSERT INTO {projections}.group_event AS t
    (channel, dedup_key, group_id, field, type, request_id, reason, initiated_by, succeeded,
     errors, details, event_at, waba_id, phone_number_id, raw_event_id, received_at)
SELECT DISTINCT ON (s.channel, k.dedup_key)
       s.channel, k.dedup_key, s.group_id, s.field, s.type, s.request_id, s.reason,
       s.initiated_by, s.succeeded, k.item -> 'errors', k.item,
       coalesce(to_timestamp(s.event_at), d.received_at), s.waba_id, s.phone_number_id,
       s.raw_event_id, d.received_at
FROM stage_group_event s JOIN stage_doc d USING (raw_event_id)
CROSS JOIN LATERAL (
    SELECT (SELECT p.payload FROM stage_payload p WHERE (p.raw_event_id, p.path) = (s.raw_event_id, s.path)) AS item
) i
CROSS JOIN LATERAL (
    SELECT i.item, sha256(convert_to(jsonb_build_array(s.field, i.item)::text, 'UTF8')) AS dedup_key
) k
WHERE {ids}::bigint[] IS NULL OR s.raw_event_id = ANY({ids})
ORDER BY s.channel, k.dedup_key, s.raw_event_id, s.path
ON CONFLICT (channel, dedup_key) DO UPDATE SET
    (group_id, field, type, request_id, reason, initiated_by, succeeded, errors, details,
     event_at, waba_id, phone_number_id, raw_event_id, received_at)
  = (excluded.group_id, excluded.field, excluded.type, excluded.request_id, excluded.reason,
     excluded.initiated_by, excluded.succeeded, excluded.errors, excluded.details,
     excluded.event_at, excluded.waba_id, excluded.phone_number_id, excluded.raw_event_id,
     excluded.received_at)
WHERE excluded.raw_event_id < t.raw_event_id;
