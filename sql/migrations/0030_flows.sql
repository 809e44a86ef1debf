-- WhatsApp Flows notifications (field flows): status changes and endpoint health.

CREATE TABLE wabahook.flow_event (
    channel         text NOT NULL,
    dedup_key       bytea NOT NULL,
    waba_id         text,
    phone_number_id text,
    flow_id         text,
    flow_name       text,
    event           text,
    old_status      text,
    new_status      text,
    details         jsonb NOT NULL,
    event_at        timestamptz NOT NULL,
    raw_event_id    bigint NOT NULL,
    received_at     timestamptz NOT NULL,
    PRIMARY KEY (channel, dedup_key)
);
CREATE INDEX flow_event_raw_event ON wabahook.flow_event (raw_event_id);
