-- Coexistence history (field history, also 360dialog's wrapped history) and a 360dialog
-- partner's own events.

-- One row per chunk of a number's history sync: (phase, chunk_order), else the body's
-- item (a refusal carries no order). Deliveries of a chunk fold into its row.
CREATE TABLE wabahook.history_chunk (
    channel           text NOT NULL,
    chunk_key         text NOT NULL,
    waba_id           text,
    phone_number_id   text,
    phase             integer,
    chunk_order       integer,
    progress          integer,             -- 0-100, the highest delivered
    error_code        integer,             -- 2593109: the business declined
    received_at       timestamptz NOT NULL, -- when it first came
    raw_event_id      bigint NOT NULL,      -- the first event that held it
    PRIMARY KEY (channel, chunk_key)
);
CREATE INDEX history_chunk_raw_event ON wabahook.history_chunk (raw_event_id);

-- Every message of every history thread, and the media that followed a placeholder.
CREATE TABLE wabahook.history_message (
    channel         text NOT NULL,
    message_id      text NOT NULL,
    wa_id           text,                  -- the customer
    user_id         text,
    direction       text NOT NULL,         -- inbound (the customer) or outbound (the business)
    type            text,
    text            text,
    sent_at         timestamptz,           -- the device's time
    status          text,                  -- history_context.status, lower-cased
    placeholder     boolean NOT NULL,      -- a media_placeholder, its media not yet seen
    phone_number_id text,
    payload         jsonb NOT NULL,
    raw_event_id    bigint NOT NULL,
    received_at     timestamptz NOT NULL,
    PRIMARY KEY (channel, message_id)
);
CREATE INDEX history_message_raw_event ON wabahook.history_message (raw_event_id);
CREATE INDEX history_message_sent ON wabahook.history_message (sent_at);

-- A partner's events about its clients and their numbers (channel_created, channel_ready,
-- account_violation, ...): one row per event id, else per body.
CREATE TABLE wabahook.partner_event (
    channel       text NOT NULL,
    dedup_key     text NOT NULL,           -- 'id:' and the body's id, else 'body:' and its sha256
    event_id      text,
    event         text,
    client_id     text,
    phone_number  text,
    status        text,
    details       jsonb NOT NULL,          -- the event's data
    event_at      timestamptz NOT NULL,
    raw_event_id  bigint NOT NULL,
    received_at   timestamptz NOT NULL,
    PRIMARY KEY (channel, dedup_key)
);
CREATE INDEX partner_event_raw_event ON wabahook.partner_event (raw_event_id);
