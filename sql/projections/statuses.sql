-- Status notifications, and each message's delivery merged from them (processors/projections/statuses.py).
-- The project_* queries write the staged items of the events {ids} (an array of event
-- ids, NULL: all of them) into the projection tables of the schema {projections}.

-- name: stage_status
-- The staging table, filled by COPY: raw_event_id, channel, then the module's `columns`.
CREATE TEMP TABLE IF NOT EXISTS stage_status (
    raw_event_id bigint, channel text, message_id text, status text, status_at bigint,
    phone_number_id text, recipient_id text, conversation_id text, conversation_category text,
    pricing_category text, pricing_model text, billable boolean, error_codes integer[], path text,
    pricing_type text, biz_opaque_callback_data text, recipient_user_id text,
    recipient_parent_user_id text, recipient_type text, participant_id text,
    participant_user_id text, participant text
) ON COMMIT DELETE ROWS;

-- name: project_statuses
INSERT INTO {projections}.status_event AS t
    (channel, message_id, status, status_at, phone_number_id, recipient_id, conversation_id,
     conversation_category, pricing_category, pricing_model, billable, error_codes, payload,
     raw_event_id, received_at, pricing_type, biz_opaque_callback_data, recipient_user_id,
     recipient_parent_user_id, recipient_type, participant_id, participant_user_id, participant)
SELECT DISTINCT ON (s.channel, s.message_id, s.status, s.status_at, s.participant)
       s.channel, s.message_id, s.status, to_timestamp(s.status_at), s.phone_number_id,
       s.recipient_id, s.conversation_id, s.conversation_category, s.pricing_category,
       s.pricing_model, s.billable, s.error_codes, (SELECT p.payload FROM stage_payload p WHERE (p.raw_event_id, p.path) = (s.raw_event_id, s.path)),
       s.raw_event_id, d.received_at, s.pricing_type, s.biz_opaque_callback_data,
       s.recipient_user_id, s.recipient_parent_user_id, s.recipient_type, s.participant_id,
       s.participant_user_id, s.participant
FROM stage_status s JOIN stage_doc d USING (raw_event_id)
WHERE {ids}::bigint[] IS NULL OR s.raw_event_id = ANY({ids})
ORDER BY s.channel, s.message_id, s.status, s.status_at, s.participant, s.raw_event_id, s.path
ON CONFLICT (channel, message_id, status, status_at, participant) DO UPDATE SET
    (phone_number_id, recipient_id, conversation_id, conversation_category, pricing_category,
     pricing_model, billable, error_codes, payload, raw_event_id, received_at, pricing_type,
     biz_opaque_callback_data, recipient_user_id, recipient_parent_user_id, recipient_type,
     participant_id, participant_user_id)
  = (excluded.phone_number_id, excluded.recipient_id, excluded.conversation_id,
     excluded.conversation_category, excluded.pricing_category, excluded.pricing_model,
     excluded.billable, excluded.error_codes, excluded.payload, excluded.raw_event_id,
     excluded.received_at, excluded.pricing_type, excluded.biz_opaque_callback_data,
     excluded.recipient_user_id, excluded.recipient_parent_user_id, excluded.recipient_type,
     excluded.participant_id, excluded.participant_user_id)
WHERE excluded.raw_event_id < t.raw_event_id;

-- name: project_deliveries
INSERT INTO {projections}.message_delivery AS t
SELECT (m).* FROM (
    SELECT wabahook.merged_delivery(ROW(
        channel, message_id,
        CASE WHEN status = 'sent' THEN at END,
        CASE WHEN status = 'delivered' THEN at END,
        CASE WHEN status = 'read' THEN at END,
        CASE WHEN status = 'played' THEN at END,
        CASE WHEN status = 'failed' THEN at END,
        CASE WHEN status = 'deleted' THEN at END,
        rank,
        CASE WHEN rank IS NOT NULL THEN at END,
        CASE WHEN status = 'failed' THEN error_codes ELSE '{{}}' END,
        recipient_id,
        CASE WHEN recipient_id IS NOT NULL
             THEN wabahook.fact_key(at, status || ':' || recipient_id) END,
        conversation_id, pricing_category, billable,
        CASE WHEN conversation_id IS NOT NULL OR pricing_category IS NOT NULL OR billable IS NOT NULL
             THEN wabahook.fact_key(at, concat_ws(':', status, conversation_id, pricing_category, billable)) END,
        at,
        -- Each pricing fact from the earliest status that carries it, the phone number
        -- from the latest one; ties go to the lowest raw event (as in status_event), which
        -- a sender's retry of a body, a later raw event, never changes. A key ends with
        -- its value: equal keys mean equal values, and the merge stays commutative.
        pricing_model,
        CASE WHEN pricing_model IS NOT NULL THEN wabahook.fact_key(at, event_key || pricing_model) END,
        pricing_type,
        CASE WHEN pricing_type IS NOT NULL THEN wabahook.fact_key(at, event_key || pricing_type) END,
        biz_opaque_callback_data,
        CASE WHEN biz_opaque_callback_data IS NOT NULL
             THEN wabahook.fact_key(at, event_key || biz_opaque_callback_data) END,
        phone_number_id,
        CASE WHEN phone_number_id IS NOT NULL
             THEN wabahook.fact_key(at, event_key_desc || phone_number_id) END,
        recipient_user_id, recipient_parent_user_id,
        CASE WHEN recipient_user_id IS NOT NULL
             THEN wabahook.fact_key(at, concat_ws(':', status, recipient_user_id,
                                                  recipient_parent_user_id)) END
    )::wabahook.delivery_facts) AS m
    FROM (
        SELECT *, to_timestamp(status_at) AS at,
               to_char(raw_event_id, 'FM0000000000000000000') || ':' AS event_key,
               -- Ordered the other way: the greatest key is the latest time's lowest event.
               to_char(9223372036854775807 - raw_event_id, 'FM0000000000000000000') || ':' AS event_key_desc,
               array_position(ARRAY['sent', 'delivered', 'read', 'played'], status)::smallint AS rank
        FROM stage_status
        WHERE {ids}::bigint[] IS NULL OR raw_event_id = ANY({ids})
    ) s
    GROUP BY channel, message_id
    ORDER BY channel, message_id  -- one lock order for every drain: no deadlocks between them
) merged
ON CONFLICT (channel, message_id) DO UPDATE SET
    (sent_at, delivered_at, read_at, played_at, failed_at, deleted_at, progress_rank, progress_at,
     error_codes, recipient_id, recipient_key, conversation_id, pricing_category, billable,
     billing_key, first_status_at, pricing_model, pricing_model_key, pricing_type,
     pricing_type_key, biz_opaque_callback_data, callback_key, phone_number_id, phone_number_key,
     recipient_user_id, recipient_parent_user_id, recipient_user_key)
  = (SELECT m.sent_at, m.delivered_at, m.read_at, m.played_at, m.failed_at, m.deleted_at,
            m.progress_rank, m.progress_at, m.error_codes, m.recipient_id, m.recipient_key,
            m.conversation_id, m.pricing_category, m.billable, m.billing_key, m.first_status_at,
            m.pricing_model, m.pricing_model_key, m.pricing_type, m.pricing_type_key,
            m.biz_opaque_callback_data, m.callback_key, m.phone_number_id, m.phone_number_key,
            m.recipient_user_id, m.recipient_parent_user_id, m.recipient_user_key
     FROM wabahook.merge_delivery(ROW(t.*)::wabahook.delivery_facts,
                                  ROW(excluded.*)::wabahook.delivery_facts) m);
