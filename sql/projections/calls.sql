-- Call notifications (processors/pipeline/projections/calls.py). The `calls` view
-- derives each call from all of its events, so no merged state is kept here.
-- The project_* queries write the staged items of the events {ids} (an array of event
-- ids, NULL: all of them) into the projection tables of the schema {projections}.

-- name: stage_call
-- The staging table, filled by COPY: raw_event_id, channel, then the module's `columns`.
CREATE TEMP TABLE IF NOT EXISTS stage_call (
    raw_event_id bigint, channel text, call_id text, event text, at bigint, status text,
    direction text, caller text, callee text, started_at bigint, ended_at bigint,
    duration integer, biz_opaque_callback_data text, waba_id text, phone_number_id text,
    path text, errors_path text
) ON COMMIT DELETE ROWS;

-- name: project_calls
-- A call event's errors are its own `errors` followed by those its change's value lists
-- (value-level errors name no call: every call of that change carries them).
INSERT INTO {projections}.call_event AS t
    (channel, call_id, event, at, status, direction, caller, callee, started_at, ended_at,
     duration_seconds, biz_opaque_callback_data, errors, waba_id, phone_number_id, payload,
     raw_event_id, received_at)
SELECT DISTINCT ON (s.channel, s.call_id, s.event, s.at)
       s.channel, s.call_id, s.event, to_timestamp(s.at), s.status, s.direction, s.caller,
       s.callee, to_timestamp(s.started_at), to_timestamp(s.ended_at), s.duration,
       s.biz_opaque_callback_data,
       nullif(CASE WHEN jsonb_typeof(p.item -> 'errors') = 'array' THEN p.item -> 'errors'
                   ELSE '[]' END
              || CASE WHEN s.errors_path IS NOT NULL
                      THEN (SELECT q.payload FROM stage_payload q
                            WHERE (q.raw_event_id, q.path) = (s.raw_event_id, s.errors_path))
                           -> 'errors'
                      ELSE '[]' END,
              '[]'),
       s.waba_id, s.phone_number_id, p.item, s.raw_event_id, d.received_at
FROM stage_call s JOIN stage_doc d USING (raw_event_id)
CROSS JOIN LATERAL (
    SELECT (SELECT p.payload FROM stage_payload p WHERE (p.raw_event_id, p.path) = (s.raw_event_id, s.path)) AS item
) p
WHERE {ids}::bigint[] IS NULL OR s.raw_event_id = ANY({ids})
ORDER BY s.channel, s.call_id, s.event, s.at, s.raw_event_id, s.path
ON CONFLICT (channel, call_id, event, at) DO UPDATE SET
    (status, direction, caller, callee, started_at, ended_at, duration_seconds,
     biz_opaque_callback_data, errors, waba_id, phone_number_id, payload, raw_event_id,
     received_at)
  = (excluded.status, excluded.direction, excluded.caller, excluded.callee,
     excluded.started_at, excluded.ended_at, excluded.duration_seconds,
     excluded.biz_opaque_callback_data, excluded.errors, excluded.waba_id,
     excluded.phone_number_id, excluded.payload, excluded.raw_event_id, excluded.received_at)
WHERE excluded.raw_event_id < t.raw_event_id;
