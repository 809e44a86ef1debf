-- Lookups of `wabahook events list|show` and `wabahook messages show` on a large store.
--
-- Each projected row names the raw event that carried it: `events list` counts the rows
-- of a page of events and `events show` lists them, so every projection table with a
-- raw_event_id is searched by it. raw_event_id grows with intake, so these indexes are
-- mostly appended at their right edge.
CREATE INDEX IF NOT EXISTS inbound_message_raw_event ON wabahook.inbound_message (raw_event_id);
CREATE INDEX IF NOT EXISTS status_event_raw_event ON wabahook.status_event (raw_event_id);
CREATE INDEX IF NOT EXISTS notification_error_raw_event ON wabahook.notification_error (raw_event_id);
CREATE INDEX IF NOT EXISTS message_change_raw_event ON wabahook.message_change (raw_event_id);
CREATE INDEX IF NOT EXISTS message_echo_raw_event ON wabahook.message_echo (raw_event_id);
CREATE INDEX IF NOT EXISTS template_event_raw_event ON wabahook.template_event (raw_event_id);
CREATE INDEX IF NOT EXISTS phone_number_event_raw_event ON wabahook.phone_number_event (raw_event_id);
CREATE INDEX IF NOT EXISTS account_event_raw_event ON wabahook.account_event (raw_event_id);
CREATE INDEX IF NOT EXISTS call_event_raw_event ON wabahook.call_event (raw_event_id);
CREATE INDEX IF NOT EXISTS call_error_raw_event ON wabahook.call_error (raw_event_id);
CREATE INDEX IF NOT EXISTS marketing_preference_event_raw_event
    ON wabahook.marketing_preference_event (raw_event_id);

-- `events list --wa-id`: a customer's messages, the statuses of what was sent to them and
-- their edits. Message ids need nothing new: the (channel, message_id) keys serve them,
-- one channel at a time.
CREATE INDEX IF NOT EXISTS inbound_message_wa_id ON wabahook.inbound_message (channel, wa_id);
CREATE INDEX IF NOT EXISTS status_event_recipient ON wabahook.status_event (channel, recipient_id);
CREATE INDEX IF NOT EXISTS message_change_wa_id ON wabahook.message_change (channel, wa_id);
