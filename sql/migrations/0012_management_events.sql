-- Management notifications (SPEC §5 "Operations data"): template, phone-number and
-- account events, and each template's current state. Written by the projections
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

-- Orders a template's facts: by event time, then the later raw event, then the later
-- change of that body. Fixed-width digits compare as numbers (in the "C" collation).
CREATE FUNCTION wabahook.template_fact_key(at timestamptz, raw_event_id bigint, body_position integer)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT to_char((extract(epoch FROM at) * 1000000)::bigint, 'FM0000000000000000000')
        || ':' || to_char(raw_event_id, 'FM0000000000000000000')
        || ':' || to_char(body_position, 'FM0000000000')
$$;

-- Takes the later of two (key, value) facts; NULL keys lose.
CREATE FUNCTION wabahook.later_key(a_key text, b_key text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT b_key IS NOT NULL AND (a_key IS NULL OR b_key COLLATE "C" > a_key COLLATE "C")
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

-- Each template's current state, merged commutatively from its events: every
-- attribute is the one of its latest fact (the *_key columns, template_fact_key).
CREATE TABLE wabahook.template_state (
    channel       text NOT NULL,
    waba_id       text NOT NULL,
    template_id   text NOT NULL,
    template_name text,
    language      text,
    name_key      text,
    status        text,
    status_reason text,
    status_at     timestamptz,
    status_key    text,
    quality       text,
    quality_at    timestamptz,
    quality_key   text,
    category      text,
    category_at   timestamptz,
    category_key  text,
    PRIMARY KEY (channel, waba_id, template_id)
);

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
