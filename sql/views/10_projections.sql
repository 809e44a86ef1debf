-- The public SQL surface (SPEC §5). Columns may be added, never renamed or dropped.

CREATE VIEW wabahook.messages_inbound AS
SELECT channel, message_id, wa_id, type, sent_at, phone_number_id, text, context_message_id,
       payload, raw_event_id, received_at, contact_name
FROM wabahook.inbound_message;
COMMENT ON VIEW wabahook.messages_inbound IS
    'One row per message a customer sent (deduplicated by channel and message id).';

CREATE VIEW wabahook.status_events AS
SELECT channel, message_id, status, status_at, phone_number_id, recipient_id, conversation_id,
       conversation_category, pricing_category, pricing_model, billable, error_codes,
       payload -> 'errors' AS errors, raw_event_id, received_at, payload
FROM wabahook.status_event;
COMMENT ON VIEW wabahook.status_events IS
    'One row per distinct status notification (channel, message id, status, timestamp).';

CREATE VIEW wabahook.delivery_status AS
SELECT channel, message_id, recipient_id,
       wabahook.current_status(progress_rank, progress_at, failed_at, deleted_at) AS status,
       sent_at, delivered_at, read_at, failed_at, deleted_at, error_codes, conversation_id,
       pricing_category, billable, played_at, first_status_at
FROM wabahook.message_delivery
WHERE wabahook.current_status(progress_rank, progress_at, failed_at, deleted_at) IS NOT NULL;
COMMENT ON VIEW wabahook.delivery_status IS
    'One row per message with a delivery status, derived from all its status events.';

CREATE VIEW wabahook.contacts AS
SELECT channel, wa_id, profile_name, first_seen_at, last_seen_at
FROM wabahook.contact;
COMMENT ON VIEW wabahook.contacts IS
    'One row per customer (channel, wa_id) that sent a message; name from the latest message.';

CREATE VIEW wabahook.notification_errors AS
SELECT channel, code, title, details, raw_event_id, received_at
FROM wabahook.notification_error;
COMMENT ON VIEW wabahook.notification_errors IS
    'One row per out-of-band error notification (not per delivery of it).';

CREATE VIEW wabahook.raw_event_log AS
SELECT r.id AS raw_event_id, r.channel, r.received_at, r.body_sha256,
       CASE WHEN q.raw_event_id IS NOT NULL
            THEN CASE WHEN q.last_error IS NOT NULL THEN 'failed' ELSE 'queued' END
            ELSE coalesce(res.state, 'queued') END AS state,
       CASE WHEN q.raw_event_id IS NOT NULL THEN q.last_error ELSE res.error END AS error,
       coalesce(q.attempts, res.attempts, 0) AS attempts,
       EXISTS (
           SELECT 1 FROM wabahook.raw_events earlier
           WHERE earlier.channel = r.channel AND earlier.body_sha256 = r.body_sha256
             AND earlier.id < r.id
       ) AS duplicate_delivery,
       res.format, res.notes, res.processed_at,
       nullif(q.not_before, 'infinity') AS next_attempt_at  -- NULL: waits for `failed retry`
FROM wabahook.raw_events r
LEFT JOIN wabahook.event_queue q ON q.raw_event_id = r.id
LEFT JOIN wabahook.event_results res ON res.raw_event_id = r.id;
COMMENT ON VIEW wabahook.raw_event_log IS
    'One row per stored delivery: its processing state, error, attempts, and whether it repeats an earlier delivery.';

-- The stored events `replay` and `forward` act on. Every filter is optional (NULL: not
-- filtered); PostgreSQL inlines the function, so each call is planned as one query.
CREATE FUNCTION wabahook.selected_events(
    channels text[], since timestamptz, until timestamptz, ids bigint[], states text[]
) RETURNS SETOF wabahook.raw_event_log
LANGUAGE sql STABLE AS $$
    SELECT * FROM wabahook.raw_event_log
    WHERE (channels IS NULL OR channel = ANY(channels))
      AND (since IS NULL OR received_at >= since)
      AND (until IS NULL OR received_at < until)
      AND (ids IS NULL OR raw_event_id = ANY(ids))
      AND (states IS NULL OR state = ANY(states))
$$;
