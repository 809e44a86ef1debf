-- Inbound messages and contacts (processors/pipeline/projections/messages.py).
-- The public SQL surface (SPEC §5). Columns may be added, never renamed or dropped.

CREATE VIEW wabahook.messages_inbound AS
SELECT channel, message_id, wa_id, type, sent_at, phone_number_id, text, context_message_id,
       payload, raw_event_id, received_at, contact_name
FROM wabahook.inbound_message;
COMMENT ON VIEW wabahook.messages_inbound IS
    'One row per message a customer sent (deduplicated by channel and message id).';

CREATE VIEW wabahook.contacts AS
SELECT channel, wa_id, profile_name, first_seen_at, last_seen_at
FROM wabahook.contact;
COMMENT ON VIEW wabahook.contacts IS
    'One row per customer (channel, wa_id) that sent a message; name from the latest message.';
