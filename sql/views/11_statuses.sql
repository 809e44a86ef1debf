-- Status events and each message's delivery (processors/pipeline/projections/statuses.py).
-- The public SQL surface. Columns may be added, never renamed or dropped.

CREATE VIEW wabahook.status_events AS
SELECT channel, message_id, status, status_at, phone_number_id, recipient_id, conversation_id,
       conversation_category, pricing_category, pricing_model, billable, error_codes,
       payload -> 'errors' AS errors, raw_event_id, received_at, payload, pricing_type,
       biz_opaque_callback_data,
       -- The recipient's business-scoped user id and its parent; recipient_id (the phone
       -- number) is NULL when WhatsApp left it out.
       recipient_user_id, recipient_parent_user_id,
       -- A group message's status: one per participant (recipient_id is the group).
       recipient_type, participant_id, participant_user_id,
       -- The recipient (of a group message: the participant) as a person.
       (SELECT pi.person_id FROM wabahook.person_ids pi
        WHERE pi.kind = CASE WHEN recipient_type = 'group'
                             THEN CASE WHEN participant_user_id IS NOT NULL THEN 'user' ELSE 'phone' END
                             WHEN recipient_user_id IS NOT NULL THEN 'user' ELSE 'phone' END
          AND pi.identifier = CASE WHEN recipient_type = 'group'
                                   THEN coalesce(participant_user_id, participant_id)
                                   ELSE coalesce(recipient_user_id, recipient_id) END) AS person_id
FROM wabahook.status_event;
COMMENT ON VIEW wabahook.status_events IS
    'One row per distinct status notification (channel, message id, status, timestamp, '
    'and for a group message its participant).';

CREATE VIEW wabahook.delivery_status AS
SELECT channel, message_id, recipient_id,
       wabahook.current_status(progress_rank, progress_at, failed_at, deleted_at) AS status,
       sent_at, delivered_at, read_at, failed_at, deleted_at, error_codes, conversation_id,
       pricing_category, billable, played_at, first_status_at,
       -- Each from the earliest status that carries it (ties: the lowest raw event id);
       -- the phone number from the latest status that names one.
       pricing_model, pricing_type, biz_opaque_callback_data, phone_number_id,
       -- From the earliest status that names them (like recipient_id).
       recipient_user_id, recipient_parent_user_id,
       (SELECT pi.person_id FROM wabahook.person_ids pi
        WHERE pi.kind = CASE WHEN recipient_user_id IS NOT NULL THEN 'user' ELSE 'phone' END
          AND pi.identifier = coalesce(recipient_user_id, recipient_id)) AS person_id
FROM wabahook.message_delivery
WHERE wabahook.current_status(progress_rank, progress_at, failed_at, deleted_at) IS NOT NULL;
COMMENT ON VIEW wabahook.delivery_status IS
    'One row per message with a delivery status, derived from all its status events.';

-- Each participant's delivery of a group message, by the rules of delivery_status
-- (delivery_status keeps one row per group message, by the same rules over every
-- participant's statuses).
CREATE VIEW wabahook.group_delivery_status AS
SELECT channel, message_id, min(recipient_id) AS group_id, max(participant_id) AS participant_id,
       max(participant_user_id) AS participant_user_id,
       wabahook.current_status(
           max(array_position(ARRAY['sent', 'delivered', 'read', 'played'], status))::smallint,
           max(status_at) FILTER (WHERE status IN ('sent', 'delivered', 'read', 'played')),
           max(status_at) FILTER (WHERE status = 'failed'),
           min(status_at) FILTER (WHERE status = 'deleted')) AS status,
       min(status_at) FILTER (WHERE status = 'sent') AS sent_at,
       min(status_at) FILTER (WHERE status = 'delivered') AS delivered_at,
       min(status_at) FILTER (WHERE status = 'read') AS read_at,
       max(status_at) FILTER (WHERE status = 'failed') AS failed_at,
       (SELECT pi.person_id FROM wabahook.person_ids pi
        WHERE pi.kind = CASE WHEN max(participant_user_id) IS NOT NULL THEN 'user' ELSE 'phone' END
          AND pi.identifier = coalesce(max(participant_user_id), max(participant_id))) AS person_id
FROM wabahook.status_event
WHERE participant <> ''
GROUP BY channel, message_id, participant;
COMMENT ON VIEW wabahook.group_delivery_status IS
    'One row per participant of a group message: its status, sent, delivered, read and '
    'failed times.';
