-- Management notifications (SPEC §5 "Operations data"): template, phone-number and
-- account events (each template's current state is the view `templates`). Written by the projections
-- processors/pipeline/projections/{templates,phone_numbers,accounts}.py.

-- Which notification an event is, whatever delivery brought it: with `entry.time`,
-- (waba_id, field, kind, subject, event, entry.time); without it, (body, position of
-- the change in the body). A digest, so that every part may be NULL or long and the
-- key still fits a btree; the JSON array keeps the parts apart (no separator to forge).
CREATE FUNCTION wabahook.management_key(
    waba_id text, field text, kind text, subject text, event text, entry_time bigint,
    body_sha256 bytea, body_position integer
) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT sha256(convert_to(CASE
        WHEN entry_time IS NOT NULL
            THEN jsonb_build_array('entry', waba_id, field, kind, subject, event, entry_time)
        ELSE jsonb_build_array('body', encode(body_sha256, 'hex'), body_position)
    END::text, 'UTF8'))
$$;

-- One row per template notification (not per delivery of it).
CREATE TABLE wabahook.template_event (
    channel            text NOT NULL,
    dedup_key          bytea NOT NULL,   -- wabahook.management_key
    waba_id            text,
    phone_number_id    text,
    field              text NOT NULL,
    template_id        text,
    template_name      text,
    language           text,
    kind               text NOT NULL,    -- status, quality, category, category_announced, components
    event              text,
    previous           text,
    reason             text,
    category           text,
    correct_category   text,
    category_update_at timestamptz,
    details            jsonb NOT NULL,   -- the change's whole value
    event_at           timestamptz NOT NULL,
    raw_event_id       bigint NOT NULL,
    received_at        timestamptz NOT NULL,
    PRIMARY KEY (channel, dedup_key)
);
CREATE INDEX template_event_template ON wabahook.template_event (channel, waba_id, template_id);
CREATE INDEX template_event_at ON wabahook.template_event (event_at);

CREATE TABLE wabahook.phone_number_event (
    channel                 text NOT NULL,
    dedup_key               bytea NOT NULL,
    waba_id                 text,
    phone_number_id         text,
    display_phone_number    text,
    field                   text NOT NULL,
    event                   text,
    old_limit               text,
    current_limit           text,
    max_daily_conversations text,
    requested_name          text,
    rejection_reason        text,
    details                 jsonb NOT NULL,
    event_at                timestamptz NOT NULL,
    raw_event_id            bigint NOT NULL,
    received_at             timestamptz NOT NULL,
    PRIMARY KEY (channel, dedup_key)
);
CREATE INDEX phone_number_event_at ON wabahook.phone_number_event (event_at);

CREATE TABLE wabahook.account_event (
    channel              text NOT NULL,
    dedup_key            bytea NOT NULL,
    waba_id              text,
    phone_number_id      text,
    field                text NOT NULL,
    event                text,
    severity             text,
    entity_type          text,
    entity_id            text,
    alert_status         text,
    display_phone_number text,
    details              jsonb NOT NULL,
    event_at             timestamptz NOT NULL,
    raw_event_id         bigint NOT NULL,
    received_at          timestamptz NOT NULL,
    PRIMARY KEY (channel, dedup_key)
);
CREATE INDEX account_event_at ON wabahook.account_event (event_at);
