-- Groups API notifications (fields group_lifecycle_update, group_participants_update,
-- group_settings_update, group_status_update): every `groups[]` item, kept whole. The
-- view `groups` folds the successful ones into each group's state.

CREATE TABLE wabahook.group_event (
    channel         text NOT NULL,
    dedup_key       bytea NOT NULL,          -- the item's field and content (a digest)
    group_id        text,
    field           text NOT NULL,
    type            text,
    request_id      text,
    reason          text,
    initiated_by    text,
    succeeded       boolean NOT NULL,        -- no `errors` on the item
    errors          jsonb,
    details         jsonb NOT NULL,          -- the item
    event_at        timestamptz NOT NULL,    -- its timestamp, else entry.time, else received_at
    waba_id         text,
    phone_number_id text,
    raw_event_id    bigint NOT NULL,
    received_at     timestamptz NOT NULL,
    PRIMARY KEY (channel, dedup_key)
);
CREATE INDEX group_event_group ON wabahook.group_event (channel, group_id, event_at);
