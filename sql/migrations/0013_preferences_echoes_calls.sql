-- Marketing preferences, message echoes (Coexistence) and Business Calling (SPEC §5,
-- "Operations data"). Each table is self-contained (no foreign keys, no triggers) so
-- that a rebuild can copy it with LIKE; every row remembers the lowest raw event
-- that produced it, and the current state (marketing_preferences, calls) is derived
-- by the views from the whole history, so any order of events gives the same answer.

-- Every change of a user's preference: from `user_preferences`, or a `stop` implied by a
-- failed status with error 131050. Keyed by what was decided and when (a category
-- other than marketing_messages is kept beside it under its own name).
CREATE TABLE wabahook.marketing_preference_event (
    channel         text NOT NULL,
    wa_id           text NOT NULL,
    category        text NOT NULL,          -- '' when the sender gave none
    value           text NOT NULL,          -- stop, resume, or any other value as sent
    changed_at      timestamptz NOT NULL,
    detail          text,                   -- the user's detail, or the 131050 error's title
    source          text NOT NULL,          -- user_preferences, error_131050
    message_id      text,                   -- the failed message of a 131050 stop
    waba_id         text,
    phone_number_id text,
    payload         jsonb NOT NULL,         -- the preference item, or the failed status
    raw_event_id    bigint NOT NULL,
    received_at     timestamptz NOT NULL,
    PRIMARY KEY (channel, wa_id, category, value, changed_at)
);
CREATE INDEX marketing_preference_event_changed ON wabahook.marketing_preference_event (changed_at);

CREATE TABLE wabahook.message_echo (
    channel         text NOT NULL,
    message_id      text NOT NULL,
    sender          text,                   -- `from`: the business number
    recipient       text,                   -- `to`: the customer
    type            text,
    sent_at         timestamptz,
    text            text,
    waba_id         text,
    phone_number_id text,
    payload         jsonb NOT NULL,
    raw_event_id    bigint NOT NULL,
    received_at     timestamptz NOT NULL,
    PRIMARY KEY (channel, message_id)
);
CREATE INDEX message_echo_sent ON wabahook.message_echo (sent_at);

-- Every call notification: `calls[]` connect/terminate (event) and `statuses[]` of type
-- call (event = its status: RINGING, ACCEPTED, REJECTED...).
CREATE TABLE wabahook.call_event (
    channel                  text NOT NULL,
    call_id                  text NOT NULL,
    event                    text NOT NULL,
    at                       timestamptz NOT NULL,
    status                   text,
    direction                text,
    caller                   text,          -- `from`
    callee                   text,          -- `to`, or a status's recipient_id
    started_at               timestamptz,
    ended_at                 timestamptz,
    duration_seconds         integer,
    biz_opaque_callback_data text,
    errors                   jsonb,         -- the item's errors, then its change's
    waba_id                  text,
    phone_number_id          text,
    payload                  jsonb NOT NULL,
    raw_event_id             bigint NOT NULL,
    received_at              timestamptz NOT NULL,
    PRIMARY KEY (channel, call_id, event, at)
);
CREATE INDEX call_event_at ON wabahook.call_event (at);

-- Errors a `calls` change lists at its value's level, one per error of a distinct body.
CREATE TABLE wabahook.call_error (
    channel         text NOT NULL,
    body_sha256     bytea NOT NULL,
    path            text NOT NULL,          -- of the error in the body
    code            integer,
    title           text,
    details         jsonb NOT NULL,
    event_at        timestamptz NOT NULL,   -- entry.time, else received_at
    waba_id         text,
    phone_number_id text,
    raw_event_id    bigint NOT NULL,
    received_at     timestamptz NOT NULL,
    PRIMARY KEY (channel, body_sha256, path)
);
