-- Coexistence history (processors/pipeline/projections/history.py).
-- The project_* queries write the staged items of the events {ids} (an array of event
-- ids, NULL: all of them) into the projection tables of the schema {projections}.

-- name: stage_history_chunk
-- The staging table, filled by COPY: raw_event_id, channel, then the module's `columns`.
CREATE TEMP TABLE IF NOT EXISTS stage_history_chunk (
    raw_event_id bigint, channel text, waba_id text, phone_number_id text, phase integer,
    chunk_order integer, progress integer, error_code integer, position integer
) ON COMMIT DELETE ROWS;

-- name: project_history_chunks
-- A chunk is its number's (phase, chunk_order); one without an order (a refusal) is its
-- body's item. Every delivery of a chunk folds into one row by least and greatest, and
-- its time is when it first came (the earliest event's): the row is the same in any
-- order, and a repeat delivery changes nothing.
INSERT INTO {projections}.history_chunk AS t
    (channel, chunk_key, waba_id, phone_number_id, phase, chunk_order, progress, error_code,
     received_at, raw_event_id)
SELECT s.channel, k.chunk_key, min(s.waba_id), min(s.phone_number_id), min(s.phase),
       min(s.chunk_order), max(s.progress), min(s.error_code),
       (array_agg(d.received_at ORDER BY s.raw_event_id))[1], min(s.raw_event_id)
FROM stage_history_chunk s JOIN stage_doc d USING (raw_event_id)
CROSS JOIN LATERAL (
    SELECT wabahook.history_chunk_key(s.phone_number_id, s.phase, s.chunk_order,
                                      d.body_sha256, s.position) AS chunk_key
) k
WHERE {ids}::bigint[] IS NULL OR s.raw_event_id = ANY({ids})
GROUP BY s.channel, k.chunk_key
ON CONFLICT (channel, chunk_key) DO UPDATE SET
    waba_id = least(t.waba_id, excluded.waba_id),
    progress = greatest(t.progress, excluded.progress),
    error_code = least(t.error_code, excluded.error_code),
    received_at = CASE WHEN excluded.raw_event_id < t.raw_event_id
                       THEN excluded.received_at ELSE t.received_at END,
    raw_event_id = least(t.raw_event_id, excluded.raw_event_id);

-- name: stage_history_message
CREATE TEMP TABLE IF NOT EXISTS stage_history_message (
    raw_event_id bigint, channel text, message_id text, wa_id text, user_id text,
    direction text, type text, text text, sent_at bigint, status text, placeholder boolean,
    phone_number_id text, path text
) ON COMMIT DELETE ROWS;

-- name: project_history_messages
-- One row per message, whichever of its versions came first: the content of the best
-- version (its media over a placeholder, then the earliest event), and of every version
-- the least status, time, direction and identifiers (LEAST skips NULLs). Both rules are
-- the same in any order, within a batch (the window) and across batches (the update).
INSERT INTO {projections}.history_message AS t
    (channel, message_id, wa_id, user_id, direction, type, text, sent_at, status, placeholder,
     phone_number_id, payload, raw_event_id, received_at)
SELECT DISTINCT ON (s.channel, s.message_id)
       s.channel, s.message_id, min(s.wa_id) OVER w, min(s.user_id) OVER w,
       min(s.direction) OVER w, s.type, s.text, to_timestamp(min(s.sent_at) OVER w),
       min(s.status) OVER w, s.placeholder, s.phone_number_id,
       (SELECT p.payload FROM stage_payload p WHERE (p.raw_event_id, p.path) = (s.raw_event_id, s.path)), s.raw_event_id,
       d.received_at
FROM stage_history_message s JOIN stage_doc d USING (raw_event_id)
WHERE {ids}::bigint[] IS NULL OR s.raw_event_id = ANY({ids})
WINDOW w AS (PARTITION BY s.channel, s.message_id)
ORDER BY s.channel, s.message_id, s.placeholder, s.raw_event_id, s.path
ON CONFLICT (channel, message_id) DO UPDATE SET
    wa_id = least(t.wa_id, excluded.wa_id),
    user_id = least(t.user_id, excluded.user_id),
    direction = least(t.direction, excluded.direction),
    sent_at = least(t.sent_at, excluded.sent_at),
    status = least(t.status, excluded.status),
    (type, text, placeholder, phone_number_id, payload, raw_event_id, received_at)
  = (SELECT CASE WHEN better THEN excluded.type ELSE t.type END,
            CASE WHEN better THEN excluded.text ELSE t.text END,
            CASE WHEN better THEN excluded.placeholder ELSE t.placeholder END,
            CASE WHEN better THEN excluded.phone_number_id ELSE t.phone_number_id END,
            CASE WHEN better THEN excluded.payload ELSE t.payload END,
            CASE WHEN better THEN excluded.raw_event_id ELSE t.raw_event_id END,
            CASE WHEN better THEN excluded.received_at ELSE t.received_at END
     FROM (SELECT (excluded.placeholder, excluded.raw_event_id)
                  < (t.placeholder, t.raw_event_id) AS better) b);
