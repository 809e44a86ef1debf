-- Analytics: indexes behind the daily views.

CREATE INDEX status_event_failed_at ON wabahook.status_event (status_at) WHERE status = 'failed';
CREATE INDEX message_delivery_channel_first_status ON wabahook.message_delivery (channel, first_status_at);
